"""Monitoring on the host: private by default, the hub scraped with its scoped token, skyhub's metrics, the
alert rules' unit tests (promtool, on the deployed rules), and alerts that fire for real when their cause is
made to happen, are delivered to a webhook, and resolve when the cause is fixed; `skyhub status` reports a
running server.

The Molecule scenario enables monitoring with short durations and a webhook URL on 127.0.0.1; the receiver is
a small HTTP server this module starts on the host (a transient systemd unit) that appends every POST to a
file. Where monitoring is off (the image tier's default build) everything here is skipped; where no local
webhook is configured, only the end-to-end alert checks are.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import time
from typing import Any

import pytest
import yaml
from hub import run_code
from monitoring_rules import rule_tests, strip_annotations

SETTINGS = "/etc/skyhub/monitoring.json"
AM_CONFIG = "/etc/prometheus/skyhub-alertmanager.yml"
RECEIVER = "/run/skyhub-test-webhook.py"
RECORD = "/run/skyhub-test-webhook.jsonl"
RECEIVER_UNIT = "skyhub-test-webhook"
TEST_MOUNT = "/srv/skyhub-monitoring-test"
BACKUP_PASSWORD = "/etc/skyhub/backup.password"

RECEIVER_CODE = """
import http.server, json, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write(json.dumps({"t": time.time(), "path": self.path, "body": json.loads(body)}) + "\\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def settings(host) -> dict[str, Any]:
    if not host.file(SETTINGS).exists or not host.service("prometheus").is_running:
        pytest.skip("monitoring is not enabled on this target")
    return json.loads(host.file(SETTINGS).content_string)


def prom(host, path: str, **params: str) -> Any:
    args = " ".join(f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in params.items())
    out = host.check_output(f"curl -sf -G {args} http://127.0.0.1:9090{path}")
    body = json.loads(out)
    assert body["status"] == "success", body
    return body["data"]


def query(host, expr: str) -> list[dict[str, Any]]:
    return prom(host, "/api/v1/query", query=expr)["result"]


def wait_until(what: str, probe, timeout: float, every: float = 2) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


# ------------------------------------------------------------------------------------ private by default


def _listeners(host) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for line in host.check_output("ss -Hltn").splitlines():
        local = line.split()[3]
        addr, _, port = local.rpartition(":")
        out.setdefault(int(port), set()).add(addr.strip("[]"))
    return out


def test_prometheus_alertmanager_and_node_exporter_listen_on_loopback_only(host, settings):
    listeners = _listeners(host)
    # control: the parser sees the hub's API on the spawner network's gateway, where containers reach it
    assert "172.29.0.1" in listeners.get(15001, set()), listeners
    for port in (9090, 9093, 9100):
        assert listeners.get(port) == {"127.0.0.1"}, f"port {port} listens on {listeners.get(port)}"
    assert 9094 not in listeners, "Alertmanager's cluster port is open"


# --------------------------------------------------------------------------------------------- scraping


def test_every_target_is_up_and_the_hub_is_scraped_with_its_token(host, settings):
    def all_up():
        targets = prom(host, "/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return (
            health
            if set(health) == {"prometheus", "alertmanager", "node", "jupyterhub"}
            and all(h == "up" for h in health.values())
            else None
        )

    wait_until("all four targets up", all_up, 60)
    assert query(host, "jupyterhub_total_users"), "no JupyterHub metrics in Prometheus"
    # control: /hub/metrics refuses a request without the token (the scope is what lets Prometheus in)
    code = host.check_output("curl -s -o /dev/null -w '%{http_code}' http://172.29.0.1:15001/hub/metrics")
    assert code == "403", code
    token = host.file(settings["token_file"])
    assert token.mode == 0o640 and token.user == "root" and token.group == "prometheus"


def test_skyhub_metrics_describe_the_host(host, settings):
    def value(expr: str) -> float | None:
        res = query(host, expr)
        return float(res[0]["value"][1]) if res else None

    expected = {
        'skyhub_dataset_up{dataset="hst"}': 1,
        "skyhub_backup_configured": 1,
        "skyhub_proxy_up": 1,
        "count(skyhub_metrics_collector_ok == 1)": 6,  # every collector ran and succeeded
        "skyhub_quota_enforced": 0,  # this kernel cannot enforce quotas (docs/storage.md)
    }

    def values():  # together: a scrape missed on a loaded host leaves every node series stale for a moment
        got = {expr: value(expr) for expr in expected}
        return got if got == expected else None

    try:
        wait_until("skyhub's metrics", values, 90)
    except AssertionError:
        raise AssertionError({expr: value(expr) for expr in expected}) from None


def test_alert_rules_pass_their_promtool_unit_tests(host, settings):
    """The deployed expressions, `for` durations and thresholds, each with a firing case and a control."""
    rules = yaml.safe_load(host.file(settings["rules_file"]).content_string)
    assert {r["alert"] for g in rules["groups"] for r in g["rules"]} >= {
        "SkyhubHubDown",
        "SkyhubDatasetDown",
        "SkyhubBackupFailed",
        "SkyhubBackupStale",
        "SkyhubDiskFull",
        "SkyhubUserQuotaNearlyFull",
        "SkyhubMemoryPressure",
        "SkyhubCertificateExpiring",
        "SkyhubSpawnFailures",
    }
    work = "/run/skyhub-rule-tests"
    host.run_expect([0], f"rm -rf {work} && mkdir -p {work}")
    _put(host, f"{work}/rules.yml", yaml.safe_dump(strip_annotations(rules)))
    files = []
    for i, test in enumerate(rule_tests(settings, f"{work}/rules.yml")):
        _put(host, f"{work}/test-{i}.yml", json.dumps(test, indent=1))
        files.append(f"{work}/test-{i}.yml")
    res = host.run(f"promtool test rules {' '.join(files)}")
    assert res.rc == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(files)
    # control: the same tests fail against rules whose hub-down rule never fires
    broken = yaml.safe_dump(strip_annotations(rules)).replace(
        'up{job="jupyterhub"} == 0', 'up{job="jupyterhub"} == 2'
    )
    _put(host, f"{work}/rules.yml", broken)
    assert host.run(f"promtool test rules {' '.join(files)}").rc != 0
    host.run(f"rm -rf {work}")


def _put(host, path: str, text: str) -> None:
    host.run_expect([0], f"cat > {shlex.quote(path)} <<'SKYHUB_EOF'\n{text}\nSKYHUB_EOF")


# ------------------------------------------------------------------------- alerts fire and resolve for real


@pytest.fixture(scope="module")
def webhook(host, settings):
    """The local receiver the scenario's monitoring_alert_webhook_urls points at, recording every POST."""
    am = yaml.safe_load(host.file(AM_CONFIG).content_string)
    urls = [w["url"] for r in am["receivers"] for w in r.get("webhook_configs", [])]
    local = [u for u in urls if re.match(r"^http://127\.0\.0\.1:\d+/", u)]
    if not local:
        pytest.skip("no webhook on 127.0.0.1 is configured here (the Molecule scenario sets one)")
    port = int(re.match(r"^http://127\.0\.0\.1:(\d+)/", local[0]).group(1))
    _put(host, RECEIVER, RECEIVER_CODE)
    host.run(f"systemctl stop {RECEIVER_UNIT}; rm -f {RECORD}")
    host.run_expect(
        [0], f"systemd-run --unit={RECEIVER_UNIT} --collect /usr/bin/python3 {RECEIVER} {port} {RECORD}"
    )
    yield Receiver(host)
    host.run(f"systemctl stop {RECEIVER_UNIT}")


class Receiver:
    def __init__(self, host) -> None:
        self.host = host

    def posts(self) -> list[dict[str, Any]]:
        f = self.host.file(RECORD)
        return [json.loads(line) for line in f.content_string.splitlines()] if f.exists else []

    def now(self) -> float:
        return float(self.host.check_output("date +%s.%N"))

    def wait(
        self, alertname: str, status: str, since: float, timeout: float, **labels: str
    ) -> dict[str, Any]:
        """The first notification after `since` carrying `alertname` in `status` (with these labels)."""

        def find():
            for post in self.posts():
                if post["t"] < since:
                    continue
                for alert in post["body"]["alerts"]:
                    lab = alert["labels"]
                    if (
                        lab.get("alertname") == alertname
                        and alert["status"] == status
                        and all(lab.get(k) == v for k, v in labels.items())
                    ):
                        return {**alert, "received": post["t"]}
            return None

        found = wait_until(f"{alertname} {status} delivered to the webhook", find, timeout)
        print(f"{alertname} {status}: delivered {found['received'] - since:.0f} s after the cause changed")
        return found


def test_hub_down_fires_and_resolves(host, settings, webhook):
    t0 = webhook.now()
    host.run_expect([0], "systemctl stop jupyterhub")
    try:
        fired = webhook.wait("SkyhubHubDown", "firing", t0, 120)
        assert fired["labels"]["severity"] == "critical"
        assert fired["received"] - t0 >= 10, "fired before monitoring_hub_down_for had passed"
    finally:
        host.run_expect([0], "systemctl start jupyterhub")
    t1 = webhook.now()
    wait_until("the hub answers", lambda: host.run("curl -sf http://127.0.0.1/hub/api").rc == 0, 120)
    webhook.wait("SkyhubHubDown", "resolved", t1, 120)


def test_backup_failure_fires_and_resolves(host, settings, webhook):
    if not host.service("skyhub-backup.timer").is_enabled:
        pytest.skip("backups are not enabled here")
    # a good run first, so the repository exists with the right password (the twin keeps it in memory only)
    host.run_expect([0], "systemctl start skyhub-backup.service")
    original = host.file(BACKUP_PASSWORD).content_string
    t0 = webhook.now()
    host.run_expect(
        [0], f"cp -p {BACKUP_PASSWORD} {BACKUP_PASSWORD}.keep && echo not-the-password > {BACKUP_PASSWORD}"
    )
    try:
        assert host.run("systemctl start skyhub-backup.service").rc != 0, (
            "backup succeeded with a wrong password"
        )
        fired = webhook.wait("SkyhubBackupFailed", "firing", t0, 90)
        assert fired["labels"]["severity"] == "critical"
    finally:
        host.run_expect([0], f"mv {BACKUP_PASSWORD}.keep {BACKUP_PASSWORD}")
    assert host.file(BACKUP_PASSWORD).content_string == original
    t1 = webhook.now()
    host.run_expect([0], "systemctl start skyhub-backup.service")
    webhook.wait("SkyhubBackupFailed", "resolved", t1, 90)


def test_dataset_down_fires_and_resolves(host, settings, webhook):
    t0 = webhook.now()
    host.run_expect([0], "systemctl stop skyhub-s3-twin")
    try:
        fired = webhook.wait("SkyhubDatasetDown", "firing", t0, 150, dataset="hst")
        assert fired["labels"]["mountpoint"].endswith("/hst")
        assert fired["received"] - t0 >= 15, "fired before monitoring_dataset_down_for had passed"
    finally:
        host.run_expect([0], "systemctl start skyhub-s3-twin")
    t1 = webhook.now()
    webhook.wait("SkyhubDatasetDown", "resolved", t1, 150, dataset="hst")


def test_full_disk_fires_and_resolves(host, settings, webhook):
    """A small tmpfs made for the test (never the machine's own disk), filled past the threshold."""
    if TEST_MOUNT not in settings["thresholds"]["disk_mountpoints"]:
        pytest.skip(f"{TEST_MOUNT} is not among monitoring_disk_mountpoints here")
    host.run_expect([0], f"mkdir -p {TEST_MOUNT} && mount -t tmpfs -o size=8m skyhub-test {TEST_MOUNT}")
    try:
        t0 = webhook.now()
        host.run_expect([0], f"head -c 7900k /dev/zero > {TEST_MOUNT}/fill")
        fired = webhook.wait("SkyhubDiskFull", "firing", t0, 90, mountpoint=TEST_MOUNT)
        assert fired["labels"]["severity"] == "warning"
        t1 = webhook.now()
        host.run_expect([0], f"rm -f {TEST_MOUNT}/fill")
        webhook.wait("SkyhubDiskFull", "resolved", t1, 90, mountpoint=TEST_MOUNT)
    finally:
        host.run(f"umount {TEST_MOUNT}; rmdir {TEST_MOUNT}")


# ------------------------------------------------------------------------------ a user's running server


def _ensure_running(user) -> None:
    """The scenario's culler stops a server idle for a minute: start it again when it did."""
    if not user.model().get("servers", {}).get("", {}).get("ready"):
        user.start()


@pytest.fixture(scope="module")
def running(new_user):
    user = new_user("mon")
    user.start()
    yield user
    with contextlib.suppress(Exception):
        user.stop()


def test_monitoring_ports_are_unreachable_from_a_user_server(host, settings, running):
    eth0 = host.check_output("ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    code = f"""
import socket
def probe(addr, port):
    try:
        socket.create_connection((addr, port), timeout=3).close()
        return "open"
    except OSError as exc:
        return type(exc).__name__
for addr in ("172.29.0.1", {eth0!r}):
    for port in (9090, 9093, 9094, 9100, 15001):
        print(addr, port, probe(addr, port))
"""
    _ensure_running(running)
    out = run_code(running, code)
    results = {(a, int(p)): r for a, p, r in (line.split() for line in out.split("\n") if line.strip())}
    # control: the hub API answers containers on the gateway (so the probe can see an open port)
    assert results[("172.29.0.1", 15001)] == "open", results
    for addr in ("172.29.0.1", eth0):
        for port in (9090, 9093, 9094, 9100):
            assert results[(addr, port)] != "open", (
                f"{addr}:{port} is reachable from a user server: {results}"
            )


def test_skyhub_status_reports_the_running_server(host, settings, running):
    _ensure_running(running)
    res = host.run("skyhub status --json")
    assert res.rc in (0, 1), res.stderr
    out = json.loads(res.stdout)
    assert {"user": running.name, "name": ""} == {
        k: v
        for k, v in next(r for r in out["running_servers"] if r["user"] == running.name).items()
        if k in ("user", "name")
    }
    assert out["hub_error"] is None and out["alerts_error"] is None
    assert any(d["name"] == "hst" and d["mounted"] for d in out["datasets"])
    assert out["backup"].get("last_status") in ("ok", "failed")
    assert out["ok"] == (res.rc == 0)
    screen = host.run("skyhub status")
    assert screen.rc == res.rc
    row = next(line for line in screen.stdout.splitlines() if line.startswith(running.name + " "))
    assert row.split()[1] == "running", screen.stdout
    assert "Hub       " in screen.stdout and "server(s) running" in screen.stdout
    # the user's container is in the metrics too (per-container CPU and memory)
    wait_until(
        "the user's container in skyhub_container_memory_bytes",
        lambda: query(host, f'skyhub_container_memory_bytes{{user="{running.name}"}} > 0'),
        60,
    )


def test_user_over_quota_threshold_fires_and_resolves(host, settings, webhook, running):
    """The user fills their own home from their kernel past monitoring_quota_percent of a small quota."""
    home = "/home/jovyan"
    report = json.loads(host.check_output("skyhub quota report --json"))
    before = next(r["quota"] for r in report["users"] if r["user"] == running.name)
    set_small = host.run(f"skyhub quota set {running.name} 2M")
    assert set_small.rc in (0, 3), (
        set_small.stderr
    )  # 3: recorded, not enforced by this kernel (still measured)
    try:
        t0 = webhook.now()
        _ensure_running(running)
        run_code(running, f"open('{home}/monitoring-fill.bin', 'wb').write(b'x' * 1_950_000)")
        fired = webhook.wait("SkyhubUserQuotaNearlyFull", "firing", t0, 120, user=running.name)
        assert fired["labels"]["severity"] == "warning"
        t1 = webhook.now()
        _ensure_running(running)
        run_code(running, f"import os; os.remove('{home}/monitoring-fill.bin')")
        webhook.wait("SkyhubUserQuotaNearlyFull", "resolved", t1, 120, user=running.name)
    finally:
        host.run(f"skyhub quota set {running.name} {before}")


def test_spawn_failure_fires(host, settings, webhook, new_user):
    """A server that cannot start (its home path is a file, so the pre-spawn hook refuses it)."""
    user = new_user("spawnfail")
    home = f"/srv/skyhub/home/{user.name}"
    host.run_expect([0], f"test ! -e {home} && touch {home}")
    try:
        t0 = webhook.now()
        user.api("POST", f"/users/{user.name}/server", json={})
        fired = webhook.wait("SkyhubSpawnFailures", "firing", t0, 120)
        assert fired["labels"]["status"] == "failure"
    finally:
        host.run(f"rm -f {home}")


def test_oom_kill_fires_and_resolves(host, settings, webhook, new_user):
    """A user's kernel allocates past its server's memory limit; the kernel kills it (the container's
    cgroup), node_vmstat_oom_kill counts it, the alert is delivered, and resolves once the window passed."""
    user = new_user("oom")
    user.start()
    try:
        before = query(host, "node_vmstat_oom_kill")
        assert before, "node_vmstat_oom_kill is not scraped (node exporter's vmstat collector)"
        count = float(before[0]["value"][1])
        t0 = webhook.now()
        # 3 GiB of written bytes (not lazily zeroed pages) against the scenario's 1G server limit
        with contextlib.suppress(Exception):  # the kernel dies: run_code reports it as an error
            run_code(user, "data = b'x' * (3 * 1024**3)\nprint(len(data))", timeout=90)
        wait_until(
            "the OOM kill counted",
            lambda: (r := query(host, "node_vmstat_oom_kill")) and float(r[0]["value"][1]) > count,
            60,
        )
        fired = webhook.wait("SkyhubOOMKill", "firing", t0, 120)
        assert fired["labels"]["severity"] == "warning"
        webhook.wait("SkyhubOOMKill", "resolved", fired["received"], 300)
    finally:
        with contextlib.suppress(Exception):
            user.stop()
