"""Fixtures for the settings unit tests: filter plugins loaded from their files (as Ansible loads them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def settings_filters() -> ModuleType:
    return load(ROOT / "playbooks" / "filter_plugins" / "skyhub_settings.py", "skyhub_settings_filters")


@pytest.fixture(scope="session")
def network_filters() -> ModuleType:
    return load(ROOT / "roles" / "tljh" / "filter_plugins" / "tljh_network.py", "tljh_network_filters")
