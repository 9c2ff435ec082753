"""The idle-shutdown checker's decision and its conversation with the hub API (a local HTTP server)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

CHECKER = (
    Path(__file__).resolve().parents[3] / "roles" / "idle_shutdown" / "files" / "skyhub_idle_shutdown.py"
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BOOT = NOW - timedelta(days=3)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("skyhub_idle_shutdown", CHECKER)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


idle = _load()


def user(name: str, last: datetime | None, servers: dict | None = None) -> dict:
    return {"name": name, "last_activity": last.isoformat() if last else None, "servers": servers or {}}


def server(last: datetime, ready: bool = False, pending: str | None = None) -> dict:
    return {"name": "", "ready": ready, "pending": pending, "last_activity": last.isoformat()}


def test_no_users_long_after_boot_powers_off() -> None:
    assert idle.decide([], NOW, 2, BOOT).poweroff


def test_recent_boot_keeps_it_up() -> None:
    d = idle.decide([], NOW, 2, NOW - timedelta(minutes=30))
    assert not d.poweroff and d.reason.startswith("booted")


def test_running_or_starting_server_keeps_it_up_whatever_its_activity() -> None:
    old = NOW - timedelta(days=1)
    d = idle.decide([user("alice", old, {"": server(old, ready=True)})], NOW, 2, BOOT)
    assert not d.poweroff and "alice/" in d.reason
    assert not idle.decide([user("bob", old, {"": server(old, pending="spawn")})], NOW, 2, BOOT).poweroff


def test_activity_inside_the_window_keeps_it_up_outside_powers_off() -> None:
    recent = [user("alice", NOW - timedelta(hours=1, minutes=59))]
    assert not idle.decide(recent, NOW, 2, BOOT).poweroff
    stale = [user("alice", NOW - timedelta(hours=2, minutes=1), {"": server(NOW - timedelta(hours=3))})]
    d = idle.decide(stale, NOW, 2, BOOT)
    assert d.poweroff and d.last_activity == NOW - timedelta(hours=2, minutes=1)


def test_stopped_server_activity_counts() -> None:
    users = [user("alice", None, {"": server(NOW - timedelta(minutes=10))})]
    assert not idle.decide(users, NOW, 2, BOOT).poweroff


def test_parse_time_accepts_jupyterhub_formats() -> None:
    assert idle.parse_time("2026-11-25T06:00:00.123456Z") == datetime(
        2026, 11, 25, 6, 0, 0, 123456, tzinfo=UTC
    )
    assert idle.parse_time("2026-11-25T06:00:00") == datetime(2026, 11, 25, 6, tzinfo=UTC)
    assert idle.parse_time(None) is None


class _Hub(BaseHTTPRequestHandler):
    users: ClassVar[list] = []
    seen: ClassVar[list] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = parse_qs(url.query)
        type(self).seen.append((url.path, self.headers["Authorization"], q))
        offset, limit = int(q["offset"][0]), 2
        page = self.users[offset : offset + limit]
        nxt = {"offset": offset + limit} if offset + limit < len(self.users) else None
        body = json.dumps({"items": page, "_pagination": {"offset": offset, "limit": limit, "next": nxt}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_hub() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hub/api"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_follows_pagination_with_the_token(fake_hub: str) -> None:
    _Hub.users = [user(n, None) for n in ("a", "b", "c", "d", "e")]
    _Hub.seen = []
    got = idle.fetch_users(fake_hub, "sekrit")
    assert [u["name"] for u in got] == ["a", "b", "c", "d", "e"]
    assert [s[2]["offset"] for s in _Hub.seen] == [["0"], ["2"], ["4"]]
    assert all(s[0] == "/hub/api/users" and s[1] == "token sekrit" for s in _Hub.seen)
    assert _Hub.seen[0][2]["include_stopped_servers"] == ["1"]


def _config(tmp_path: Path, api: str, command: str, hours: float = 0.0001) -> Path:
    (tmp_path / "token").write_text("sekrit\n")
    cfg = tmp_path / "idle.json"
    cfg.write_text(
        json.dumps(
            {
                "idle_hours": hours,
                "hub_api_url": api,
                "poweroff_command": command,
                "token_file": str(tmp_path / "token"),
            }
        )
    )
    return cfg


def test_main_runs_the_poweroff_command_when_idle(fake_hub: str, tmp_path: Path) -> None:
    _Hub.users = [user("alice", NOW - timedelta(days=30))]
    marker = tmp_path / "off"
    assert idle.main(["--config", str(_config(tmp_path, fake_hub, f"touch {marker}"))]) == 0
    assert marker.exists()


def test_main_dry_run_and_busy_never_run_it(
    fake_hub: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "off"
    cfg = _config(tmp_path, fake_hub, f"touch {marker}")
    _Hub.users = [user("alice", NOW - timedelta(days=30))]
    assert idle.main(["--config", str(cfg), "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["poweroff"], out["acted"]) == (True, False)
    _Hub.users = [user("alice", NOW - timedelta(days=30), {"": server(NOW - timedelta(days=30), ready=True)})]
    assert idle.main(["--config", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["poweroff"], out["acted"]) == (False, False)
    assert not marker.exists()
