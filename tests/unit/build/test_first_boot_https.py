"""HTTPS at first boot (roles/first_boot/files/skyhub-first-boot): a self-signed certificate per instance
without a domain, Let's Encrypt through TLJH's traefik with one, and traefik's config as TLJH 2.0.0 renders it
from what first boot wrote (the vendored release's own templates and merge)."""

from __future__ import annotations

import ipaddress
import json
import stat
import sys
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace

import jinja2
import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from test_first_boot import fb, first_boot_argv

from skyhub import vendor

LE = {"domains": ["hub.example.org", "www.hub.example.org"], "email": "ops@example.org"}
PEBBLE = "https://pebble.test:14000/dir"


@pytest.fixture
def inst(tmp_path):
    """A fake instance (prefix with config.yaml as the image's build left it, machine-id, cloud-init's
    instance data with EC2's public name and address) and first boot's argv for it."""
    (tmp_path / "opt/config").mkdir(parents=True)
    (tmp_path / "opt/config/config.yaml").write_text(yaml.safe_dump({"users": {"admin": ["admin"]}}))
    (tmp_path / "machine-id").write_text("aaaa\n")
    meta = {"public-hostname": "ec2-203-0-113-7.compute-1.amazonaws.com", "public-ipv4": "203.0.113.7"}
    (tmp_path / "instance-data.json").write_text(json.dumps({"ds": {"meta_data": meta}}))

    def argv(*extra: str) -> list[str]:
        return first_boot_argv(tmp_path, *extra)

    return tmp_path, argv


def _config(root: Path) -> dict:
    return yaml.safe_load((root / "opt/config/config.yaml").read_text())


def _san(cert: Path) -> tuple[list[str], list[str]]:
    ext = x509.load_pem_x509_certificate(cert.read_bytes()).extensions
    san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def test_without_a_domain_the_instance_gets_https_with_its_own_self_signed_certificate(inst):
    root, argv = inst
    assert fb.main(argv()) == 0
    https = _config(root)["https"]
    cert, key = root / "tls/instance.crt", root / "tls/instance.key"
    assert https == {"enabled": True, "tls": {"cert": str(cert), "key": str(key)}}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(cert.stat().st_mode) == 0o644
    assert b"PRIVATE KEY" in key.read_bytes() and b"PRIVATE KEY" not in cert.read_bytes()
    dns, ips = _san(cert)
    # EC2's public name and address (cloud-init's instance data), localhost; the host's own interfaces too
    assert "ec2-203-0-113-7.compute-1.amazonaws.com" in dns and "localhost" in dns
    assert "203.0.113.7" in ips and "127.0.0.1" in ips
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    assert parsed.issuer == parsed.subject  # self-signed
    assert not parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # no HSTS and no ACME settings for a certificate a browser must be told to accept
    assert not (root / "opt/config/traefik_config.d/skyhub-https.toml").exists()
    assert not (root / "opt/state/rules/skyhub-hsts.toml").exists()


def test_the_fingerprint_users_compare_is_printed(inst, capsys):
    root, argv = inst
    fb.main(argv())
    out = capsys.readouterr().out
    der = x509.load_pem_x509_certificate((root / "tls/instance.crt").read_bytes()).fingerprint(
        hashes.SHA256()
    )
    assert f"fingerprint {':'.join(f'{b:02X}' for b in der)}" in out


def test_the_certificate_is_per_instance_and_kept_across_reboots(inst, tmp_path):
    root, argv = inst
    fb.main(argv())
    first = (root / "tls/instance.crt").read_bytes()
    assert fb.main(argv()) == 0  # a reboot: first boot is a no-op
    assert fb.main(argv("--force")) == 0  # run again on the same instance: the pair is kept
    assert (root / "tls/instance.crt").read_bytes() == first
    other = tmp_path / "other"
    other.mkdir()
    assert fb.ensure_self_signed(other / "c.pem", other / "k.pem", ["localhost"])
    assert (other / "c.pem").read_bytes() != first  # another instance (a fresh image: none yet) gets its own


def test_domains_use_lets_encrypt_through_tljh_with_hsts(inst):
    root, argv = inst
    (root / "instance.yml").write_text(yaml.safe_dump({"https": LE}))
    assert fb.main(argv()) == 0
    assert _config(root)["https"] == {"enabled": True, "letsencrypt": LE}
    assert not (root / "tls").exists()  # no self-signed certificate beside a real one
    static = tomllib.loads((root / "opt/config/traefik_config.d/skyhub-https.toml").read_text())
    assert static == {"entryPoints": {"https": {"http": {"middlewares": ["skyhub-hsts@file"]}}}}
    dynamic = tomllib.loads((root / "opt/state/rules/skyhub-hsts.toml").read_text())
    assert dynamic["http"]["middlewares"]["skyhub-hsts"]["headers"] == {"stsSeconds": fb.HSTS_SECONDS}


def test_an_acme_directory_and_its_ca_for_a_test_server_or_lets_encrypt_staging(inst):
    root, argv = inst
    https = {**LE, "acme_server": PEBBLE, "acme_ca": "/etc/skyhub/pebble.minica.pem", "certificate_hours": 1}
    (root / "instance.yml").write_text(yaml.safe_dump({"https": https}))
    assert fb.main(argv()) == 0
    static = tomllib.loads((root / "opt/config/traefik_config.d/skyhub-https.toml").read_text())
    assert static["certificatesResolvers"]["letsencrypt"]["acme"] == {
        "caServer": PEBBLE,
        "caCertificates": ["/etc/skyhub/pebble.minica.pem"],
        "caSystemCertPool": True,
        "certificatesDuration": 1,
    }


def test_https_can_be_switched_off_and_back_on_by_a_new_instance(inst):
    root, argv = inst
    (root / "instance.yml").write_text(yaml.safe_dump({"https": {**LE, "acme_server": PEBBLE}}))
    fb.main(argv())
    (root / "machine-id").write_text("bbbb\n")
    (root / "instance.yml").write_text(yaml.safe_dump({"https": {"enabled": False}}))
    assert fb.main(argv()) == 0
    assert _config(root)["https"] == {"enabled": False}
    # the previous instance's HSTS and ACME settings are gone with it
    assert not (root / "opt/config/traefik_config.d/skyhub-https.toml").exists()
    assert not (root / "opt/state/rules/skyhub-hsts.toml").exists()
    (root / "machine-id").write_text("cccc\n")
    (root / "instance.yml").unlink()
    assert fb.main(argv()) == 0
    assert _config(root)["https"]["tls"]["cert"] == str(root / "tls/instance.crt")


def test_an_image_built_for_a_domain_keeps_it(tmp_path):
    """The tljh role wrote Let's Encrypt settings at build time (tljh_https_domains) and the instance has no
    https settings of its own: those stay (no self-signed certificate replaces them)."""
    current = {"enabled": True, "letsencrypt": {"email": "ops@example.org", "domains": ["hub.example.org"]}}
    assert fb.https_settings(current, None, tmp_path) == current
    assert fb.https_settings({"enabled": False, "port": 8443}, None, tmp_path) == {
        "port": 8443,
        "enabled": True,
        "tls": {"cert": str(tmp_path / "instance.crt"), "key": str(tmp_path / "instance.key")},
    }


@pytest.mark.parametrize(
    ("https", "needle"),
    [
        ("yes", "must be a mapping"),
        ({"domain": ["h.org"]}, r"unknown https settings \['domain'\]"),
        ({"enabled": "no"}, "https.enabled` must be true or false"),
        ({"domains": ["h.org"]}, "https.email"),
        ({"domains": ["h.org"], "email": "ops"}, "https.email"),
        ({"domains": ["203.0.113.7"], "email": "a@b.org"}, "DNS names"),
        ({"domains": ["bad name.org"], "email": "a@b.org"}, "DNS names"),
        ({**LE, "acme_server": "http://pebble:14000/dir"}, "acme_server"),
        ({**LE, "acme_ca": "pebble.pem"}, "acme_ca"),
        ({"acme_server": PEBBLE}, "need https.domains"),
        ({**LE, "certificate_hours": 0}, "certificate_hours"),
        ({**LE, "certificate_hours": "90d"}, "certificate_hours"),
        ({"certificate_hours": 2160}, "need https.domains"),
    ],
)
def test_bad_https_settings_are_named_and_change_nothing(inst, https, needle):
    root, argv = inst
    before = (root / "opt/config/config.yaml").read_text()
    with pytest.raises(fb.SettingsError, match=needle):
        fb.apply_https(root / "opt", https, root / "tls", root / "instance-data.json")
    (root / "instance.yml").write_text(yaml.safe_dump({"https": https}))
    assert fb.main(argv()) == 2
    assert (root / "opt/config/config.yaml").read_text() == before
    assert not (root / "tls").exists()


def test_names_are_filtered_to_valid_san_entries(tmp_path):
    data = tmp_path / "instance-data.json"
    data.write_text(
        json.dumps({"ds": {"meta_data": {"public-ipv4": "203.0.113.9", "public-hostname": "-bad-"}}})
    )
    names = fb.instance_names(data)
    assert "203.0.113.9" in names and "-bad-" not in names and names.count("localhost") == 1
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            assert fb.HOSTNAME_RE.match(name), name
    assert fb.instance_names(tmp_path / "missing.json")  # no cloud-init: the host's own names


# ---------------------------------------------------------------- TLJH 2.0.0's own rendering
@pytest.fixture
def tljh(tmp_path, monkeypatch):
    """TLJH 2.0.0's package from the vendored release (configurer, schema, traefik templates), its install
    prefix in tmp_path. tljh.traefik itself needs `toml` and `backoff`, which the controller does not have:
    the test renders its two templates and merges the drop-ins exactly as ensure_traefik_config does."""
    src = tmp_path / "src"
    with tarfile.open(vendor.vendor_path("tljh-archive")) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("the_littlest_jupyterhub-2.0.0/tljh/")]
        tar.extractall(src, members=members, filter="data")
    pkg = src / "the_littlest_jupyterhub-2.0.0"
    monkeypatch.setenv("TLJH_INSTALL_PREFIX", str(tmp_path / "opt"))
    monkeypatch.syspath_prepend(str(pkg))
    for name in [n for n in sys.modules if n == "tljh" or n.startswith("tljh.")]:
        monkeypatch.delitem(sys.modules, name)
    from tljh import config_schema, configurer

    def render(prefix: Path) -> SimpleNamespace:
        config = configurer.load_config(str(prefix / "config" / "config.yaml"))
        written = yaml.safe_load((prefix / "config" / "config.yaml").read_text())
        jsonschema.validate(json.loads(json.dumps(written)), config_schema.config_schema)
        config["traefik_dynamic_config_dir"] = str(prefix / "state" / "rules")
        static = tomllib.loads(jinja2.Template((pkg / "tljh/traefik.toml.tpl").read_text()).render(config))
        for extra in sorted((prefix / "config" / "traefik_config.d").glob("*.toml")):
            static = configurer._merge_dictionaries(static, tomllib.loads(extra.read_text()))
        dynamic = tomllib.loads(
            jinja2.Template((pkg / "tljh/traefik-dynamic.toml.tpl").read_text()).render(config)
        )
        return SimpleNamespace(static=static, dynamic=dynamic)

    yield render
    for name in [n for n in sys.modules if n == "tljh" or n.startswith("tljh.")]:
        del sys.modules[name]


def test_tljh_renders_the_self_signed_instance_with_https_and_the_http_redirect(inst, tljh):
    root, argv = inst
    (root / "opt/state").mkdir(parents=True)
    fb.main(argv())
    out = tljh(root / "opt")
    entry = out.static["entryPoints"]
    assert entry["http"]["http"]["redirections"]["entryPoint"] == {"to": "https", "scheme": "https"}
    assert entry["https"]["address"] == ":443"
    assert "middlewares" not in entry["https"]["http"]  # no HSTS
    assert "certificatesResolvers" not in out.static
    default = out.dynamic["tls"]["stores"]["default"]["defaultCertificate"]
    assert default == {"certFile": str(root / "tls/instance.crt"), "keyFile": str(root / "tls/instance.key")}


def test_tljh_renders_lets_encrypt_with_the_acme_server_and_hsts(inst, tljh):
    root, argv = inst
    (root / "instance.yml").write_text(yaml.safe_dump({"https": {**LE, "acme_server": PEBBLE}}))
    fb.main(argv())
    out = tljh(root / "opt")
    acme = out.static["certificatesResolvers"]["letsencrypt"]["acme"]
    # TLJH's resolver (email, storage, TLS-ALPN challenge) with skyhub's directory merged in
    assert acme["email"] == "ops@example.org" and acme["storage"] == "acme.json" and "tlsChallenge" in acme
    assert acme["caServer"] == PEBBLE
    https = out.static["entryPoints"]["https"]["http"]
    assert https["middlewares"] == ["skyhub-hsts@file"] and https["tls"] == {"options": "default"}
    generated = out.dynamic["tls"]["stores"]["default"]["defaultGeneratedCert"]
    assert generated["resolver"] == "letsencrypt"
    assert generated["domain"] == {"main": "hub.example.org", "sans": ["www.hub.example.org"]}
    assert "defaultCertificate" not in out.dynamic["tls"]["stores"]["default"]


def test_control_without_first_boot_tljh_serves_plain_http(tmp_path, tljh):
    """The image's config.yaml alone (what an instance served before first boot set https): no https entry
    point, no redirect. The checks above would fail on it."""
    (tmp_path / "opt/config").mkdir(parents=True)
    (tmp_path / "opt/config/config.yaml").write_text(yaml.safe_dump({"users": {"admin": ["admin"]}}))
    out = tljh(tmp_path / "opt")
    assert "https" not in out.static["entryPoints"]
    assert "redirections" not in json.dumps(out.static)
