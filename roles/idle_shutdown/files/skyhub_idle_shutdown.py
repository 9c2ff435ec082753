#!/usr/bin/env python3
"""Power the instance off when no user server has been active for N hours (skyhub idle_shutdown role).

Runs from a systemd timer. Asks the hub's REST API (token registered as a JupyterHub service) for every
user's servers and activity. The instance counts as busy while any server is running or starting, or any
user or server was active within the window; it also never powers off within the window after boot. If
the hub cannot be asked, nothing happens (exit 1): an unanswered question is not idleness.
Standard library only: it runs with the system python3 on the instance.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc  # noqa: UP017  # Ubuntu 22.04's Python 3.10 has no datetime.UTC

DEFAULT_CONFIG = "/etc/skyhub/idle-shutdown.json"


@dataclass
class Decision:
    poweroff: bool
    reason: str
    last_activity: datetime | None


def parse_time(value: str | None) -> datetime | None:
    """JupyterHub's ISO 8601 timestamps ("2026-11-25T06:00:00.123456Z"), as aware UTC datetimes."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _servers(user: dict[str, Any]) -> list[dict[str, Any]]:
    return list((user.get("servers") or {}).values())


def busy_servers(users: list[dict[str, Any]]) -> list[str]:
    """'user/server' for every server that is running or in a pending state (starting, stopping)."""
    out = []
    for user in users:
        for server in _servers(user):
            if server.get("ready") or server.get("pending"):
                out.append(f"{user['name']}/{server.get('name') or ''}")
    return out


def last_activity(users: list[dict[str, Any]]) -> datetime | None:
    stamps = [parse_time(u.get("last_activity")) for u in users]
    stamps += [parse_time(s.get("last_activity")) for u in users for s in _servers(u)]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None


def decide(users: list[dict[str, Any]], now: datetime, idle_hours: float, booted: datetime) -> Decision:
    window = timedelta(hours=idle_hours)
    busy = busy_servers(users)
    last = last_activity(users)
    if busy:
        return Decision(False, f"servers running: {', '.join(sorted(busy))}", last)
    reference = max(s for s in (last, booted) if s is not None)
    if now - reference < window:
        what = "booted" if reference == booted else "last activity"
        return Decision(False, f"{what} {reference.isoformat()} is within {idle_hours} h", last)
    since = reference.isoformat()
    return Decision(True, f"no server running and no activity since {since} ({idle_hours} h)", last)


def fetch_users(api_url: str, token: str, timeout: float = 10) -> list[dict[str, Any]]:
    """All users with their servers (follows JupyterHub's pagination)."""
    users: list[dict[str, Any]] = []
    offset = 0
    while True:
        req = urllib.request.Request(
            f"{api_url.rstrip('/')}/users?include_stopped_servers=1&offset={offset}&limit=200",
            headers={"Authorization": f"token {token}", "Accept": "application/jupyterhub-pagination+json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # the hub's own local API
            body = json.load(resp)
        if isinstance(body, list):  # a hub without pagination support
            return body
        users += body["items"]
        nxt = (body.get("_pagination") or {}).get("next")
        if not nxt:
            return users
        offset = int(nxt["offset"])


def boot_time() -> datetime:
    with open("/proc/uptime", encoding="ascii") as fh:
        uptime = float(fh.read().split()[0])
    return datetime.fromtimestamp(time.time() - uptime, tz=UTC)


def load_config(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--idle-hours", type=float, help="override the configured window")
    parser.add_argument("--poweroff-command", help="override the configured power-off command")
    parser.add_argument("--dry-run", action="store_true", help="decide and report, never power off")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    idle_hours = args.idle_hours if args.idle_hours is not None else float(cfg["idle_hours"])
    command = args.poweroff_command or cfg["poweroff_command"]
    with open(cfg["token_file"], encoding="ascii") as fh:
        token = fh.read().strip()
    try:
        users = fetch_users(cfg["hub_api_url"], token)
    except OSError as exc:
        print(f"skyhub-idle-shutdown: cannot ask the hub ({exc}); not powering off", file=sys.stderr)
        return 1
    decision = decide(users, datetime.now(tz=UTC), idle_hours, boot_time())
    acted = decision.poweroff and not args.dry_run
    if args.json:
        print(json.dumps({"poweroff": decision.poweroff, "acted": acted, "reason": decision.reason}))
    else:
        print(f"skyhub-idle-shutdown: {'POWER OFF' if decision.poweroff else 'stay up'}: {decision.reason}")
    if acted:
        return subprocess.run(shlex.split(command), check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
