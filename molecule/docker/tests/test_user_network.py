"""The user network's firewall (skyhub-docker-firewall), verified by behaviour on the test host (testinfra).

The tljh role makes the user network; here the test makes it the same way (bridge br-skyhub, 172.29.0.0/24,
ICC off), runs host listeners on every address and probes them from containers on that network and, as the
control, from a container on Docker's default bridge, which the rules leave alone."""

from __future__ import annotations

import pytest
from test_docker import RESTART_DOCKER  # the engine restart that the unit's start limit does not refuse

FW = "/usr/local/sbin/skyhub-docker-firewall"
NET, BRIDGE, GATEWAY, HUB_PORT = "skyhub", "br-skyhub", "172.29.0.1", 15001
# host ports the listener serves on every address (0.0.0.0): the hub port, traefik's API, the S3 twin, ssh
PORTS = (HUB_PORT, 8099, 9000, 22)

# Answers every connection on every port given with "probe-ok" (one process, bounded by its own lifetime).
LISTENER = """
import selectors, socket, sys, time
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ)
end = time.monotonic() + 900
while time.monotonic() < end:
    for key, _ in sel.select(timeout=1):
        conn, _ = key.fileobj.accept()
        try:
            conn.sendall(b"probe-ok\\n")
        finally:
            conn.close()
"""


@pytest.fixture(scope="module")
def probe_image(host):
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
def user_network(host):
    """The user network as the tljh role makes it."""
    if host.run(f"docker network inspect {NET}").rc != 0:
        host.run_expect(
            [0],
            f"docker network create --driver bridge --subnet 172.29.0.0/24 --gateway {GATEWAY} "
            f"-o com.docker.network.bridge.enable_icc=false -o com.docker.network.bridge.name={BRIDGE} {NET}",
        )
    return NET


@pytest.fixture(scope="module")
def listener(host, user_network):
    host.run_expect([0], f"cat > /tmp/probe-listener.py <<'EOF'\n{LISTENER}\nEOF")
    ports = " ".join(map(str, PORTS))
    host.run_expect(
        [0],
        f"setsid python3 /tmp/probe-listener.py {ports} >/tmp/probe-listener.log 2>&1 </dev/null & "
        "echo $! > /tmp/probe-listener.pid",
    )
    ready = f"import socket; socket.create_connection(('127.0.0.1', {HUB_PORT}), 1)"
    host.run_expect(
        [0], f'for i in $(seq 40); do python3 -c "{ready}" 2>/dev/null && exit 0; sleep 0.25; done; exit 1'
    )
    yield
    host.run("kill $(cat /tmp/probe-listener.pid)")


def host_addresses(host) -> dict[str, str]:
    eth0 = host.check_output("ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    docker0 = host.check_output("ip -4 -o addr show dev docker0").split()[3].split("/")[0]
    return {"gateway": GATEWAY, "eth0": eth0, "docker0": docker0}


def probe(host, image, network: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """From one container on `network`, open a TCP connection to each target; what each answered."""
    script = "\n".join(
        f'echo "{ip}:{port}=$(/busybox nc -w 3 {ip} {port} </dev/null 2>&1 | /busybox head -n 1)"'
        for ip, port in targets
    )
    out = host.check_output(
        f"docker run --rm -i --network {network} --entrypoint /busybox {image} sh <<'EOF'\n{script}\nEOF"
    )
    result = {}
    for line in out.splitlines():
        where, _, answer = line.partition("=")
        ip, _, port = where.rpartition(":")
        result[(ip, int(port))] = answer
    return result


def test_user_servers_reach_only_the_hub_port_on_the_gateway(host, probe_image, listener):
    addrs = host_addresses(host)
    targets = [(ip, port) for ip in addrs.values() for port in PORTS]
    seen = probe(host, probe_image, NET, targets)
    reached = sorted(t for t, answer in seen.items() if "probe-ok" in answer)
    assert reached == [(GATEWAY, HUB_PORT)], seen
    # refused by the firewall (admin-prohibited: "No route to host"), not a port that happens to be closed
    assert all("No route to host" in seen[t] for t in targets if t != (GATEWAY, HUB_PORT)), seen


def test_control_the_same_ports_answer_from_the_default_bridge(host, probe_image, listener):
    """The control: every probed port is open, so the block above is the rules' doing."""
    addrs = host_addresses(host)
    targets = [(ip, port) for ip in addrs.values() for port in PORTS]
    seen = probe(host, probe_image, "bridge", targets)
    assert all("probe-ok" in answer for answer in seen.values()), seen


def test_other_servers_on_the_user_network_are_unreachable(host, probe_image, user_network):
    """ICC off plus skyhub's own rule: a server on the network cannot open another's port."""
    name = "skyhub-test-victim"
    host.run(f"docker rm -f {name}")
    host.run_expect(
        [0],
        f"docker run -d --name {name} --network {NET} --entrypoint /busybox {probe_image} "
        "sh -c '/busybox mkdir -p /w && echo probe-ok > /w/index.html && /busybox httpd -f -p 8888 -h /w'",
    )
    try:
        ip = host.check_output(
            f"docker inspect -f '{{{{(index .NetworkSettings.Networks \"{NET}\").IPAddress}}}}' {name}"
        ).strip()
        # control: the server answers (the hub reaches it this way)
        host.run_expect(
            [0], f"for i in $(seq 20); do curl -sf -m 2 http://{ip}:8888/ && exit 0; sleep 0.5; done; exit 1"
        )
        # the connection never opens (dropped: a connect timeout), with skyhub's rules and with Docker's
        # ICC=false alone (skyhub's same-bridge rule is the second line)
        assert probe(host, probe_image, NET, [(ip, 8888)])[(ip, 8888)] == "nc: timed out"
        host.run_expect([0], f"{FW} remove")
        try:
            assert probe(host, probe_image, NET, [(ip, 8888)])[(ip, 8888)] == "nc: timed out"
        finally:
            host.run_expect([0], f"{FW} apply")
    finally:
        host.run(f"docker rm -f {name}")


def test_ports_docker_publishes_on_the_host_are_unreachable(host, probe_image, user_network):
    """A port another container publishes on the host (DNAT) is a host port too."""
    name = "skyhub-test-published"
    host.run(f"docker rm -f {name}")
    host.run_expect(
        [0],
        f"docker run -d --name {name} -p 18080:8888 --entrypoint /busybox {probe_image} "
        "sh -c '/busybox mkdir -p /w && echo probe-ok > /w/index.html && /busybox httpd -f -p 8888 -h /w'",
    )
    try:
        eth0 = host_addresses(host)["eth0"]
        host.run_expect(
            [0],
            f"for i in $(seq 20); do curl -sf -m 2 http://{eth0}:18080/ && exit 0; sleep 0.5; done; exit 1",
        )
        seen = probe(host, probe_image, NET, [(eth0, 18080), (GATEWAY, 18080)])
        assert not any("probe-ok" in a for a in seen.values()), seen
        # control: reachable from the default bridge
        http = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /busybox nc -w 3 {eth0} 18080"
        ok = host.run(f'docker run --rm --entrypoint /busybox {probe_image} sh -c "{http}"')
        assert "probe-ok" in ok.stdout, ok.stdout + ok.stderr
    finally:
        host.run(f"docker rm -f {name}")


def test_control_without_the_rules_user_servers_would_reach_host_ports(host, probe_image, listener):
    """The control for the rules: without them the same probe reaches the ssh and traefik API ports."""
    addrs = host_addresses(host)
    host.run_expect([0], f"{FW} remove")
    try:
        seen = probe(host, probe_image, NET, [(addrs["eth0"], 22), (GATEWAY, 8099)])
    finally:
        host.run_expect([0], f"{FW} apply")
    assert all("probe-ok" in a for a in seen.values()), seen
    assert host.run(f"{FW} check").rc == 0


def test_rules_come_back_after_docker_restarts(host, probe_image, listener):
    host.run_expect([0], f"{FW} remove")
    assert host.run(f"{FW} check").rc == 1
    host.run_expect([0], RESTART_DOCKER)
    host.run_expect(
        [0], "for i in $(seq 30); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
    )
    assert host.run(f"{FW} check").rc == 0
    assert host.check_output("iptables -S INPUT").splitlines()[1] == "-A INPUT -j SKYHUB-INPUT"
    seen = probe(host, probe_image, NET, [(GATEWAY, HUB_PORT), (GATEWAY, 8099)])
    assert "probe-ok" in seen[(GATEWAY, HUB_PORT)] and "probe-ok" not in seen[(GATEWAY, 8099)], seen


def test_check_and_apply_fail_loudly_without_the_docker_user_jump(host):
    """What an nftables backend or another firewall rewriting FORWARD looks like: no jump to DOCKER-USER."""
    assert host.run(f"{FW} check").rc == 0
    host.run_expect([0], "iptables -D FORWARD -j DOCKER-USER")
    try:
        check = host.run(f"{FW} check")
        apply = host.run(f"{FW} apply")
    finally:
        # Docker puts its jump back first when it starts; the drop-in then applies the rules again
        host.run_expect([0], RESTART_DOCKER)
    assert check.rc == 2 and apply.rc == 2
    for result in (check, apply):
        assert "FORWARD does not start with Docker's jump to DOCKER-USER" in result.stderr
        assert "NOT PROTECTED" in result.stderr
    assert host.run(f"{FW} check").rc == 0


def test_ipv6_from_the_user_bridge_is_dropped(host):
    rules = host.check_output("ip6tables -S SKYHUB-INPUT")
    assert f"-A SKYHUB-INPUT -i {BRIDGE} -j DROP" in rules
    assert f"-A SKYHUB-FORWARD -i {BRIDGE} -j DROP" in host.check_output("ip6tables -S SKYHUB-FORWARD")


# CAP_SYS_RESOURCE (bit 24): needed to lower a process's oom_score_adj. The Molecule test host lacks it (see
# docs/testing.md): there systemd and dockerd cannot apply a negative score and leave 0. A real host has it.
CAP_SYS_RESOURCE = 1 << 24


@pytest.mark.parametrize("unit", ["docker", "containerd"])
def test_engine_runs_with_a_low_oom_score(host, unit):
    assert host.check_output(f"systemctl show -p OOMScoreAdjust --value {unit}").strip() == "-500"
    pid = host.check_output(f"systemctl show -p MainPID --value {unit}").strip()
    actual = int(host.file(f"/proc/{pid}/oom_score_adj").content_string)
    bounding = int(host.check_output("awk '/^CapBnd/ {print $2}' /proc/1/status"), 16)
    assert actual == (-500 if bounding & CAP_SYS_RESOURCE else 0)
