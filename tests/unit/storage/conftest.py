"""Fixtures for the storage unit tests: a temporary host layout for skyhub-quota."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hub_limits import limits_command


@pytest.fixture
def quota_host(tmp_path: Path) -> dict[str, Any]:
    """Settings for skyhub-quota pointing every path into tmp_path; homes for alice and bob."""
    home = tmp_path / "home"
    for user in ("alice", "bob"):
        (home / user).mkdir(parents=True)
    cfg = {
        "home_root": str(home),
        "default_size": "1M",
        "user_sizes": {"bob": "4M"},
        "group_sizes": {"astro": "2M", "big": "3M"},
        "warn_percent": 90,
        "hub_db": str(tmp_path / "hub.sqlite"),
        "limits_command": limits_command(tmp_path / "config.json", {}),
        "backup_state_file": str(tmp_path / "backup-state.json"),
        "state_file": str(tmp_path / "quota-state.json"),
        "projid_file": str(tmp_path / "projid"),
        "projects_file": str(tmp_path / "projects"),
    }
    config = tmp_path / "quotas.json"
    config.write_text(json.dumps(cfg))
    return {"cfg": cfg, "config": str(config), "home": home, "root": tmp_path}


@pytest.fixture(autouse=True)
def safehome_child_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The home helper runs as uid 1000: the venv's interpreter may live under /root, Debian's does not."""
    from skyhub import safehome

    monkeypatch.setattr(safehome, "CHILD_PYTHON", "/usr/bin/python3")
