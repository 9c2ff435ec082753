"""Fixtures for the attack tests: a hostile signed-in user acts through the hub (login, server, kernel), then
the host action runs, and a root-owned canary on the host must be unchanged.

Target: a testinfra `host` (the Molecule appliance host, or `--hosts=docker://NAME` for a booted image)."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "appliance"))
from fixtures import admin, hub_url, new_user  # noqa: F401
from hub import HubUser


@pytest.fixture(scope="module")
def working_user(new_user):  # noqa: F811 (the imported fixture, requested by name)
    """Make a signed-in user whose server runs, holds `files`, and stays in use for the whole module: it
    reports activity from a background thread (the appliance culls servers idle for 60 s)."""
    stops = []

    def make(prefix: str, files: dict[str, str] | None = None) -> HubUser:
        user = new_user(prefix)
        user.start()
        for path, text in (files or {}).items():
            user.write_file(path, text)
        stops.append(user.heartbeat())
        return user

    yield make
    for stop in stops:
        stop.set()


@dataclass
class Canary:
    """A root-owned, mode-0600 file on the host whose owner, mode and content must never change."""

    host: object
    path: str
    content: str

    def state(self) -> tuple[str, str]:
        stat = self.host.check_output(f"stat -c '%u:%g:%a:%s:%F' {self.path}")
        return stat, self.host.check_output(f"cat {self.path}")

    def assert_intact(self) -> None:
        stat, content = self.state()
        assert stat == f"0:0:600:{len(self.content)}:regular file", f"canary {self.path} changed: {stat}"
        assert content == self.content, f"canary {self.path} content changed: {content[:200]!r}"


@pytest.fixture
def canary(host):
    """A fresh canary at a random path under /root (a file that root owns and nobody else may touch)."""
    path = f"/root/skyhub-canary-{secrets.token_hex(4)}"
    content = f"canary {secrets.token_hex(8)}"
    host.check_output(f"umask 077 && printf %s '{content}' > {path} && chown 0:0 {path} && chmod 600 {path}")
    made = Canary(host, path, content)
    made.assert_intact()
    yield made
    host.run(f"rm -f {path}")
