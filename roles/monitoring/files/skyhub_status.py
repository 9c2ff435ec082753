#!/usr/bin/env python3
"""skyhub-status: how this hub is doing, on one screen (or as JSON with --json).

    skyhub status [--json]

Users and their servers (the hub's REST API with the monitoring service's read-only token), home usage
against the quota (skyhub-quota report --json), the last backup (skyhub-backup status --json), the dataset
mounts and the host services (systemctl), and the alerts firing now (Alertmanager's API on 127.0.0.1). Every
source is optional: one that cannot be read is shown as such, never guessed. Exit status: 0 when nothing needs
attention, 1 when something does (a service down, a dataset not answering, the last backup failed, an alert
firing), 2 on error.
Standard library only: runs with the system python3, as root.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc  # noqa: UP017  # Ubuntu 22.04's Python 3.10 has no datetime.UTC
DEFAULT_CONFIG = "/etc/skyhub/monitoring.json"
STALE_PROBE_SECONDS = 600
DEFAULTS: dict[str, Any] = {
    "hub_api_url": "http://172.29.0.1:15001/hub/api",
    "token_file": "/etc/skyhub/monitoring.token",
    "alertmanager_url": "http://127.0.0.1:9093",
    "backup_tool": "/usr/local/sbin/skyhub-backup",
    "backup_config": "/etc/skyhub/backup.json",
    "quota_tool": "/usr/local/sbin/skyhub-quota",
    "datasets_conf_dir": "/etc/skyhub/datasets",
    "textfile_dir": "/var/lib/prometheus/node-exporter",
    "services": [
        "jupyterhub.service",
        "traefik.service",
        "docker.service",
        "prometheus.service",
        "prometheus-alertmanager.service",
        "prometheus-node-exporter.service",
    ],
    "timeout": 10,
}


# -------------------------------------------------------------------------------------------- gathering


def _run_json(cmd: list[str], timeout: float, ok_codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    except FileNotFoundError:
        return {"error": f"{cmd[0]} is not installed"}
    except subprocess.TimeoutExpired:
        return {"error": f"{cmd[0]} did not answer within {timeout:.0f} s"}
    if res.returncode not in ok_codes or not res.stdout.strip():
        return {"error": f"{Path(cmd[0]).name} exit {res.returncode}: {res.stderr.strip()[-200:]}"}
    try:
        return json.loads(res.stdout)
    except ValueError as exc:
        return {"error": f"{Path(cmd[0]).name}: not JSON: {exc}"}


def _get_json(url: str, timeout: float, token: str = "") -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def hub_users(cfg: dict[str, Any]) -> dict[str, Any]:
    token_file = Path(cfg["token_file"])
    if not token_file.exists():
        return {"error": f"no token at {token_file} (monitoring not enabled on this host?)"}
    token = token_file.read_text().strip()
    users: list[dict[str, Any]] = []
    offset, limit = 0, 200
    try:
        while True:
            page = _get_json(
                f"{cfg['hub_api_url']}/users?offset={offset}&limit={limit}", cfg["timeout"], token
            )
            users += page
            if len(page) < limit:
                break
            offset += limit
    except urllib.error.HTTPError as exc:
        return {"error": f"hub API: HTTP {exc.code} {exc.reason}"}
    except (OSError, ValueError) as exc:
        return {"error": f"hub API {cfg['hub_api_url']}: {exc}"}
    return {"users": users}


def active_alerts(cfg: dict[str, Any]) -> dict[str, Any]:
    url = f"{cfg['alertmanager_url']}/api/v2/alerts?active=true&silenced=false&inhibited=false"
    try:
        return {"alerts": _get_json(url, cfg["timeout"])}
    except (OSError, ValueError) as exc:
        return {"error": f"Alertmanager {cfg['alertmanager_url']}: {exc}"}


def unit_state(unit: str) -> str:
    res = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, check=False)
    return res.stdout.strip() or "unknown"


def read_textfile_metric(directory: str, filename: str, metric: str) -> dict[str, float]:
    """{label text: value} of one metric in a node exporter textfile written by skyhub-metrics."""
    out: dict[str, float] = {}
    try:
        text = (Path(directory) / filename).read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith(metric + "{") or line.startswith(metric + " "):
            head, _, value = line.rpartition(" ")
            out[head[len(metric) :]] = float(value)
    return out


def datasets(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    conf_dir = Path(cfg["datasets_conf_dir"])
    probes = read_textfile_metric(cfg["textfile_dir"], "skyhub_dataset.prom", "skyhub_dataset_up")
    try:
        probed_at = (Path(cfg["textfile_dir"]) / "skyhub_dataset.prom").stat().st_mtime
    except OSError:
        probed_at = None
    mounts = (
        Path("/proc/self/mountinfo").read_text().split("\n") if Path("/proc/self/mountinfo").exists() else []
    )
    mounted = {ln.split()[4] for ln in mounts if len(ln.split()) > 4}
    out = []
    for conf in sorted(conf_dir.glob("*.conf")) if conf_dir.is_dir() else []:
        name = conf.stem
        mountpoint = ""
        for line in conf.read_text().splitlines():
            if line.startswith("DATASET_MOUNTPOINT="):
                mountpoint = line.partition("=")[2].strip("'\"")
        answered = next((v for k, v in probes.items() if f'dataset="{name}"' in k), None)
        if probed_at is None or time.time() - probed_at > STALE_PROBE_SECONDS:
            answered = None  # no recent probe (monitoring off or its timer stopped): not known, not guessed
        out.append(
            {
                "name": name,
                "mountpoint": mountpoint,
                "unit": unit_state(f"skyhub-dataset@{name}.service"),
                "mounted": mountpoint in mounted,
                "answering": None if answered is None else bool(answered),
                "probed_at": probed_at,
            }
        )
    return out


def gather(cfg: dict[str, Any]) -> dict[str, Any]:
    backup: dict[str, Any]
    if Path(cfg["backup_config"]).exists():
        conf = json.loads(Path(cfg["backup_config"]).read_text() or "{}")
        if conf.get("repository"):
            backup = _run_json(
                [cfg["backup_tool"], "--config", cfg["backup_config"], "status", "--json"],
                cfg["timeout"],
                (0, 1),
            )
        else:
            backup = {"configured": False}
    else:
        backup = {"configured": False}
    return {
        "host": socket.gethostname(),
        "time": time.time(),
        "services": {u: unit_state(u) for u in cfg["services"]},
        "hub": hub_users(cfg),
        "quota": _run_json([cfg["quota_tool"], "report", "--json"], 600),
        "backup": backup,
        "datasets": datasets(cfg),
        "alerts": active_alerts(cfg),
    }


# --------------------------------------------------------------------------------------------- summary


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def ago(then: float | None, now: float) -> str:
    if then is None:
        return "never"
    secs = max(now - then, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= size:
            return f"{secs / size:.0f} {unit} ago"
    return f"{secs:.0f} s ago"


def fmt_size(num: float | None) -> str:
    if num is None:
        return "-"
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "-"  # pragma: no cover


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """The facts an operator reads first, and what needs attention, from the gathered sources."""
    now = data["time"]
    attention: list[str] = []
    for unit, state in data["services"].items():
        if state != "active":
            attention.append(f"{unit} is {state}")
    users = data["hub"].get("users", [])
    running = []
    for u in users:
        for sname, server in (u.get("servers") or {}).items():
            if server.get("ready") or server.get("pending"):
                running.append({"user": u["name"], "server": sname, **server})
    if "error" in data["hub"]:
        attention.append(f"hub: {data['hub']['error']}")
    for ds in data["datasets"]:
        if ds["unit"] != "active" or not ds["mounted"] or ds["answering"] is False:
            attention.append(f"dataset {ds['name']} is not available")
    backup = data["backup"]
    if backup.get("last_status") and backup["last_status"] != "ok":
        attention.append(f"last backup failed: {backup.get('last_error', '')}")
    elif "error" in backup:
        attention.append(f"backup status: {backup['error']}")
    alerts = data["alerts"].get("alerts", [])
    for a in alerts:
        attention.append(
            f"alert {a['labels'].get('alertname')}: {a.get('annotations', {}).get('summary', '')}"
        )
    quota_rows = {r["user"]: r for r in data["quota"].get("users", [])}
    return {
        "now": now,
        "running": running,
        "alerts": alerts,
        "quota_rows": quota_rows,
        "attention": attention,
    }


def format_status(data: dict[str, Any]) -> str:
    s = summarize(data)
    now = s["now"]
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"skyhub status: {data['host']}, {stamp}", ""]
    services = "  ".join(f"{u.removesuffix('.service')} {st}" for u, st in data["services"].items())
    lines.append(f"Services  {services}")
    hub = data["hub"]
    if "error" in hub:
        lines.append(f"Hub       cannot list users: {hub['error']}")
    else:
        lines.append(f"Hub       {len(hub['users'])} user(s), {len(s['running'])} server(s) running")
    for ds in data["datasets"]:
        if ds["unit"] == "active" and ds["mounted"] and ds["answering"] is not False:
            state = "mounted, answering" if ds["answering"] else "mounted (not probed yet)"
        else:
            state = f"NOT AVAILABLE (unit {ds['unit']}, {'mounted' if ds['mounted'] else 'not mounted'}"
            state += ", not answering)" if ds["answering"] is False else ")"
        probed = f", checked {ago(ds['probed_at'], now)}" if ds.get("probed_at") else ""
        lines.append(f"Dataset   {ds['name']} at {ds['mountpoint']}: {state}{probed}")
    backup = data["backup"]
    if backup.get("configured") is False:
        lines.append("Backup    not configured")
    elif "error" in backup:
        lines.append(f"Backup    status unknown: {backup['error']}")
    elif not backup:
        lines.append("Backup    configured, no backup has run yet")
    else:
        last = _epoch(backup.get("last_success"))
        text = f"last success {backup.get('last_success') or 'never'} ({ago(last, now)}), last run "
        text += backup.get("last_status", "?")
        if backup.get("last_status") != "ok":
            text += f": {backup.get('last_error', '')}"
        else:
            text += f", repository {fmt_size(backup.get('repository_size'))}"
        lines.append(f"Backup    {text}")
    quota = data["quota"]
    if "error" in quota:
        lines.append(f"Quotas    unknown: {quota['error']}")
    else:
        enforced = "enforced" if quota.get("enforced") else "NOT enforced (usage measured only)"
        lines.append(f"Quotas    {enforced}, warning at {quota.get('warn_percent', '?')}%")
    alerts = data["alerts"]
    if "error" in alerts:
        lines.append(f"Alerts    unknown: {alerts['error']}")
    elif not s["alerts"]:
        lines.append("Alerts    none firing")
    else:
        lines.append(f"Alerts    {len(s['alerts'])} firing:")
        for a in sorted(s["alerts"], key=lambda a: a.get("startsAt", "")):
            labels = a["labels"]
            what = ", ".join(
                f"{k}={v}"
                for k, v in sorted(labels.items())
                if k not in ("alertname", "severity", "instance", "job")
            )
            since = ago(_epoch(a.get("startsAt")), now)
            summary = a.get("annotations", {}).get("summary", "")
            lines.append(
                f"  {labels.get('severity', ''):<8} {labels.get('alertname')}{f' ({what})' if what else ''}"
                f" since {since}: {summary}"
            )
    # one row per user: server state, activity, usage
    running = {(r["user"]) for r in s["running"]}
    names = sorted({u["name"] for u in hub.get("users", [])} | set(s["quota_rows"]))
    if names:
        rows = [("USER", "SERVER", "LAST ACTIVE", "USED", "QUOTA", "USE%")]
        by_name = {u["name"]: u for u in hub.get("users", [])}
        for name in names:
            u = by_name.get(name, {})
            q = s["quota_rows"].get(name)
            rows.append(
                (
                    name,
                    "running" if name in running else ("-" if u else "(no hub user)"),
                    ago(_epoch(u.get("last_activity")), now) if u else "-",
                    fmt_size(q["used"]) if q else "-",
                    fmt_size(q["quota"]) if q else "-",
                    (f"{q['percent']:.0f}%" + (" WARN" if q.get("warn") else "")) if q else "-",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append("")
    if s["attention"]:
        lines.append(f"NEEDS ATTENTION ({len(s['attention'])}):")
        lines += [f"  - {a}" for a in s["attention"]]
    else:
        lines.append("All good.")
    return "\n".join(lines)


def as_json(data: dict[str, Any]) -> dict[str, Any]:
    s = summarize(data)
    return {
        "host": data["host"],
        "time": datetime.fromtimestamp(data["time"], UTC).isoformat(),
        "services": data["services"],
        "users": [
            {
                "name": u["name"],
                "admin": u.get("admin", False),
                "last_activity": u.get("last_activity"),
                "server_running": any(r["user"] == u["name"] for r in s["running"]),
            }
            for u in data["hub"].get("users", [])
        ],
        "running_servers": [
            {"user": r["user"], "name": r["server"], "started": r.get("started"), "ready": r.get("ready")}
            for r in s["running"]
        ],
        "hub_error": data["hub"].get("error"),
        "quota": data["quota"],
        "backup": data["backup"],
        "datasets": data["datasets"],
        "alerts": [
            {
                "alertname": a["labels"].get("alertname"),
                "severity": a["labels"].get("severity"),
                "labels": a["labels"],
                "summary": a.get("annotations", {}).get("summary", ""),
                "starts_at": a.get("startsAt"),
            }
            for a in s["alerts"]
        ],
        "alerts_error": data["alerts"].get("error"),
        "attention": s["attention"],
        "ok": not s["attention"],
    }


def load_config(path: str) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    if Path(path).exists():
        cfg.update(json.loads(Path(path).read_text()))
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyhub status", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("skyhub status: run as root (sudo skyhub status): it reads root-only state", file=sys.stderr)
        return 2
    try:
        data = gather(load_config(args.config))
    except (OSError, ValueError) as exc:
        print(f"skyhub status: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = as_json(data)
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0 if out["ok"] else 1
    print(format_status(data))
    return 0 if not summarize(data)["attention"] else 1


if __name__ == "__main__":
    sys.exit(main())
