"""The hub settings the launch carries in the instance's user-data (the `skyhub:` mapping of cloud-config).

roles/first_boot's skyhub-first-boot reads that mapping on the instance's first boot and writes it into TLJH's
config.yaml. Its keys come from the same inventory variables the tljh role reads (tljh_authenticator,
tljh_<kind>_<setting>, tljh_admin_users, tljh_admin_password_hashes, tljh_https_domains,
tljh_letsencrypt_email, tljh_firstuse_create_users), so an instance launched from the AMI starts with the
settings `playbooks/site.yml` would write. Which tljh_<kind>_<setting> is which user-data key is the hub
plugin's auth mapping (plugin/tljh_skyhub/auth.py: user-data's `<kind>: {<setting>: ...}` uses its setting
names); nothing here copies it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tljh_skyhub import auth

# A key whose value must not be shown: OAuth client secrets, password hashes, tokens (not token_url).
_SECRET_KEY = re.compile(r"(^|_)(secret|password|passwd|token|hash|hashes)$", re.IGNORECASE)


def open_signup(role_vars: Mapping[str, Any]) -> bool:
    """Anyone who reaches the hub may create an account: first-use login with tljh_firstuse_create_users."""
    kind = str(role_vars.get("tljh_authenticator", "firstuse"))
    return kind == "firstuse" and bool(role_vars.get("tljh_firstuse_create_users", False))


def hub_settings(role_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The `skyhub:` user-data settings from the tljh role's variables (only those given are carried:
    a variable not set leaves the image's setting; without tljh_authenticator, e.g. the role used without the
    tljh role's defaults, nothing is carried)."""
    if "tljh_authenticator" not in role_vars:
        return {}
    kind = str(role_vars["tljh_authenticator"])
    auth.class_name(kind)  # an unknown kind raises ValueError naming the choices
    out: dict[str, Any] = {"authenticator": kind}
    admins = role_vars.get("tljh_admin_users") or []
    if admins:
        out["admins"] = [str(a) for a in admins]
    hashes = role_vars.get("tljh_admin_password_hashes") or {}
    if hashes:
        out["admin_password_hashes"] = {str(k): str(v) for k, v in hashes.items()}
    if kind in auth.OAUTH_KINDS:
        section = auth.role_settings(kind, role_vars)
        callback = str(role_vars.get("tljh_oauth_callback_url") or "")
        if callback:
            section["callback_url"] = callback
        out[kind] = section
    domains = [str(d) for d in role_vars.get("tljh_https_domains") or []]
    if domains:
        out["https"] = {"domains": domains, "email": str(role_vars.get("tljh_letsencrypt_email") or "")}
    if open_signup(role_vars):
        out["open_signup"] = True
    return out


def secret_keys(settings: Any, path: str = "") -> list[str]:
    """Dotted paths of the non-empty secrets in `settings` (the task carrying them is no_log)."""
    out: list[str] = []
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            where = f"{path}.{key}" if path else str(key)
            if _SECRET_KEY.search(str(key)) and value not in (None, "", [], {}):
                out.append(where)
            else:
                out.extend(secret_keys(value, where))
    elif isinstance(settings, list):
        for i, value in enumerate(settings):
            out.extend(secret_keys(value, f"{path}[{i}]"))
    return out
