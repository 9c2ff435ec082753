"""Fixtures of the preflight tier: the throwaway test-host containers the cases run against."""

from __future__ import annotations

import subprocess

import pytest
from preflight_helpers import start_container


@pytest.fixture(scope="session")
def target_container():
    name = start_container()
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


@pytest.fixture
def fresh_container():
    """A container of its own, for a test that lets a role change the host."""
    name = start_container()
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
