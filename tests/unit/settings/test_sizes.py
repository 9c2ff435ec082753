"""The quotas role's size rule: a number above zero with a binary unit (the preflight's one regex)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SIZE = re.compile(yaml.safe_load((ROOT / "roles/quotas/vars/main.yml").read_text())["_quotas_size_regex"])


@pytest.mark.parametrize("size", ["10G", "500M", "1.5T", "0.5G", "10 GiB", "200MB", "1k", "2p"])
def test_sizes_with_a_unit_above_zero_pass(size):
    assert SIZE.match(size)


@pytest.mark.parametrize("size", ["0", "0G", "0.0T", "00M", "10", "1.5", "G", "10X", "-1G", "ten G", ""])
def test_zero_or_unitless_sizes_fail(size):
    assert not SIZE.match(size)


def test_the_role_default_passes():
    assert SIZE.match(
        yaml.safe_load((ROOT / "roles/quotas/defaults/main.yml").read_text())["quotas_default_size"]
    )
