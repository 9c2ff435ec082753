"""The docker role, verified by behaviour on the test host (testinfra)."""

from __future__ import annotations

import json

import pytest

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


@pytest.fixture(scope="module")
def imds_listener(host):
    """A listener at the metadata address on a dummy interface, standing in for IMDS."""
    host.run("ip link add skyhub-imds type dummy 2>/dev/null; ip addr add 169.254.169.254/32 dev skyhub-imds")
    host.run_expect([0], "ip link set skyhub-imds up")
    host.run_expect(
        [0],
        "mkdir -p /tmp/imds/latest && echo meta-data-ok > /tmp/imds/latest/index.html && "
        f"(cd /tmp/imds && setsid python3 -m http.server 80 --bind {IMDS} >/dev/null 2>&1 &) && sleep 1",
    )
    yield IMDS
    host.run("pkill -f 'http.server 80' ; ip link del skyhub-imds")


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


def _container_reaches_imds(host, image) -> bool:
    cmd = host.run(f"docker run --rm {image} wget -q -T 4 -O - http://{IMDS}/latest/")
    return cmd.rc == 0 and "meta-data-ok" in cmd.stdout


def test_host_reaches_metadata_but_container_does_not(host, probe_image, imds_listener):
    assert "meta-data-ok" in host.check_output(f"curl -s --max-time 4 http://{IMDS}/latest/")
    assert not _container_reaches_imds(host, probe_image)
    # the same container image reaches the host otherwise: the block is specific, not a dead network
    gw = host.check_output("docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}'").strip()
    host.run("pkill -f 'http.server 8099'")
    host.run_expect(
        [0], f"(cd /tmp/imds && setsid python3 -m http.server 8099 --bind {gw} >/dev/null 2>&1 &) && sleep 1"
    )
    ok = host.run(f"docker run --rm {probe_image} wget -q -T 4 -O - http://{gw}:8099/latest/")
    host.run("pkill -f 'http.server 8099'")
    assert "meta-data-ok" in ok.stdout


def test_rule_in_docker_user_chain(host):
    rules = host.check_output("iptables -S DOCKER-USER")
    assert f"-d {IMDS}/32" in rules and "skyhub-imds" in rules and "-j DROP" in rules


def test_rule_survives_docker_restart(host, probe_image, imds_listener):
    host.run_expect([0], "systemctl restart docker")
    host.run_expect([0], "for i in $(seq 30); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")
    assert host.run("/usr/local/sbin/skyhub-metadata-firewall check").rc == 0
    assert not _container_reaches_imds(host, probe_image)


def test_rule_comes_back_when_docker_starts(host):
    """What a reboot does: the kernel rules are gone and Docker starts; the drop-in re-applies them."""
    host.run_expect([0], "/usr/local/sbin/skyhub-metadata-firewall remove")
    assert host.run("/usr/local/sbin/skyhub-metadata-firewall check").rc == 1
    host.run_expect([0], "systemctl restart docker")
    assert host.run("/usr/local/sbin/skyhub-metadata-firewall check").rc == 0
