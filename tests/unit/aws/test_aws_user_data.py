"""The hub settings the launch puts in user-data: from the inventory's tljh_* settings, through the hub
plugin's auth mapping, into the `skyhub:` mapping that skyhub-first-boot (roles/first_boot) reads and
applies."""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from tljh_skyhub import auth

from skyhub.aws.user_data import hub_settings, open_signup, secret_keys

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "roles/aws_launch/templates/user-data.yml.j2"
TLJH_DEFAULTS = yaml.safe_load((ROOT / "roles/tljh/defaults/main.yml").read_text())


def _first_boot():
    path = ROOT / "roles/first_boot/files/skyhub-first-boot"
    loader = importlib.machinery.SourceFileLoader("skyhub_first_boot_ud", str(path))
    spec = importlib.util.spec_from_loader("skyhub_first_boot_ud", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


fb = _first_boot()
fb.use_plugin(ROOT / "plugin")  # the hub plugin's auth mapping and admin password rules, from the repository

OIDC = {
    "tljh_authenticator": "oidc",
    "tljh_admin_users": ["ann", "bob"],
    "tljh_oidc_client_id": "hub",
    "tljh_oidc_client_secret": "s3cret-oidc",
    "tljh_oidc_authorize_url": "https://login.example.org/authorize",
    "tljh_oidc_token_url": "https://login.example.org/token",
    "tljh_oidc_userdata_url": "https://login.example.org/userinfo",
    "tljh_oidc_allowed_groups": ["astro"],
    "tljh_https_domains": ["hub.example.org"],
    "tljh_letsencrypt_email": "ops@example.org",
}
GITHUB = {
    "tljh_authenticator": "github",
    "tljh_github_client_id": "gh",
    "tljh_github_client_secret": "s3cret-gh",
    "tljh_github_allowed_organizations": ["astro-lab"],
    "tljh_oauth_callback_url": "https://hub.example.org/hub/oauth_callback",
}


def inventory(**overrides: Any) -> dict[str, Any]:
    """The variables aws_launch sees: the tljh role's defaults (aws.yml loads them) under the inventory's."""
    return {**TLJH_DEFAULTS, **overrides}


def render_user_data(role_vars: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """roles/aws_launch/templates/user-data.yml.j2 rendered as Ansible would (its filters stood in for)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = lambda v, sort_keys=False: json.dumps(v, sort_keys=sort_keys)
    env.filters["combine"] = lambda a, b: {**a, **b}
    return env.from_string(TEMPLATE.read_text()).render(
        aws_launch_name="skyhub",
        aws_launch_region="us-east-1",
        aws_launch_home_volume_device="/dev/sdf",
        aws_launch_instance_settings=extra or {},
        _aws_launch_hub_settings=hub_settings(role_vars),
    )


def test_oidc_settings_become_the_oidc_section_under_first_boots_keys():
    settings = hub_settings(inventory(**OIDC))
    assert settings == {
        "authenticator": "oidc",
        "admins": ["ann", "bob"],
        "oidc": {
            "client_id": "hub",
            "client_secret": "s3cret-oidc",
            "authorize_url": "https://login.example.org/authorize",
            "token_url": "https://login.example.org/token",
            "userdata_url": "https://login.example.org/userinfo",
            "username_claim": "preferred_username",
            "scopes": ["openid", "profile", "email"],
            "allowed_users": [],
            "allowed_groups": ["astro"],
            "groups_claim": "groups",
        },
        "https": {"domains": ["hub.example.org"], "email": "ops@example.org"},
    }
    # the section's keys are the plugin's setting names, the ones first boot maps (it loads the same module)
    assert set(settings["oidc"]) == set(auth.SETTINGS["oidc"])
    assert secret_keys(settings) == ["oidc.client_secret"]


def test_the_generated_user_data_is_cloud_config_first_boot_reads_and_applies(tmp_path):
    text = render_user_data(inventory(**OIDC))
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)
    assert data["skyhub"] == hub_settings(inventory(**OIDC))
    assert {f["path"] for f in data["write_files"]} == {
        "/etc/skyhub/instance-settings.json",
        "/usr/local/sbin/skyhub-home-volume",
    }
    # EC2 returns user-data base64-encoded, cloud-init writes it to user-data.txt: first boot reads that file
    (tmp_path / "user-data.txt").write_bytes(base64.b64decode(base64.b64encode(text.encode())))
    section = fb.read_user_data(tmp_path / "user-data.txt")
    fb.validate(section)
    config = fb.apply_settings({"users": {"admin": ["admin"]}}, section)
    assert config["users"]["admin"] == ["ann", "bob"]
    # first boot's https step (apply_https) turns the carried domains into TLJH's Let's Encrypt section
    assert fb.https_settings(config.get("https") or {}, section["https"], tmp_path / "tls") == {
        "enabled": True,
        "letsencrypt": {"email": "ops@example.org", "domains": ["hub.example.org"]},
    }
    # the instance's auth section is the one site.yml's tljh role writes from the same inventory
    callback = "https://hub.example.org/hub/oauth_callback"
    assert config["auth"] == auth.tljh_auth("oidc", auth.role_settings("oidc", inventory(**OIDC)), callback)


def test_github_with_its_callback_url_reaches_the_instance_as_site_yml_would_write_it(tmp_path):
    role_vars = inventory(**GITHUB)
    settings = hub_settings(role_vars)
    assert settings["github"]["callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert "https" not in settings and "admins" not in settings  # not set: the image's settings stay
    (tmp_path / "ud").write_text(render_user_data(role_vars))
    config = fb.apply_settings({}, fb.read_user_data(tmp_path / "ud"))
    assert config["auth"] == auth.tljh_auth(
        "github", auth.role_settings("github", role_vars), "https://hub.example.org/hub/oauth_callback"
    )
    assert secret_keys(settings) == ["github.client_secret"]


def test_open_signup_is_carried_only_when_first_use_creates_users():
    assert open_signup(inventory(tljh_firstuse_create_users=True))
    assert hub_settings(inventory(tljh_firstuse_create_users=True))["open_signup"] is True
    closed = hub_settings(inventory(tljh_firstuse_create_users=False))
    assert closed == {"authenticator": "firstuse"} and secret_keys(closed) == []
    # create_users means nothing to GitHub/OIDC login: their allow lists decide
    assert not open_signup(inventory(**GITHUB, tljh_firstuse_create_users=True))
    assert "open_signup" not in hub_settings(inventory(**GITHUB, tljh_firstuse_create_users=True))


def test_first_boot_takes_open_signup():
    """The key the launch writes for open sign-up is one first boot accepts."""
    fb.validate(hub_settings(inventory(tljh_firstuse_create_users=True)))


ADMIN_HASH = "$2b$12$" + "a" * 53


def test_admin_password_hashes_are_carried_as_a_secret_first_boot_takes():
    settings = hub_settings(
        inventory(tljh_admin_users=["ann"], tljh_admin_password_hashes={"ann": ADMIN_HASH})
    )
    assert settings["admin_password_hashes"] == {"ann": ADMIN_HASH}
    assert secret_keys(settings) == ["admin_password_hashes"]  # the instance task is no_log
    fb.validate(settings)
    # control: without hashes nothing secret is carried
    assert secret_keys(hub_settings(inventory(tljh_admin_users=["ann"]))) == []


def test_without_the_tljh_settings_nothing_is_carried():
    assert hub_settings({"tljh_admin_users": ["ann"]}) == {}
    assert "skyhub: {}" in render_user_data({})


def test_an_unknown_authenticator_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="firstuse, github, oidc"):
        hub_settings(inventory(tljh_authenticator="ldap"))


def test_secrets_anywhere_in_the_settings_are_found_for_no_log():
    assert secret_keys({"admin_password_hash": "$2b$12$abc", "admins": ["ann"]}) == ["admin_password_hash"]
    assert secret_keys({"oidc": {"client_secret": ""}, "x": [{"token": "t"}]}) == ["x[0].token"]
    assert secret_keys({"authenticator": "firstuse", "https": {"domains": ["a.example"]}}) == []
    assert secret_keys({"oidc": {"token_url": "https://x/token", "client_secret": "s"}}) == [
        "oidc.client_secret"
    ]
