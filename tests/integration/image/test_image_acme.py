"""The Let's Encrypt path for real on a booted instance of the image: Debian's `pebble` (Let's Encrypt's test
ACME server) next to the instance, `pebble-challtestsrv` answering DNS for the instance's domain, and the
instance started with `https: {domains, email, acme_server, acme_ca}` settings (docs/first-boot.md).

Pebble validates the TLS-ALPN-01 challenge (TLJH's traefik config) against the instance's port 443, issues the
certificate, and traefik serves it, keeps it in its ACME store (acme.json), sends HSTS, redirects HTTP to
HTTPS, and renews the certificate before it runs out (pebble issues 25-minute certificates here and the
instance says so with https.certificate_hours)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from types import SimpleNamespace

import pytest
from image_helpers import LABEL, docker, in_instance

pytestmark = pytest.mark.integration

# A network of its own, so the instance has a known address before it boots: pebble's DNS answers with it.
SUBNET, GATEWAY, INSTANCE_IP = "172.30.213.0/24", "172.30.213.1", "172.30.213.10"
DOMAIN, EMAIL = "hub.skyhub.test", "ops@skyhub.test"
PEBBLE_PORT, PEBBLE_MGMT, DNS_PORT, DNS_MGMT = 14213, 15213, 18053, 18055
CA_ON_INSTANCE = "/etc/skyhub/acme-ca.pem"


def _wait(what: str, probe, timeout: float):
    t0, last = time.monotonic(), None
    while time.monotonic() - t0 < timeout:
        try:
            out = probe()
        except (OSError, ssl.SSLError, ValueError) as exc:
            last, out = exc, None
        if out:
            return out
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout} s (last error: {last})")


@pytest.fixture(scope="module")
def acme_network():
    # an earlier run stopped before its teardown leaves its network on the subnet: remove what it left
    # (the label marks it as this tier's; no other network is touched)
    stale = docker("network", "ls", "-q", "--filter", f"label={LABEL}", "--filter", "name=skyhub-image-acme-")
    for old in stale.split():
        docker("network", "rm", old, check=False)
    name = f"skyhub-image-acme-{uuid.uuid4().hex[:6]}"
    docker("network", "create", "--label", LABEL, "--subnet", SUBNET, "--gateway", GATEWAY, name)
    yield name
    docker("network", "rm", name, check=False)


@pytest.fixture(scope="module")
def pebble(acme_network, tmp_path_factory):
    """pebble on the network's gateway (the instance reaches it there), its DNS from pebble-challtestsrv
    answering every name with the instance's address; pebble validates challenges on the instance's
    port 443."""
    for tool in ("pebble", "pebble-challtestsrv"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is missing: run `.venv/bin/skyhub host-deps image` (Debian's pebble package)"
            )
    d = tmp_path_factory.mktemp("pebble")
    # Debian's package ships no certificate for pebble's own HTTPS listener: one made here, which the
    # instance is told to trust for the ACME directory (https.acme_ca)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=pebble", "-addext", f"subjectAltName=IP:{GATEWAY},IP:127.0.0.1",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(d / "cert.pem", 0o644)
    config = {
        "pebble": {
            "listenAddress": f"{GATEWAY}:{PEBBLE_PORT}",
            "managementListenAddress": f"127.0.0.1:{PEBBLE_MGMT}",
            "certificate": str(d / "cert.pem"),
            "privateKey": str(d / "key.pem"),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            # 25-minute certificates: with https.certificate_hours 1 traefik renews when 20 minutes are left,
            # so the test sees a renewal about 5 minutes after the first certificate
            "certificateValidityPeriod": 1500,
        }
    }
    (d / "pebble.json").write_text(json.dumps(config))
    logs = {n: open(d / f"{n}.log", "w") for n in ("dns", "pebble")}  # noqa: SIM115  # closed below
    dns = subprocess.Popen(
        ["pebble-challtestsrv", "-defaultIPv4", INSTANCE_IP, "-defaultIPv6", "",
         "-dns01", f"127.0.0.1:{DNS_PORT}", "-http01", "", "-https01", "", "-tlsalpn01", "",
         "-management", f"127.0.0.1:{DNS_MGMT}"],
        stdout=logs["dns"], stderr=subprocess.STDOUT,
    )  # fmt: skip
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    server = subprocess.Popen(
        ["pebble", "-config", str(d / "pebble.json"), "-dnsserver", f"127.0.0.1:{DNS_PORT}"],
        stdout=logs["pebble"], stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    trust = ssl.create_default_context(cafile=str(d / "cert.pem"))
    directory = f"https://{GATEWAY}:{PEBBLE_PORT}/dir"
    try:
        _wait(
            "pebble's directory",
            lambda: urllib.request.urlopen(directory, context=trust, timeout=5).read(),
            30,
        )

        def root() -> str:
            url = f"https://127.0.0.1:{PEBBLE_MGMT}/roots/0"
            return urllib.request.urlopen(url, context=trust, timeout=10).read().decode()

        yield SimpleNamespace(directory=directory, cert=d / "cert.pem", root=root, log=d / "pebble.log")
    finally:
        for proc in (server, dns):
            proc.terminate()
            proc.wait(timeout=30)
        for fh in logs.values():
            fh.close()


@pytest.fixture(scope="module")
def acme_instance(instances, pebble, acme_network, tmp_path_factory):
    d = tmp_path_factory.mktemp("acme-instance")
    settings = {"https": {"domains": [DOMAIN], "email": EMAIL, "acme_server": pebble.directory,
                          "acme_ca": CA_ON_INSTANCE, "certificate_hours": 1}}  # fmt: skip
    (d / "settings.json").write_text(json.dumps(settings))
    return instances(
        "acme", "--network", acme_network, "--ip", INSTANCE_IP,
        "-v", f"{d / 'settings.json'}:/etc/skyhub/instance-settings.json:ro",
        "-v", f"{pebble.cert}:{CA_ON_INSTANCE}:ro",
    )  # fmt: skip


def _served(ctx: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection((INSTANCE_IP, 443), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def _https_get(ctx: ssl.SSLContext, path: str) -> tuple[int, dict[str, str]]:
    with (
        socket.create_connection((INSTANCE_IP, 443), timeout=30) as raw,
        ctx.wrap_socket(raw, server_hostname=DOMAIN) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data and (chunk := tls.recv(4096)):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    return int(head[0].split()[1]), headers


def test_pebble_issues_the_certificate_traefik_serves_stores_and_renews(acme_instance, pebble, tmp_path):
    root = tmp_path / "pebble-root.pem"
    root.write_text(pebble.root())
    trusting_pebble = ssl.create_default_context(cafile=str(root))
    try:
        served = _wait("a certificate from pebble for " + DOMAIN, lambda: _served(trusting_pebble), 300)
    except AssertionError:
        print(in_instance(acme_instance, "journalctl -u traefik --no-pager -n 60 -o cat", check=False))
        print(pebble.log.read_text()[-3000:])
        raise
    # verified above against pebble's root for the name; issued by pebble's intermediate
    pem = ssl.DER_cert_to_PEM_cert(served)
    issuer = subprocess.run(
        ["openssl", "x509", "-noout", "-issuer"], input=pem, capture_output=True, text=True
    )
    assert "Pebble Intermediate CA" in issuer.stdout, issuer.stdout
    # control: the instance's certificate is not trusted without pebble's root
    with pytest.raises(ssl.SSLCertVerificationError):
        _served(ssl.create_default_context(cafile=str(pebble.cert)))

    # traefik's ACME store: the account at pebble and the certificate it serves, which traefik renews from
    # (read together, retried: a renewal may land between the two reads)
    def store_serves() -> dict | None:
        store = json.loads(in_instance(acme_instance, "cat /opt/tljh/state/acme.json"))["letsencrypt"]
        [entry] = [c for c in store["Certificates"] if c["domain"]["main"] == DOMAIN]
        leaf = base64.b64decode(entry["certificate"]).decode().split("-----END CERTIFICATE-----")[0]
        return (
            store
            if ssl.PEM_cert_to_DER_cert(leaf + "-----END CERTIFICATE-----\n") == _served(trusting_pebble)
            else None
        )

    store = _wait("traefik's ACME store holds the certificate it serves", store_serves, 60)
    assert store["Account"]["Registration"]["uri"].startswith(pebble.directory.rsplit("/", 1)[0])
    assert store["Account"]["Email"] == EMAIL
    assert in_instance(acme_instance, "stat -c '%a' /opt/tljh/state/acme.json").strip() == "600"
    # no self-signed certificate on an instance with a domain
    assert in_instance(acme_instance, "ls /etc/skyhub/tls 2>/dev/null || true").strip() == ""

    # the hub through the real certificate, with HSTS
    def hub_answers() -> dict[str, str] | None:
        status, headers = _https_get(trusting_pebble, "/hub/api")
        return headers if status == 200 else None

    headers = _wait("the hub over https://" + DOMAIN, hub_answers, 600)
    assert headers.get("strict-transport-security") == "max-age=31536000", headers

    # HTTP: a permanent redirect to https, for the ACME instance too
    req = urllib.request.Request(f"http://{INSTANCE_IP}/hub/api", headers={"Host": DOMAIN})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(NoRedirect).open(req, timeout=30)
    assert redirect.value.code in (301, 308)
    assert redirect.value.headers["Location"] in (
        f"https://{DOMAIN}/hub/api",
        f"https://{DOMAIN}:443/hub/api",
    )

    # renewal: traefik replaces the certificate from pebble before it runs out, serves and stores the new one
    def renewed() -> bytes | None:
        now = _served(trusting_pebble)
        return now if now != served else None

    _wait("traefik renewing the certificate from pebble", renewed, 600)
    _wait("traefik's ACME store holds the renewed certificate", store_serves, 60)
