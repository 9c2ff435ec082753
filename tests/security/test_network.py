"""Attacks on the network from a signed-in user's server (docs/security-network.md).

Each attack runs as a real user through the hub: sign in, start a server, run Python in the server's kernel.
Each has a control that shows the check would catch the failure: the same connection made by the host
succeeds (the port is really listening), and with skyhub's rules taken out the user's connection succeeds
(so "blocked" is the rules' doing, not a port that is closed or a network that cannot route).

Target: the Molecule appliance host or a booted image (`--hosts=docker://NAME`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "appliance"))
from hub import run_code

pytestmark = pytest.mark.security
FW = "/usr/local/sbin/skyhub-docker-firewall"
GATEWAY, HUB_PORT = "172.29.0.1", 15001
IMDS = "169.254.169.254"
# an address off the host (TEST-NET-2, only inside the test host) standing for the internet
OUTSIDE = "198.51.100.7"
# sshd, traefik's entrypoints and API, the S3 twin, node exporter, Prometheus, the hub API
PORTS = (22, 80, 443, 8099, 9000, 9100, 9090, HUB_PORT)

# Runs in the user's kernel: a TCP connect to each target; "open" or the errno's name.
CONNECT = """
import errno, json, socket
def connect(ip, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((ip, port) if family == socket.AF_INET else (ip, port, 0, 0))
        return "open"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()
print(json.dumps([[ip, port, connect(ip, port)] for ip, port in TARGETS]))
"""

# "Filtered" from the container: the firewall's reject (EHOSTUNREACH) or a drop (timeout). A closed port
# would say ECONNREFUSED, which the attack tests do not accept as proof of the firewall.
FILTERED = {"EHOSTUNREACH", "timeout"}


def connect_from_server(user, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    out = run_code(user, f"TARGETS = {json.dumps(targets)}\n{CONNECT}", timeout=60 + 4 * len(targets))
    return {(ip, port): result for ip, port, result in json.loads(out.strip().splitlines()[-1])}


def connect_from_host(host, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    code = f"TARGETS = {json.dumps(targets)}\n{CONNECT}"
    out = host.check_output(f"python3 - <<'EOF'\n{code}\nEOF")
    return {(ip, port): result for ip, port, result in json.loads(out.strip().splitlines()[-1])}


def address(host, dev: str) -> str:
    return host.check_output(f"ip -4 -o addr show dev {dev}").split()[3].split("/")[0]


@pytest.fixture(scope="module")
def attacker(new_user):
    user = new_user("netatk")
    user.start()
    return user


@pytest.fixture(scope="module")
def host_addrs(host) -> dict[str, str]:
    return {"gateway": GATEWAY, "eth0": address(host, "eth0"), "docker0": address(host, "docker0")}


@pytest.fixture
def rules_removed(host):
    """Take skyhub's rules out for a control, and always put them back (checked)."""

    def remove():
        host.run_expect([0], f"{FW} remove")

    yield remove
    host.run_expect([0], f"{FW} apply")
    host.run_expect([0], f"{FW} check")


def test_the_rules_are_in_place(host):
    assert host.run(f"{FW} check").rc == 0


def test_host_scan_only_the_hub_api_answers(host, attacker, host_addrs):
    targets = [(ip, port) for ip in host_addrs.values() for port in PORTS]
    seen = connect_from_server(attacker, targets)
    assert [t for t, r in seen.items() if r == "open"] == [(GATEWAY, HUB_PORT)], seen
    assert all(seen[t] in FILTERED for t in targets if t != (GATEWAY, HUB_PORT)), seen


def test_control_host_ports_are_listening(host, host_addrs):
    """The scan above is meaningful: from the host these ports answer (traefik on every address, the hub
    on the gateway), so from the user's server they were filtered, not absent."""
    eth0 = host_addrs["eth0"]
    seen = connect_from_host(host, [(eth0, 80), (GATEWAY, 80), (GATEWAY, HUB_PORT), ("127.0.0.1", 9000)])
    assert all(r == "open" for r in seen.values()), seen


def test_control_without_the_rules_the_server_reaches_host_ports(host, attacker, host_addrs, rules_removed):
    rules_removed()
    seen = connect_from_server(attacker, [(host_addrs["eth0"], 80), (GATEWAY, 80)])
    assert all(r == "open" for r in seen.values()), seen


def test_loopback_tricks_need_capabilities_the_server_lacks(attacker):
    """Reaching the host's 127.0.0.1 (the S3 twin) from a container needs packets with a loopback
    destination sent out eth0 (route_localnet): a route (CAP_NET_ADMIN) or a raw socket (CAP_NET_RAW)."""
    out = run_code(
        attacker,
        "import socket\n"
        "try:\n"
        "    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP); print('raw-ok')\n"
        "except PermissionError:\n"
        "    print('raw-denied')\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n",
    )
    lines = out.split()
    assert lines[0] == "raw-denied", out
    # no CAP_NET_ADMIN (routes) nor anything else: the effective capability set is empty
    assert int(lines[1], 16) == 0, f"the user's kernel has capabilities: {out}"


def test_loopback_tricks_control_root_on_the_host_can(host):
    """The capability check above can fail: root on the host opens the same raw socket."""
    code = (
        "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP); print('raw-ok')"
    )
    out = host.check_output(f'python3 -c "{code}"')
    assert out.strip() == "raw-ok"


def test_ipv6_link_local_to_the_host_is_dropped(host, attacker):
    """The user network has no IPv6, but kernels give interfaces link-local addresses: a listener on [::]
    (sshd's default) would answer on the bridge's fe80:: address unless ip6tables drops it."""
    assert "-A SKYHUB-INPUT -i br-skyhub -j DROP" in host.check_output("ip6tables -S SKYHUB-INPUT")
    # /proc/net/if_inet6: address, index, prefix length, scope (20: link), flags, interface
    v6 = run_code(
        attacker,
        "import os; p = '/proc/net/if_inet6'; print(open(p).read() if os.path.exists(p) else '')",
    )
    bridge = host.run("ip -6 -o addr show dev br-skyhub scope link").stdout.split()
    if (
        not any(line.split()[3:4] == ["20"] and line.split()[-1] == "eth0" for line in v6.splitlines())
        or not bridge
    ):
        pytest.skip(
            "IPv6 is off on this host (no link-local address on the server or the bridge): no IPv6 path"
        )
    lladdr = bridge[3].split("/")[0]
    seen = run_code(
        attacker,
        "import socket\n"
        "s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(3)\n"
        "idx = socket.if_nametoindex('eth0')\n"
        f"try:\n    s.connect(('{lladdr}', {HUB_PORT}, 0, idx)); print('open')\n"
        "except OSError as e:\n    print(type(e).__name__)\n",
    ).strip()
    assert seen != "open", seen


def test_another_users_server_is_unreachable(host, attacker, new_user):
    victim = new_user("netvic")
    victim.start()
    ip = host.check_output(
        "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "
        f"jupyter-{victim.name}"
    ).strip()
    # control: the victim's server listens there (the hub and traefik reach it this way)
    assert connect_from_host(host, [(ip, 8888)])[(ip, 8888)] == "open"
    seen = connect_from_server(attacker, [(ip, 8888)])
    assert seen[(ip, 8888)] in FILTERED, seen
    # and the victim is unharmed
    assert victim.server("GET", "api/status").status_code == 200


IMDS_NETWORK = """
set -e
ip link del skyimds0 2>/dev/null || true
ip netns del skyhub-sec-imds 2>/dev/null || true
ip netns add skyhub-sec-imds
ip link add skyimds0 type veth peer name skyimds1
ip link set skyimds1 netns skyhub-sec-imds
ip addr add 169.254.0.1/32 dev skyimds0
ip link set skyimds0 up
ip route add 169.254.169.254/32 dev skyimds0
ip route add 198.51.100.7/32 dev skyimds0
ip netns exec skyhub-sec-imds ip link set lo up
ip netns exec skyhub-sec-imds ip addr add 169.254.169.254/32 dev skyimds1
ip netns exec skyhub-sec-imds ip addr add 198.51.100.7/32 dev skyimds1
ip netns exec skyhub-sec-imds ip link set skyimds1 up
ip netns exec skyhub-sec-imds ip route add 169.254.0.1/32 dev skyimds1
ip netns exec skyhub-sec-imds ip route add default via 169.254.0.1 dev skyimds1
"""

IMDS_SERVER = """
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(8); s.settimeout(1)
end = time.monotonic() + 600
while time.monotonic() < end:
    try:
        c, _ = s.accept()
    except OSError:
        continue
    c.settimeout(2)
    try:
        c.recv(4096)  # the request (a bare connect sends none)
        c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nsecret-credentials\\n")
    except OSError:
        pass
    c.close()
"""


@pytest.fixture(scope="module")
def imds_listener(host):
    """A listener at 169.254.169.254 and at OUTSIDE in its own network namespace behind a veth pair, so a
    container's traffic to it is forwarded by the host as on EC2 (IMDS) or to the internet (OUTSIDE)."""
    host.run_expect([0], IMDS_NETWORK)
    host.run_expect([0], f"cat > /tmp/skyhub-sec-imds.py <<'EOF'\n{IMDS_SERVER}\nEOF")
    host.run_expect(
        [0],
        "setsid ip netns exec skyhub-sec-imds python3 /tmp/skyhub-sec-imds.py >/dev/null 2>&1 </dev/null & "
        "echo $! > /tmp/skyhub-sec-imds.pid",
    )
    host.run_expect(
        [0],
        f"for i in $(seq 40); do curl -sf -m 1 http://{IMDS}/ >/dev/null && exit 0; sleep 0.25; done; exit 1",
    )
    yield IMDS
    host.run("kill $(cat /tmp/skyhub-sec-imds.pid); ip link del skyimds0; ip netns del skyhub-sec-imds")


def test_metadata_is_unreachable(host, attacker, imds_listener):
    assert "secret-credentials" in host.check_output(f"curl -s -m 3 http://{IMDS}/")  # control: it answers
    assert connect_from_server(attacker, [(IMDS, 80)])[(IMDS, 80)] in FILTERED


def test_control_without_the_rules_the_server_reaches_metadata(host, attacker, imds_listener, rules_removed):
    rules_removed()
    assert connect_from_server(attacker, [(IMDS, 80)])[(IMDS, 80)] == "open"


def test_outgoing_traffic_is_forwarded(host, attacker, imds_listener):
    """Outgoing traffic stays open (astroquery to MAST): the same listener that is blocked at the metadata
    address answers at an address off the host, through the host's forwarding and NAT."""
    assert connect_from_server(attacker, [(OUTSIDE, 80)])[(OUTSIDE, 80)] == "open"


# CAP_SYS_RESOURCE (bit 24) is needed to lower a process's oom_score_adj. The Molecule test host lacks it
# (docs/testing.md): there systemd cannot apply the units' negative scores and leaves 0. A real host has it.
CAP_SYS_RESOURCE = 1 << 24


def test_user_kernel_is_the_oom_killers_first_choice(host, attacker):
    score = int(run_code(attacker, "print(open('/proc/self/oom_score_adj').read())").strip())
    assert score > 0
    can_lower = int(host.check_output("awk '/^CapBnd/ {print $2}' /proc/1/status"), 16) & CAP_SYS_RESOURCE
    for unit in ("jupyterhub", "traefik", "docker", "containerd"):
        assert host.check_output(f"systemctl show -p OOMScoreAdjust --value {unit}").strip() == "-500", unit
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}").strip()
        actual = int(host.file(f"/proc/{pid}/oom_score_adj").content_string)
        assert actual == (-500 if can_lower else 0), unit
        assert actual < score, unit
