"""Fixtures for the appliance checks (see fixtures.py, shared with tests/security)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fixtures import admin, hub_url, new_user  # noqa: F401
