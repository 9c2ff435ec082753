"""Which authenticator a skyhub hub uses, and how skyhub's auth settings become its traits.

The one copy of that mapping. skyhub names the settings of each kind (the inventory's `tljh_<kind>_<key>`,
user-data's `<kind>: {<key>: ...}`); this module turns them into the authenticator's class and traits, for
TLJH's config.yaml (the tljh role's filter) and for Zero to JupyterHub's hub.config (the EKS values).

Standard library only: the Ansible controller and host tools load this file on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# kind -> (class, its entry-point name in JupyterHub's authenticator group)
CLASSES = {
    "firstuse": ("firstuseauthenticator.FirstUseAuthenticator", "firstuseauthenticator"),
    "github": ("oauthenticator.github.GitHubOAuthenticator", "github"),
    "oidc": ("oauthenticator.generic.GenericOAuthenticator", "generic-oauth"),
}
# kind -> {skyhub's setting: the authenticator's trait}
SETTINGS = {
    "firstuse": {"create_users": "create_users", "min_password_length": "min_password_length"},
    "github": {
        "client_id": "client_id",
        "client_secret": "client_secret",
        "allowed_organizations": "allowed_organizations",
        "allowed_users": "allowed_users",
    },
    "oidc": {
        "client_id": "client_id",
        "client_secret": "client_secret",
        "authorize_url": "authorize_url",
        "token_url": "token_url",
        "userdata_url": "userdata_url",
        "username_claim": "username_claim",
        "scopes": "scope",
        "allowed_users": "allowed_users",
        "allowed_groups": "allowed_groups",
        "groups_claim": "claim_groups_key",
    },
}
OAUTH_KINDS = ("github", "oidc")


def class_name(kind: str) -> str:
    """The authenticator's class name (the config section its traits go in), e.g. GitHubOAuthenticator."""
    return _class(kind).rsplit(".", 1)[1]


def _class(kind: str) -> str:
    if kind not in CLASSES:
        raise ValueError(f"the authenticator must be one of {', '.join(CLASSES)} (got {kind!r})")
    return CLASSES[kind][0]


def traits(kind: str, settings: Mapping[str, Any], callback_url: str = "") -> dict[str, Any]:
    """The authenticator's traits from skyhub's settings of that kind (keys of SETTINGS[kind]; a key not given
    is left to the authenticator's default), with what follows from them: an OAuth callback URL, GitHub's
    read:org scope when organisations are allowed, OIDC group management when groups are allowed."""
    _class(kind)
    out = {trait: settings[ours] for ours, trait in SETTINGS[kind].items() if ours in settings}
    if kind in OAUTH_KINDS and callback_url:
        out["oauth_callback_url"] = callback_url
    if kind == "github" and "allowed_organizations" in settings:
        out["scope"] = ["read:org"] if settings["allowed_organizations"] else []
    if kind == "oidc" and "allowed_groups" in settings:
        out["manage_groups"] = bool(settings["allowed_groups"])
    return out


def tljh_auth(kind: str, settings: Mapping[str, Any], callback_url: str = "") -> dict[str, Any]:
    """TLJH config.yaml's `auth` section: {"type": <class>, <ClassName>: {traits}}."""
    return {"type": _class(kind), class_name(kind): traits(kind, settings, callback_url)}


def role_settings(kind: str, role_vars: Mapping[str, Any]) -> dict[str, Any]:
    """skyhub's settings of one kind from the tljh role's variables (tljh_<kind>_<setting>)."""
    _class(kind)
    return {
        ours: role_vars[f"tljh_{kind}_{ours}"]
        for ours in SETTINGS[kind]
        if f"tljh_{kind}_{ours}" in role_vars
    }
