"""Fixtures for the monitoring unit tests: skyhub-metrics and skyhub-status loaded from the role's files, and
the sources skyhub status reads, as the real tools print them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
FILES = ROOT / "roles" / "monitoring" / "files"


def _load(name: str, filename: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FILES / filename)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def metrics() -> ModuleType:
    return _load("skyhub_metrics", "skyhub_metrics.py")


@pytest.fixture(scope="session")
def status() -> ModuleType:
    return _load("skyhub_status", "skyhub_status.py")


NOW = 1_764_540_000.0  # 2025-11-30T22:00:00Z


@pytest.fixture
def gathered() -> dict[str, Any]:
    """What `gather` returns on a healthy hub: two users, alice's server running, a backup an hour ago."""
    return {
        "host": "skyhub-1",
        "time": NOW,
        "services": {"jupyterhub.service": "active", "traefik.service": "active", "docker.service": "active"},
        "hub": {
            "users": [
                {
                    "name": "alice",
                    "admin": False,
                    "last_activity": "2025-11-30T21:58:00Z",
                    "servers": {"": {"ready": True, "pending": None, "started": "2025-11-30T21:40:00Z"}},
                },
                {"name": "bob", "admin": True, "last_activity": "2025-11-29T10:00:00Z", "servers": {}},
            ]
        },
        "quota": {
            "enforced": False,
            "warn_percent": 90,
            "users": [
                {"user": "alice", "used": 150 * 2**20, "quota": 200 * 2**20, "percent": 75.0, "warn": False},
                {"user": "bob", "used": 190 * 2**20, "quota": 200 * 2**20, "percent": 95.0, "warn": True},
            ],
        },
        "backup": {
            "last_status": "ok",
            "last_success": "2025-11-30T21:00:00+00:00",
            "last_attempt": "2025-11-30T20:59:00+00:00",
            "repository_size": 12 * 2**20,
        },
        "datasets": [
            {
                "name": "hst",
                "mountpoint": "/srv/skyhub/data/hst",
                "unit": "active",
                "mounted": True,
                "answering": True,
                "probed_at": NOW - 12,
            }
        ],
        "alerts": {"alerts": []},
    }
