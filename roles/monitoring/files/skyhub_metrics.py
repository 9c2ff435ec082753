#!/usr/bin/env python3
"""skyhub-metrics: skyhub's own metrics for Prometheus, written as node exporter textfiles.

    skyhub-metrics collect [--only NAME ...]   refresh the textfiles (run by skyhub-metrics*.timer)
    skyhub-metrics show [--only NAME ...]      print what would be written, write nothing

One file per collector, `<textfile_dir>/skyhub_<name>.prom`, replaced atomically, so the node exporter never
serves half a file and one failing collector does not blank the others:

    dataset     each dataset mount: unit active, mounted, listing answers within the health timeout
    backup      skyhub-backup's last run: configured, last success/attempt times, result, sizes
    quota       skyhub-quota report: used and quota bytes per user, whether quotas are enforced
    containers  per-container CPU seconds and memory (the Docker engine's stats API over its socket)
    certificate expiry of the certificate served for each HTTPS name on 127.0.0.1
    proxy       the hub as users reach it (through the proxy)

Each collector also reports `skyhub_metrics_collector_ok{collector}` and the time it last ran, so a collector
that stops or breaks is itself alerted on. Settings: /etc/skyhub/monitoring.json (written by the monitoring
role). Standard library only: runs with the system python3, as root (it reads the Docker socket and homes).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "/etc/skyhub/monitoring.json"
DEFAULTS: dict[str, Any] = {
    "textfile_dir": "/var/lib/prometheus/node-exporter",
    "datasets_conf_dir": "/etc/skyhub/datasets",
    "backup_config": "/etc/skyhub/backup.json",
    "backup_tool": "/usr/local/sbin/skyhub-backup",
    "backup_timer": "skyhub-backup.timer",
    "quota_tool": "/usr/local/sbin/skyhub-quota",
    "docker_socket": "/var/run/docker.sock",
    "cert_hosts": [],
    "cert_address": "127.0.0.1",
    "cert_port": 443,
    "proxy_url": "http://127.0.0.1/hub/api",
    "timeout": 10,
}

Sample = tuple[str, dict[str, str], float]


class MetricsError(Exception):
    """A problem the operator can act on; printed without a traceback."""


def load_config(path: str) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    try:
        cfg.update(json.loads(Path(path).read_text()))
    except FileNotFoundError as exc:
        raise MetricsError(f"settings file {path} does not exist (the monitoring role writes it)") from exc
    except (OSError, ValueError) as exc:
        raise MetricsError(f"cannot read the settings {path}: {exc}") from exc
    return cfg


# ------------------------------------------------------------------------------------ exposition format

HELP: dict[str, tuple[str, str]] = {
    "skyhub_dataset_unit_active": ("gauge", "1 when the dataset's mount unit is active"),
    "skyhub_dataset_mounted": ("gauge", "1 when the dataset's mount point is mounted"),
    "skyhub_dataset_up": ("gauge", "1 when the dataset is mounted and a listing answered within the timeout"),
    "skyhub_dataset_probe_seconds": ("gauge", "seconds the last listing of the dataset took"),
    "skyhub_backup_configured": ("gauge", "1 when backups are set up (a repository and the timer enabled)"),
    "skyhub_backup_configured_timestamp_seconds": (
        "gauge",
        "when the backup settings were last written (the age reference before any success)",
    ),
    "skyhub_backup_last_success_timestamp_seconds": ("gauge", "end of the last successful backup"),
    "skyhub_backup_last_attempt_timestamp_seconds": ("gauge", "start of the last backup attempt"),
    "skyhub_backup_last_run_ok": ("gauge", "1 when the last backup run succeeded, 0 when it failed"),
    "skyhub_backup_repository_size_bytes": ("gauge", "size of the backup repository after the last success"),
    "skyhub_backup_snapshot_size_bytes": ("gauge", "bytes in the last snapshot"),
    "skyhub_quota_enforced": ("gauge", "1 when the kernel enforces the home quotas, 0 when only measured"),
    "skyhub_quota_used_bytes": ("gauge", "bytes used by a user's home"),
    "skyhub_quota_limit_bytes": ("gauge", "a user's home quota in bytes"),
    "skyhub_container_cpu_seconds_total": ("counter", "CPU time used by a container"),
    "skyhub_container_memory_bytes": ("gauge", "memory used by a container (without the page cache)"),
    "skyhub_container_memory_limit_bytes": ("gauge", "memory limit of a container"),
    "skyhub_container_running": ("gauge", "number of running containers (user servers and others)"),
    "skyhub_certificate_expiry_timestamp_seconds": ("gauge", "notAfter of the certificate served for a name"),
    "skyhub_certificate_probe_ok": ("gauge", "1 when the certificate for a name could be read"),
    "skyhub_proxy_up": ("gauge", "1 when the hub answers through the proxy"),
    "skyhub_proxy_status_code": ("gauge", "HTTP status of the last request through the proxy (0: none)"),
    "skyhub_metrics_collector_ok": ("gauge", "1 when the collector's last run succeeded"),
    "skyhub_metrics_last_run_timestamp_seconds": ("gauge", "when the collector last ran"),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render(samples: Iterable[Sample]) -> str:
    """Prometheus text exposition: HELP/TYPE once per metric, samples grouped by metric name."""
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample[0], []).append(sample)
    lines: list[str] = []
    for name, group in by_name.items():
        kind, text = HELP.get(name, ("gauge", name))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for _, labels, value in group:
            label_text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def write_textfile(directory: str, name: str, text: str) -> Path:
    """Replace <directory>/skyhub_<name>.prom atomically (the node exporter reads *.prom only)."""
    target = Path(directory) / f"skyhub_{name}.prom"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, target)
    return target


def iso_to_epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------- datasets


def parse_dataset_conf(text: str) -> dict[str, str]:
    """KEY=VALUE lines of a dataset's shell settings (values shell-quoted; arrays are skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if value.startswith("("):
            continue
        with contextlib.suppress(ValueError):
            parts = shlex.split(value)
            out[key] = parts[0] if parts else ""
    return out


def _systemctl_active(unit: str) -> bool:
    res = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False)
    return res.returncode == 0


def _is_mountpoint(path: str, mountinfo: str = "/proc/self/mountinfo") -> bool:
    try:
        text = Path(mountinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4].encode().decode("unicode_escape") == path:
            return True
    return False


def _list_within(path: str, timeout: float) -> tuple[bool, float]:
    """List a directory in a child (a dead FUSE endpoint can block the caller), bounded by `timeout`."""
    started = time.monotonic()
    try:
        res = subprocess.run(
            ["timeout", "-k", "2", str(int(timeout)), "ls", "--", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=timeout + 5,
        )
        ok = res.returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    return ok, time.monotonic() - started


def collect_dataset(
    cfg: dict[str, Any],
    active: Callable[[str], bool] = _systemctl_active,
    mounted: Callable[[str], bool] = _is_mountpoint,
    lister: Callable[[str, float], tuple[bool, float]] = _list_within,
) -> list[Sample]:
    samples: list[Sample] = []
    conf_dir = Path(cfg["datasets_conf_dir"])
    for conf in sorted(conf_dir.glob("*.conf")) if conf_dir.is_dir() else []:
        settings = parse_dataset_conf(conf.read_text())
        name = settings.get("DATASET_NAME") or conf.stem
        mountpoint = settings.get("DATASET_MOUNTPOINT", "")
        labels = {"dataset": name, "mountpoint": mountpoint}
        unit_ok = active(f"skyhub-dataset@{name}.service")
        is_mounted = bool(mountpoint) and mounted(mountpoint)
        answers, took = False, 0.0
        if unit_ok and is_mounted:
            answers, took = lister(mountpoint, float(settings.get("DATASET_HEALTH_TIMEOUT") or 20))
        samples += [
            ("skyhub_dataset_unit_active", labels, float(unit_ok)),
            ("skyhub_dataset_mounted", labels, float(is_mounted)),
            ("skyhub_dataset_up", labels, float(unit_ok and is_mounted and answers)),
            ("skyhub_dataset_probe_seconds", labels, round(took, 3)),
        ]
    return samples


# ---------------------------------------------------------------------------------------------- backups


def _systemctl_enabled(unit: str) -> bool:
    res = subprocess.run(["systemctl", "is-enabled", "--quiet", unit], check=False)
    return res.returncode == 0


def backup_state(cfg: dict[str, Any]) -> dict[str, Any]:
    """`skyhub-backup status --json` (exit 1 only says the last run was not ok; the JSON is still printed)."""
    tool = cfg["backup_tool"]
    if not Path(tool).exists():
        return {}
    res = subprocess.run(
        [tool, "--config", cfg["backup_config"], "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=cfg["timeout"],
    )
    if res.returncode not in (0, 1) or not res.stdout.strip():
        raise MetricsError(
            f"skyhub-backup status failed (exit {res.returncode}): {res.stderr.strip()[-300:]}"
        )
    return json.loads(res.stdout)


def backup_samples(configured: bool, configured_at: float | None, state: dict[str, Any]) -> list[Sample]:
    samples: list[Sample] = [("skyhub_backup_configured", {}, float(configured))]
    if not configured:
        return samples
    if configured_at is not None:
        samples.append(("skyhub_backup_configured_timestamp_seconds", {}, configured_at))
    success = iso_to_epoch(state.get("last_success"))
    attempt = iso_to_epoch(state.get("last_attempt"))
    if success is not None:
        samples.append(("skyhub_backup_last_success_timestamp_seconds", {}, success))
    if attempt is not None:
        samples.append(("skyhub_backup_last_attempt_timestamp_seconds", {}, attempt))
    if state.get("last_status"):
        samples.append(("skyhub_backup_last_run_ok", {}, float(state["last_status"] == "ok")))
    if success is not None:
        samples.append(("skyhub_backup_repository_size_bytes", {}, float(state.get("repository_size") or 0)))
        samples.append(("skyhub_backup_snapshot_size_bytes", {}, float(state.get("snapshot_size") or 0)))
    return samples


def collect_backup(cfg: dict[str, Any], enabled: Callable[[str], bool] = _systemctl_enabled) -> list[Sample]:
    conf = Path(cfg["backup_config"])
    try:
        repository = json.loads(conf.read_text()).get("repository", "")
    except (OSError, ValueError):
        repository = ""
    configured = bool(repository) and enabled(cfg["backup_timer"])
    state = backup_state(cfg) if configured else {}
    return backup_samples(configured, conf.stat().st_mtime if configured else None, state)


# ---------------------------------------------------------------------------------------------- quotas


def quota_samples(report: dict[str, Any]) -> list[Sample]:
    samples: list[Sample] = [("skyhub_quota_enforced", {}, float(bool(report.get("enforced"))))]
    for row in report.get("users", []):
        labels = {"user": row["user"]}
        samples.append(("skyhub_quota_used_bytes", labels, float(row["used"])))
        samples.append(("skyhub_quota_limit_bytes", labels, float(row["quota"])))
    return samples


def collect_quota(cfg: dict[str, Any]) -> list[Sample]:
    tool = cfg["quota_tool"]
    if not Path(tool).exists():
        return []
    res = subprocess.run([tool, "report", "--json"], capture_output=True, text=True, check=False, timeout=600)
    if res.returncode != 0:
        raise MetricsError(f"skyhub-quota report failed (exit {res.returncode}): {res.stderr.strip()[-300:]}")
    return quota_samples(json.loads(res.stdout))


# ------------------------------------------------------------------------------------------- containers


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def docker_get(socket_path: str, path: str, timeout: float = 10) -> Any:
    conn = _UnixHTTPConnection(socket_path, timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise MetricsError(f"Docker API {path}: HTTP {resp.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def container_samples(container: dict[str, Any], stats: dict[str, Any]) -> list[Sample]:
    """One container's CPU counter and memory from the engine's stats (cgroup v1 and v2 alike)."""
    names = container.get("Names") or [container.get("Id", "")[:12]]
    name = names[0].lstrip("/")
    labels_in = container.get("Labels") or {}
    user = labels_in.get("skyhub.user") or (name[len("jupyter-") :] if name.startswith("jupyter-") else "")
    labels = {"container": name, "user": user, "image": container.get("Image", "")}
    mem = stats.get("memory_stats") or {}
    mstats = mem.get("stats") or {}
    # what `docker stats` shows: usage without the reclaimable page cache
    # (cgroup v1: total_inactive_file; v2: inactive_file)
    cache = mstats.get("inactive_file", mstats.get("total_inactive_file", 0))
    usage = max(float(mem.get("usage") or 0) - float(cache or 0), 0.0)
    cpu_ns = float(((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)
    samples: list[Sample] = [
        ("skyhub_container_cpu_seconds_total", labels, cpu_ns / 1e9),
        ("skyhub_container_memory_bytes", labels, usage),
    ]
    if mem.get("limit"):
        samples.append(("skyhub_container_memory_limit_bytes", labels, float(mem["limit"])))
    return samples


def collect_containers(cfg: dict[str, Any]) -> list[Sample]:
    sock = cfg["docker_socket"]
    if not Path(sock).exists():
        return []
    containers = docker_get(sock, "/containers/json", cfg["timeout"])
    samples: list[Sample] = [("skyhub_container_running", {}, float(len(containers)))]
    for c in containers:
        try:
            stats = docker_get(
                sock, f"/containers/{c['Id']}/stats?stream=false&one-shot=true", cfg["timeout"]
            )
        except (OSError, MetricsError):
            continue  # the container went away between the listing and its stats
        samples += container_samples(c, stats)
    return samples


# -------------------------------------------------------------------------------------------- certificates


def certificate_not_after(address: str, port: int, server_name: str, timeout: float = 10) -> float:
    """notAfter (epoch seconds) of the certificate served for `server_name`, read without verifying it (an
    expired or self-signed certificate must still be reported)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((address, port), timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise MetricsError(f"{server_name}: no certificate served on {address}:{port}")
    res = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-enddate"],
        input=der,
        capture_output=True,
        check=False,
        timeout=timeout,
    )
    text = res.stdout.decode().strip()
    if res.returncode != 0 or not text.startswith("notAfter="):
        raise MetricsError(f"{server_name}: cannot read the certificate: {res.stderr.decode().strip()}")
    return float(ssl.cert_time_to_seconds(text.partition("=")[2]))


def collect_certificate(
    cfg: dict[str, Any], reader: Callable[[str, int, str, float], float] = certificate_not_after
) -> list[Sample]:
    samples: list[Sample] = []
    for name in cfg["cert_hosts"]:
        labels = {"name": name}
        try:
            not_after = reader(cfg["cert_address"], int(cfg["cert_port"]), name, float(cfg["timeout"]))
        except (OSError, MetricsError, ValueError) as exc:
            print(f"skyhub-metrics: certificate {name}: {exc}", file=sys.stderr)
            samples.append(("skyhub_certificate_probe_ok", labels, 0.0))
            continue
        samples.append(("skyhub_certificate_probe_ok", labels, 1.0))
        samples.append(("skyhub_certificate_expiry_timestamp_seconds", labels, not_after))
    return samples


# ------------------------------------------------------------------------------------------------- proxy


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_status(url: str, timeout: float) -> int:
    """HTTP status of a GET (redirects not followed); 0 when nothing answered."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def collect_proxy(cfg: dict[str, Any], status: Callable[[str, float], int] = http_status) -> list[Sample]:
    if not cfg.get("proxy_url"):
        return []
    code = status(cfg["proxy_url"], float(cfg["timeout"]))
    return [
        ("skyhub_proxy_up", {}, float(200 <= code < 400)),
        ("skyhub_proxy_status_code", {}, float(code)),
    ]


# ---------------------------------------------------------------------------------------------- driver

COLLECTORS: dict[str, Callable[[dict[str, Any]], list[Sample]]] = {
    "dataset": collect_dataset,
    "backup": collect_backup,
    "quota": collect_quota,
    "containers": collect_containers,
    "certificate": collect_certificate,
    "proxy": collect_proxy,
}


def run_collector(name: str, cfg: dict[str, Any], now: float | None = None) -> tuple[str, bool]:
    """(exposition text, ok). A failing collector still writes its health samples (and nothing stale)."""
    ok = True
    try:
        samples = COLLECTORS[name](cfg)
    except Exception as exc:  # any failure is reported as a metric, never a crash of the timer
        print(f"skyhub-metrics: {name}: {exc}", file=sys.stderr)
        samples, ok = [], False
    labels = {"collector": name}
    samples = [
        *samples,
        ("skyhub_metrics_collector_ok", labels, float(ok)),
        (
            "skyhub_metrics_last_run_timestamp_seconds",
            labels,
            round(now if now is not None else time.time(), 3),
        ),
    ]
    return render(samples), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyhub-metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd in ("collect", "show"):
        p = sub.add_parser(cmd)
        p.add_argument(
            "--only", action="append", choices=sorted(COLLECTORS), help="run only these collectors"
        )
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except MetricsError as exc:
        print(f"skyhub-metrics: error: {exc}", file=sys.stderr)
        return 2
    names = args.only or [n for n in COLLECTORS if n in cfg.get("collectors", list(COLLECTORS))]
    failed = []
    for name in names:
        text, ok = run_collector(name, cfg)
        if args.command == "show":
            sys.stdout.write(text)
        else:
            write_textfile(cfg["textfile_dir"], name, text)
        if not ok:
            failed.append(name)
    if failed:
        print(f"skyhub-metrics: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
