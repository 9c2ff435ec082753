"""skyhub-idle-shutdown against a real JupyterHub 5 on 127.0.0.1, registered by the role's own snippet."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest
import requests
from aws_helpers import ROOT

from skyhub.netutil import free_port, wait_port

pytestmark = pytest.mark.integration

ROLE = ROOT / "roles" / "idle_shutdown"
CHECKER = ROLE / "files" / "skyhub_idle_shutdown.py"


def render_snippet(token_file: Path, dest: Path) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    text = env.get_template("40-idle-shutdown.py.j2").render(
        ansible_managed="test",
        idle_shutdown_token_file=str(token_file),
        _idle_shutdown_service_name="idle-shutdown",
        _idle_shutdown_scopes=["list:users", "read:users:activity", "read:servers"],
    )
    dest.write_text(text)


class Hub:
    def __init__(self, api: str, admin_token: str, config: Path) -> None:
        self.api, self.config = api, config
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {admin_token}"

    def call(self, method: str, path: str, **kw: object) -> requests.Response:
        resp = self.session.request(method, f"{self.api}{path}", timeout=30, **kw)
        resp.raise_for_status()
        return resp

    def server_ready(self, user: str) -> bool:
        return bool(self.call("GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"))

    def wait(self, user: str, ready: bool) -> None:
        deadline = time.monotonic() + 30
        while self.server_ready(user) != ready:
            assert time.monotonic() < deadline, f"{user}'s server never became ready={ready}"
            time.sleep(0.3)

    def check(self, idle_hours: float, marker: Path) -> dict:
        """Run the checker once as the timer would, with a harmless power-off command."""
        res = subprocess.run(
            [
                sys.executable,
                str(CHECKER),
                "--config",
                str(self.config),
                "--json",
                "--idle-hours",
                str(idle_hours),
                "--poweroff-command",
                f"touch {marker}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        return json.loads(res.stdout)


@pytest.fixture
def hub(hub_python: Path, tmp_path: Path) -> Iterator[Hub]:
    state = tmp_path / "state"
    state.mkdir()
    token_file = tmp_path / "idle-shutdown.token"
    token_file.write_text(secrets.token_hex(32))
    render_snippet(token_file, tmp_path / "40-idle-shutdown.py")
    api_port, admin_token = free_port(), secrets.token_hex(32)
    config = tmp_path / "idle-shutdown.json"
    config.write_text(
        json.dumps(
            {
                "idle_hours": 2,
                "hub_api_url": f"http://127.0.0.1:{api_port}/hub/api",
                "poweroff_command": "false",
                "token_file": str(token_file),
            }
        )
    )
    env = {
        **os.environ,
        "SKYHUB_TEST_HUB_STATE": str(state),
        "SKYHUB_TEST_HUB_PORT": str(free_port()),
        "SKYHUB_TEST_HUB_API_PORT": str(api_port),
        "SKYHUB_TEST_ADMIN_TOKEN": admin_token,
        "SKYHUB_TEST_SNIPPET": str(tmp_path / "40-idle-shutdown.py"),
    }
    log = (tmp_path / "hub.log").open("w")
    proc = subprocess.Popen(
        [str(hub_python.parent / "jupyterhub"), "-f", str(Path(__file__).parent / "hub_stub_config.py")],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(api_port, timeout=60)
        yield Hub(f"http://127.0.0.1:{api_port}/hub/api", admin_token, config)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_running_server_keeps_the_instance_up_then_idle_powers_off(hub: Hub, tmp_path: Path) -> None:
    marker = tmp_path / "powered-off"
    hub.call("POST", "/users/alice")
    hub.call("POST", "/users/alice/server")
    hub.wait("alice", ready=True)

    up = hub.check(idle_hours=0.0001, marker=marker)  # window 0.36 s, long passed since boot
    assert up["poweroff"] is False and "servers running: alice/" in up["reason"]
    assert not marker.exists()

    hub.call("DELETE", "/users/alice/server")
    hub.wait("alice", ready=False)
    hub.call("POST", "/users/alice/activity", json={"last_activity": datetime.now(UTC).isoformat()})
    recent = hub.check(idle_hours=1, marker=marker)
    assert recent["poweroff"] is False and "last activity" in recent["reason"]
    assert not marker.exists()

    time.sleep(1)
    idle = hub.check(idle_hours=0.0001, marker=marker)
    assert idle == {"poweroff": True, "acted": True, "reason": idle["reason"]}
    assert "no server running and no activity since" in idle["reason"]
    assert marker.exists()


def test_the_service_token_is_read_only(hub: Hub) -> None:
    cfg = json.loads(hub.config.read_text())
    token = Path(cfg["token_file"]).read_text().strip()
    headers = {"Authorization": f"token {token}"}
    me = requests.get(f"{hub.api}/user", headers=headers, timeout=10).json()
    assert me["kind"] == "service" and me["name"] == "idle-shutdown"
    assert set(me["scopes"]) >= {"list:users", "read:users:activity", "read:servers"}
    hub.call("POST", "/users/bob")
    denied = requests.post(f"{hub.api}/users/bob/server", headers=headers, timeout=10)
    assert denied.status_code == 403
    assert requests.delete(f"{hub.api}/users/bob", headers=headers, timeout=10).status_code == 403


def test_unreachable_hub_never_powers_off(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("x")
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(
            {
                "idle_hours": 0.0001,
                "hub_api_url": f"http://127.0.0.1:{free_port()}/hub/api",
                "poweroff_command": f"touch {tmp_path / 'marker'}",
                "token_file": str(token),
            }
        )
    )
    res = subprocess.run(
        [sys.executable, str(CHECKER), "--config", str(config)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 1 and "cannot ask the hub" in res.stderr
    assert not (tmp_path / "marker").exists()
