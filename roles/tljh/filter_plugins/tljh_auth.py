"""Filters for the tljh role: config.yaml's `auth` section from the role's auth variables; admin password
hashes checked by the plugin's rules (plugin/tljh_skyhub/adminpw.py).

The mapping itself is the hub plugin's (plugin/tljh_skyhub/auth.py, shipped in this role's files as
tljh-skyhub): one copy, shared with first boot and the EKS values.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_PLUGIN = Path(__file__).resolve().parents[1] / "files" / "tljh-skyhub" / "tljh_skyhub"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"tljh_skyhub_{name}", _PLUGIN / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


auth = _load("auth")
adminpw = _load("adminpw")


def tljh_auth_section(kind: str, role_vars: Mapping[str, Any], callback_url: str = "") -> dict[str, Any]:
    """{"type": <class>, <ClassName>: {traits}} for tljh_authenticator `kind`, from the tljh_<kind>_* vars."""
    return auth.tljh_auth(kind, auth.role_settings(kind, role_vars), callback_url)


def tljh_admin_hash_problem(hashes: Any, admins: list[str]) -> str:
    """Why tljh_admin_password_hashes cannot be used ("" when it can): the plugin's rules for names and bcrypt
    hashes, and every name one of tljh_admin_users."""
    try:
        adminpw.check_hashes(hashes, "tljh_admin_password_hashes")
    except ValueError as exc:
        return str(exc)
    strangers = sorted(set(hashes) - set(admins))
    if strangers:
        return (
            f"tljh_admin_password_hashes names {strangers}, which are not in "
            f"tljh_admin_users {list(admins)}: add them there, or remove their hashes"
        )
    return ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"tljh_auth_section": tljh_auth_section, "tljh_admin_hash_problem": tljh_admin_hash_problem}
