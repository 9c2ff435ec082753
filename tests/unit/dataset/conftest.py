"""Fixtures for the dataset unit tests: the dataset_mount role's filter module, loaded from its file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
FILTERS = ROOT / "roles" / "dataset_mount" / "filter_plugins" / "dataset_mount.py"


@pytest.fixture(scope="session")
def dm_filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dataset_mount_filters", FILTERS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
