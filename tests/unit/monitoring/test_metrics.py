"""skyhub-metrics: exposition format, each collector from real-shaped inputs, a real TLS server and HTTP
server for the certificate and proxy probes, and the failure of one collector reported as a metric."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

DATASET_CONF = """# Managed by Ansible
# Dataset "hst": sourced by skyhub-dataset-mount and skyhub-dataset-check.
DATASET_NAME=hst
DATASET_SOURCE=s3://stpubdata/hst/public/
DATASET_MOUNTPOINT='/srv/skyhub/data/my hst'
DATASET_HEALTH_TIMEOUT=10
DATASET_ARGV=( s3fs 'stpubdata:/hst/public/' /srv/skyhub/data/hst -o ro )
"""


def parse(text: str) -> dict[str, float]:
    """Samples of an exposition text, keyed by `name{labels}` (checks HELP/TYPE precede each metric)."""
    out: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        assert key.split("{")[0] in typed, f"sample before its TYPE line: {line}"
        out[key] = float(value)
    return out


def test_render_groups_escapes_and_formats(metrics) -> None:
    text = metrics.render(
        [
            ("skyhub_quota_used_bytes", {"user": 'a"b\\c'}, 1024.0),
            ("skyhub_proxy_up", {}, 1.0),
            ("skyhub_quota_used_bytes", {"user": "z"}, 0.5),
        ]
    )
    assert text.count("# TYPE skyhub_quota_used_bytes gauge") == 1
    assert 'skyhub_quota_used_bytes{user="a\\"b\\\\c"} 1024\n' in text
    assert 'skyhub_quota_used_bytes{user="z"} 0.5\n' in text
    assert "skyhub_proxy_up 1\n" in text
    assert text.index('user="z"') < text.index("skyhub_proxy_up")  # one block per metric
    assert metrics.render([]) == ""


def test_textfile_is_replaced_atomically(metrics, tmp_path: Path) -> None:
    path = metrics.write_textfile(str(tmp_path), "dataset", "a 1\n")
    metrics.write_textfile(str(tmp_path), "dataset", "a 2\n")
    assert path == tmp_path / "skyhub_dataset.prom" and path.read_text() == "a 2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["skyhub_dataset.prom"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_dataset_conf_parsing(metrics) -> None:
    conf = metrics.parse_dataset_conf(DATASET_CONF)
    assert conf["DATASET_NAME"] == "hst"
    assert conf["DATASET_MOUNTPOINT"] == "/srv/skyhub/data/my hst"
    assert conf["DATASET_HEALTH_TIMEOUT"] == "10"
    assert "DATASET_ARGV" not in conf


@pytest.mark.parametrize(
    ("active", "mounted", "answers", "up", "listed"),
    [
        (True, True, True, 1, True),
        (True, True, False, 0, True),  # mounted but the listing hangs or fails (endpoint gone)
        (True, False, True, 0, False),  # unit active, mount in progress
        (False, False, True, 0, False),  # unit down: nothing is listed (a dead FUSE mount could block)
    ],
)
def test_dataset_up_needs_unit_mount_and_answer(
    metrics, tmp_path, active, mounted, answers, up, listed
) -> None:
    (tmp_path / "hst.conf").write_text(DATASET_CONF)
    calls: list[tuple[str, float]] = []

    def lister(path: str, timeout: float) -> tuple[bool, float]:
        calls.append((path, timeout))
        return answers, 0.25

    got = parse(
        metrics.render(
            metrics.collect_dataset(
                {"datasets_conf_dir": str(tmp_path)},
                active=lambda unit: active and unit == "skyhub-dataset@hst.service",
                mounted=lambda path: mounted,
                lister=lister,
            )
        )
    )
    labels = '{dataset="hst",mountpoint="/srv/skyhub/data/my hst"}'
    assert got[f"skyhub_dataset_up{labels}"] == up
    assert got[f"skyhub_dataset_unit_active{labels}"] == float(active)
    assert got[f"skyhub_dataset_mounted{labels}"] == float(mounted)
    assert calls == ([("/srv/skyhub/data/my hst", 10.0)] if listed else [])


def test_list_within_is_bounded(metrics, tmp_path) -> None:
    ok, took = metrics._list_within(str(tmp_path), 5)
    assert ok and took < 5
    assert metrics._list_within(str(tmp_path / "missing"), 5)[0] is False


def test_is_mountpoint_reads_mountinfo_escapes(metrics, tmp_path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "36 35 98:0 / / rw - ext4 /dev/root rw\n"
        "80 36 0:50 / /srv/skyhub/data/my\\040hst ro,nosuid - fuse.s3fs s3fs ro\n"
    )
    assert metrics._is_mountpoint("/srv/skyhub/data/my hst", str(info))
    assert not metrics._is_mountpoint("/srv/skyhub/data/hst", str(info))


def _backup_tool(tmp_path: Path, state: dict[str, Any], code: int) -> Path:
    tool = tmp_path / "skyhub-backup"
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(state)}\nEOF\nexit {code}\n")
    tool.chmod(0o755)
    return tool


def test_backup_metrics_from_skyhub_backup_status(metrics, tmp_path) -> None:
    conf = tmp_path / "backup.json"
    conf.write_text(json.dumps({"repository": "s3:http://127.0.0.1:9000/b/p"}))
    state = {
        "last_status": "failed",
        "last_error": "wrong password",
        "last_attempt": "2025-11-30T21:00:00+00:00",
        "last_success": "2025-11-29T21:00:00+00:00",
        "repository_size": 1000,
        "snapshot_size": 400,
    }
    cfg = {
        "backup_config": str(conf),
        "backup_tool": str(_backup_tool(tmp_path, state, 1)),  # status exits 1 after a failed run
        "backup_timer": "skyhub-backup.timer",
        "timeout": 10,
    }
    got = parse(metrics.render(metrics.collect_backup(cfg, enabled=lambda unit: True)))
    assert got["skyhub_backup_configured"] == 1
    assert got["skyhub_backup_last_run_ok"] == 0
    assert got["skyhub_backup_last_success_timestamp_seconds"] == 1764450000
    assert got["skyhub_backup_last_attempt_timestamp_seconds"] == 1764536400
    assert got["skyhub_backup_repository_size_bytes"] == 1000
    assert got["skyhub_backup_configured_timestamp_seconds"] == pytest.approx(conf.stat().st_mtime)
    # the timer disabled (backups_enabled false) or no repository: configured 0 and nothing else
    assert metrics.collect_backup(cfg, enabled=lambda unit: False) == [("skyhub_backup_configured", {}, 0.0)]
    conf.write_text(json.dumps({"repository": ""}))
    assert metrics.collect_backup(cfg, enabled=lambda unit: True) == [("skyhub_backup_configured", {}, 0.0)]


def test_backup_never_run_has_no_result_yet(metrics) -> None:
    got = dict((n, v) for n, _, v in metrics.backup_samples(True, 100.0, {}))
    assert got == {"skyhub_backup_configured": 1.0, "skyhub_backup_configured_timestamp_seconds": 100.0}


def test_quota_metrics_from_a_real_skyhub_quota_report(metrics, quota_host) -> None:
    from skyhub.quota import tool as quota

    (Path(quota_host["home_root"]) / "alice" / "data.bin").write_bytes(b"x" * 300_000)
    report = quota.Quotas(quota_host, mountinfo="/dev/null").build_report().to_dict()
    got = parse(metrics.render(metrics.quota_samples(report)))
    assert got["skyhub_quota_enforced"] == 0
    assert got['skyhub_quota_limit_bytes{user="alice"}'] == 2**20
    assert got['skyhub_quota_limit_bytes{user="bob"}'] == 4 * 2**20
    assert got['skyhub_quota_used_bytes{user="alice"}'] >= 300_000
    assert got['skyhub_quota_used_bytes{user="bob"}'] < 300_000


@pytest.fixture
def quota_host(tmp_path: Path) -> dict[str, Any]:
    from skyhub.quota import tool as quota

    home = tmp_path / "home"
    for user in ("alice", "bob"):
        (home / user).mkdir(parents=True)
    return {
        **quota.DEFAULTS,  # the tool's own defaults, then this test's paths
        "home_root": str(home),
        "default_size": "1M",
        "user_sizes": {"bob": "4M"},
        "group_sizes": {},
        "warn_percent": 90,
        "hub_db": str(tmp_path / "hub.sqlite"),
        # the hub reports no memory/CPU limits (on a host: the TLJH plugin's skyhub-tljh-limits)
        "limits_command": [sys.executable, "-c", "print('{}')"],
        "backup_state_file": str(tmp_path / "backup-state.json"),
        "state_file": str(tmp_path / "quota-state.json"),
        "projid_file": str(tmp_path / "projid"),
        "projects_file": str(tmp_path / "projects"),
        "first_project_id": 10000,
        "notice_name": "QUOTA-WARNING.txt",
    }


# docker's stats API: cgroup v1 (total_inactive_file) and cgroup v2 (inactive_file) memory stats
STATS_V1 = {
    "cpu_stats": {"cpu_usage": {"total_usage": 12_500_000_000}},
    "memory_stats": {"usage": 300 * 2**20, "limit": 2**30, "stats": {"total_inactive_file": 100 * 2**20}},
}
STATS_V2 = {
    "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}},
    "memory_stats": {"usage": 50 * 2**20, "limit": 2**30, "stats": {"inactive_file": 10 * 2**20}},
}


@pytest.mark.parametrize(
    ("stats", "cpu", "mem"), [(STATS_V1, 12.5, 200 * 2**20), (STATS_V2, 2.0, 40 * 2**20)]
)
def test_container_cpu_and_memory(metrics, stats, cpu, mem) -> None:
    container = {"Id": "abc", "Names": ["/jupyter-alice"], "Image": "skyhub/astro:2026.11.0", "Labels": {}}
    got = parse(metrics.render(metrics.container_samples(container, stats)))
    labels = '{container="jupyter-alice",image="skyhub/astro:2026.11.0",user="alice"}'
    assert got[f"skyhub_container_cpu_seconds_total{labels}"] == cpu
    assert got[f"skyhub_container_memory_bytes{labels}"] == mem
    assert got[f"skyhub_container_memory_limit_bytes{labels}"] == 2**30


def test_containers_through_a_unix_socket_api(metrics, tmp_path) -> None:
    """The collector speaks HTTP over the engine's Unix socket: a stand-in engine on a socket in tmp_path."""
    sock_path = tmp_path / "docker.sock"
    containers = [{"Id": "c1", "Names": ["/jupyter-bob"], "Image": "i", "Labels": {}}]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(containers if self.path == "/containers/json" else STATS_V2).encode()
            if self.path.startswith("/containers/c1/stats") and "one-shot=true" not in self.path:
                self.send_response(400)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class UnixServer(http.server.ThreadingHTTPServer):
        address_family = socket.AF_UNIX

        def server_bind(self) -> None:
            self.socket.bind(self.server_address)

        def get_request(self):  # type: ignore[no-untyped-def]
            conn, _ = self.socket.accept()
            return conn, ("local", 0)

    server = UnixServer(str(sock_path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        got = parse(
            metrics.render(metrics.collect_containers({"docker_socket": str(sock_path), "timeout": 5}))
        )
    finally:
        server.shutdown()
    assert got["skyhub_container_running"] == 1
    assert got['skyhub_container_cpu_seconds_total{container="jupyter-bob",image="i",user="bob"}'] == 2.0


@pytest.fixture
def tls_server(tmp_path):
    """A real TLS server on 127.0.0.1 with a self-signed certificate valid for 10 days."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "10", "-subj", "/CN=hub.example.org"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(2)
    listener.close()


def test_certificate_expiry_read_from_the_served_certificate(metrics, tls_server) -> None:
    not_after = metrics.certificate_not_after("127.0.0.1", tls_server, "hub.example.org", 5)
    assert abs(not_after - (time.time() + 10 * 86400)) < 3600
    cfg = {
        "cert_hosts": ["hub.example.org"],
        "cert_address": "127.0.0.1",
        "cert_port": tls_server,
        "timeout": 5,
    }
    got = parse(metrics.render(metrics.collect_certificate(cfg)))
    assert got['skyhub_certificate_probe_ok{name="hub.example.org"}'] == 1
    assert got['skyhub_certificate_expiry_timestamp_seconds{name="hub.example.org"}'] == pytest.approx(
        not_after
    )


def test_certificate_nothing_listening_is_a_failed_probe(metrics) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    cfg = {"cert_hosts": ["hub.example.org"], "cert_address": "127.0.0.1", "cert_port": port, "timeout": 2}
    got = parse(metrics.render(metrics.collect_certificate(cfg)))
    assert got == {'skyhub_certificate_probe_ok{name="hub.example.org"}': 0}
    assert metrics.collect_certificate({**cfg, "cert_hosts": []}) == []  # no HTTPS: no samples, no alert


@pytest.mark.parametrize(("code", "up"), [(200, 1), (302, 1), (502, 0)])
def test_proxy_probe(metrics, code, up) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(code)
            self.send_header("Location", "https://hub.example.org/")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hub/api"
        got = parse(metrics.render(metrics.collect_proxy({"proxy_url": url, "timeout": 5})))
    finally:
        server.shutdown()
    assert got == {"skyhub_proxy_up": up, "skyhub_proxy_status_code": code}


def test_proxy_nothing_listening(metrics) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    got = parse(
        metrics.render(metrics.collect_proxy({"proxy_url": f"http://127.0.0.1:{port}/", "timeout": 2}))
    )
    assert got == {"skyhub_proxy_up": 0, "skyhub_proxy_status_code": 0}


def test_a_failing_collector_is_a_metric_not_a_crash(metrics, tmp_path, capsys) -> None:
    broken = tmp_path / "skyhub-quota"
    broken.write_text("#!/bin/sh\necho 'cannot read /etc/skyhub/quotas.json' >&2\nexit 2\n")
    broken.chmod(0o755)
    text, ok = metrics.run_collector("quota", {"quota_tool": str(broken)}, now=1000.0)
    assert not ok
    assert parse(text) == {
        'skyhub_metrics_collector_ok{collector="quota"}': 0,
        'skyhub_metrics_last_run_timestamp_seconds{collector="quota"}': 1000,
    }
    assert (
        "skyhub-quota report failed (exit 2): cannot read /etc/skyhub/quotas.json" in capsys.readouterr().err
    )


def test_collect_writes_one_file_per_configured_collector(metrics, tmp_path) -> None:
    settings = tmp_path / "monitoring.json"
    settings.write_text(
        json.dumps(
            {
                "textfile_dir": str(tmp_path),
                "collectors": ["dataset", "certificate"],
                "datasets_conf_dir": str(tmp_path / "none"),
                "cert_hosts": [],
            }
        )
    )
    assert metrics.main(["--config", str(settings), "collect"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.prom")) == [
        "skyhub_certificate.prom",
        "skyhub_dataset.prom",
    ]
    assert metrics.main(["--config", str(tmp_path / "missing.json"), "collect"]) == 2
