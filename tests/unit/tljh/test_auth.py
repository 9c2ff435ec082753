"""The auth mapping (plugin/tljh_skyhub/auth.py) and the tljh role's filter over it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from tljh_skyhub import auth

ROLE = Path(__file__).resolve().parents[3] / "roles" / "tljh"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


@pytest.fixture(scope="module")
def role_filter():
    sys.path.insert(0, str(ROLE / "filter_plugins"))
    try:
        import tljh_auth
    finally:
        sys.path.pop(0)
    return tljh_auth.tljh_auth_section


def test_every_kind_from_the_role_defaults_names_a_class_and_only_known_traits(role_filter):
    for kind in auth.CLASSES:
        section = role_filter(kind, DEFAULTS, "https://hub.example.org/hub/oauth_callback")
        (cls,) = [k for k in section if k != "type"]
        assert section["type"].endswith("." + cls) and section["type"] == auth.CLASSES[kind][0]
        derived = {"oauth_callback_url", "scope", "manage_groups"}
        assert set(section[cls]) <= set(auth.SETTINGS[kind].values()) | derived
    assert role_filter("firstuse", DEFAULTS)["FirstUseAuthenticator"] == {
        "create_users": DEFAULTS["tljh_firstuse_create_users"],
        "min_password_length": DEFAULTS["tljh_firstuse_min_password_length"],
    }


def test_derived_traits_follow_the_settings():
    gh = auth.traits("github", {"allowed_organizations": ["obs"], "client_id": "x"}, "https://h/cb")
    assert gh == {
        "allowed_organizations": ["obs"],
        "client_id": "x",
        "scope": ["read:org"],
        "oauth_callback_url": "https://h/cb",
    }
    # control: without organisations no read:org scope is asked for
    assert auth.traits("github", {"allowed_organizations": []})["scope"] == []
    oidc = auth.traits("oidc", {"allowed_groups": ["staff"], "scopes": ["openid"], "groups_claim": "g"})
    assert oidc == {
        "allowed_groups": ["staff"],
        "scope": ["openid"],
        "claim_groups_key": "g",
        "manage_groups": True,
    }
    assert auth.traits("oidc", {"allowed_groups": []})["manage_groups"] is False


def test_an_unknown_kind_is_a_clear_error(role_filter):
    with pytest.raises(ValueError, match=r"one of firstuse, github, oidc \(got 'ldap'\)"):
        role_filter("ldap", DEFAULTS)
