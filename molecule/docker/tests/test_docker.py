"""The docker role, verified by behaviour on the test host (testinfra)."""

from __future__ import annotations

import json

import pytest

# These checks restart the engine several times within a minute: reset systemd's start counter first, or the
# docker.io unit's start limit (StartLimitBurst=3 in 60 s) refuses a restart that has nothing wrong with it.
RESTART_DOCKER = "systemctl reset-failed docker.service docker.socket; systemctl restart docker"

IMDS = "169.254.169.254"


@pytest.fixture(scope="module")
def probe_image(host):
    """A tiny image for nested containers (no registry here): Debian's static busybox, imported."""
    name = "skyhub-test/busybox:1"
    if host.run(f"docker image inspect {name}").rc != 0:
        host.run_expect([0], "DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static")
        host.run_expect(
            [0],
            "set -e; d=$(mktemp -d); cp /bin/busybox $d/busybox; "
            f"tar -C $d -c . | docker import -c 'ENTRYPOINT [\"/busybox\"]' - {name}; rm -rf $d",
        )
    return name


# A stand-in IMDS server. socketserver, not `python3 -m http.server`: that one resolves its own address
# (getfqdn) before listening, and there is no DNS inside the namespace.
IMDS_SERVER = """
import http.server, socketserver, os
os.chdir("/tmp/imds")
socketserver.TCPServer.allow_reuse_address = True
server = socketserver.TCPServer(("169.254.169.254", 80), http.server.SimpleHTTPRequestHandler)
server.serve_forever()
"""

IMDS_NETWORK = """
set -e
ip link del imds0 2>/dev/null || true
ip netns del skyhub-imds 2>/dev/null || true
ip netns add skyhub-imds
ip link add imds0 type veth peer name imds1
ip link set imds1 netns skyhub-imds
ip addr add 169.254.0.1/32 dev imds0
ip link set imds0 up
ip route add 169.254.169.254/32 dev imds0
ip netns exec skyhub-imds ip link set lo up
ip netns exec skyhub-imds ip addr add 169.254.169.254/32 dev imds1
ip netns exec skyhub-imds ip link set imds1 up
ip netns exec skyhub-imds ip route add 169.254.0.1/32 dev imds1
ip netns exec skyhub-imds ip route add default via 169.254.0.1 dev imds1
mkdir -p /tmp/imds/latest
echo meta-data-ok > /tmp/imds/latest/index.html
"""


@pytest.fixture(scope="module")
def imds_listener(host):
    """A listener at 169.254.169.254 in its own network namespace, reached through a veth pair, so that
    container traffic to it is forwarded by the host exactly as on EC2 (a dummy interface would need a
    kernel module these machines cannot load)."""
    host.run_expect([0], IMDS_NETWORK)
    host.run_expect([0], f"cat > /tmp/imds-serve.py <<'EOF'\n{IMDS_SERVER}\nEOF")
    host.run_expect(
        [0], "setsid ip netns exec skyhub-imds python3 /tmp/imds-serve.py >/tmp/imds.log 2>&1 </dev/null &"
    )
    host.run_expect(
        [0],
        f"for i in $(seq 40); do curl -sf -m 1 http://{IMDS}/latest/ && exit 0; sleep 0.5; done; exit 1",
    )
    yield IMDS
    host.run("pkill -f '[i]mds-serve.py'; ip link del imds0; ip netns del skyhub-imds")


def test_dockerd_active_and_enabled(host):
    svc = host.service("docker")
    assert svc.is_running
    assert svc.is_enabled


def test_nested_container_runs(host, probe_image):
    out = host.check_output(f"docker run --rm {probe_image} echo nested-ok")
    assert out.strip() == "nested-ok"


def test_daemon_json_has_settings(host):
    cfg = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert cfg["live-restore"] is True
    assert cfg["log-driver"] == "json-file"
    assert cfg["log-opts"] == {"max-size": "10m", "max-file": "3"}
    # and the running engine actually uses them
    assert host.check_output("docker info --format '{{.LiveRestoreEnabled}}'").strip() == "true"
    assert host.check_output("docker info --format '{{.LoggingDriver}}'").strip() == "json-file"


def _container_http_get(host, image, ip: str, port: int = 80) -> str:
    """An HTTP GET from inside a nested container, with busybox nc (busybox wget crashes without NSS)."""
    cmd = host.run(
        f"printf 'GET /latest/ HTTP/1.0\\r\\n\\r\\n' | docker run --rm -i {image} nc -w 4 {ip} {port}"
    )
    return cmd.stdout if cmd.rc == 0 else ""


def _container_reaches_imds(host, image) -> bool:
    return "meta-data-ok" in _container_http_get(host, image, IMDS)


def test_host_reaches_metadata_but_container_does_not(host, probe_image, imds_listener):
    assert "meta-data-ok" in host.check_output(f"curl -s --max-time 4 http://{IMDS}/latest/")
    assert not _container_reaches_imds(host, probe_image)


def test_without_the_rule_a_container_would_reach_metadata(host, probe_image, imds_listener):
    """The control: the block above is the rule's doing, not a network that cannot route."""
    host.run_expect([0], "/usr/local/sbin/skyhub-docker-firewall remove")
    try:
        assert _container_reaches_imds(host, probe_image)
    finally:
        host.run_expect([0], "/usr/local/sbin/skyhub-docker-firewall apply")
    assert not _container_reaches_imds(host, probe_image)
    # the same container image reaches the host otherwise: the block is specific, not a dead network
    gw = host.check_output(
        "docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}'"
    ).strip()
    host.run("pkill -f '[h]ttp.server 8099'")
    host.run_expect(
        [0], f"(cd /tmp/imds && setsid python3 -m http.server 8099 --bind {gw} >/dev/null 2>&1 &) && sleep 1"
    )
    ok = _container_http_get(host, probe_image, gw, 8099)
    host.run("pkill -f '[h]ttp.server 8099'")
    assert "meta-data-ok" in ok


def test_rule_in_docker_user_chain(host):
    assert host.check_output("iptables -S DOCKER-USER").splitlines()[1] == "-A DOCKER-USER -j SKYHUB-FORWARD"
    rules = host.check_output("iptables -S SKYHUB-FORWARD")
    assert f"-A SKYHUB-FORWARD -d {IMDS}/32 -j DROP" in rules


def test_rule_survives_docker_restart(host, probe_image, imds_listener):
    host.run_expect([0], RESTART_DOCKER)
    host.run_expect(
        [0], "for i in $(seq 30); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
    )
    assert host.run("/usr/local/sbin/skyhub-docker-firewall check").rc == 0
    assert not _container_reaches_imds(host, probe_image)


def test_rule_comes_back_when_docker_starts(host):
    """What a reboot does: the kernel rules are gone and Docker starts; the drop-in re-applies them."""
    host.run_expect([0], "/usr/local/sbin/skyhub-docker-firewall remove")
    assert host.run("/usr/local/sbin/skyhub-docker-firewall check").rc == 1
    host.run_expect([0], RESTART_DOCKER)
    assert host.run("/usr/local/sbin/skyhub-docker-firewall check").rc == 0
