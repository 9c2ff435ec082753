"""Filter for the tljh role: config.yaml's `auth` section from the role's auth variables.

The mapping itself is the hub plugin's (plugin/tljh_skyhub/auth.py, shipped in this role's files as
tljh-skyhub): one copy, shared with first boot and the EKS values.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_AUTH_PY = Path(__file__).resolve().parents[1] / "files" / "tljh-skyhub" / "tljh_skyhub" / "auth.py"
_spec = importlib.util.spec_from_file_location("tljh_skyhub_auth", _AUTH_PY)
auth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(auth)


def tljh_auth_section(kind: str, role_vars: Mapping[str, Any], callback_url: str = "") -> dict[str, Any]:
    """{"type": <class>, <ClassName>: {traits}} for tljh_authenticator `kind`, from the tljh_<kind>_* vars."""
    return auth.tljh_auth(kind, auth.role_settings(kind, role_vars), callback_url)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tljh_auth_section": tljh_auth_section}
