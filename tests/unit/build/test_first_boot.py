"""skyhub-first-boot (roles/first_boot/files): secrets once per instance, settings into TLJH's config.yaml."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import stat
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "first_boot" / "files" / "skyhub-first-boot"


def _load():
    loader = importlib.machinery.SourceFileLoader("skyhub_first_boot", str(SCRIPT))
    spec = importlib.util.spec_from_loader("skyhub_first_boot", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


fb = _load()


@pytest.fixture
def inst(tmp_path):
    """A fake instance: prefix, machine-id, marker, settings file, user-data."""
    (tmp_path / "opt/config").mkdir(parents=True)
    (tmp_path / "opt/config/config.yaml").write_text(
        yaml.safe_dump({"users": {"admin": ["admin"]}, "auth": {"type": fb.AUTH_CLASSES["firstuse"]}})
    )
    (tmp_path / "machine-id").write_text("aaaa\n")

    def argv(*extra: str) -> list[str]:
        return [
            "--prefix", str(tmp_path / "opt"),
            "--marker", str(tmp_path / "done"),
            "--machine-id", str(tmp_path / "machine-id"),
            "--user-data", str(tmp_path / "user-data.txt"),
            "--settings-file", str(tmp_path / "instance.yml"),
            "--dataset-conf-dir", str(tmp_path / "datasets"),
            "--etc-ssh", str(tmp_path / "no-ssh"),
            "--tls-dir", str(tmp_path / "tls"),
            "--instance-data", str(tmp_path / "instance-data.json"),
            *extra,
        ]  # fmt: skip

    return tmp_path, argv


def _secrets(root: Path) -> tuple[str, str]:
    state = root / "opt/state"
    return (state / "jupyterhub_cookie_secret").read_text(), (state / "traefik-api.secret").read_text()


def test_secrets_are_private_random_and_made_once_per_instance(inst):
    root, argv = inst
    assert fb.main(argv()) == 0
    first = _secrets(root)
    assert all(len(s) == 64 for s in first) and first[0] != first[1]
    for name in ("jupyterhub_cookie_secret", "traefik-api.secret"):
        assert stat.S_IMODE((root / "opt/state" / name).stat().st_mode) == 0o600
    assert (root / "done").read_text().strip() == "aaaa"
    # a reboot of the same instance changes nothing
    assert fb.main(argv()) == 0
    assert _secrets(root) == first


def test_a_new_instance_keeps_existing_secrets_but_reruns_settings(inst):
    root, argv = inst
    fb.main(argv())
    (root / "machine-id").write_text("bbbb\n")
    (root / "instance.yml").write_text("admins: [carol]\n")
    fb.main(argv())
    assert (root / "done").read_text().strip() == "bbbb"
    config = yaml.safe_load((root / "opt/config/config.yaml").read_text())
    assert config["users"]["admin"] == ["carol"]


def test_user_data_skyhub_section_is_applied(inst):
    root, argv = inst
    (root / "user-data.txt").write_text(
        "#cloud-config\npackages: []\nskyhub:\n"
        "  admins: [alice, bob]\n"
        "  authenticator: github\n"
        "  github: {client_id: cid, client_secret: cs, allowed_organizations: [astro]}\n"
        "  https: {domains: [hub.example.org], email: ops@example.org}\n"
    )
    assert fb.main(argv()) == 0
    config = yaml.safe_load((root / "opt/config/config.yaml").read_text())
    assert config["users"]["admin"] == ["alice", "bob"]
    assert config["auth"]["type"] == "oauthenticator.github.GitHubOAuthenticator"
    gh = config["auth"]["GitHubOAuthenticator"]
    assert gh["client_id"] == "cid" and gh["allowed_organizations"] == ["astro"]
    assert gh["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert config["https"] == {
        "enabled": True,
        "letsencrypt": {"email": "ops@example.org", "domains": ["hub.example.org"]},
    }
    assert stat.S_IMODE((root / "opt/config/config.yaml").stat().st_mode) == 0o600


def test_settings_file_wins_over_user_data(inst):
    root, argv = inst
    (root / "user-data.txt").write_text("#cloud-config\nskyhub:\n  admins: [alice]\n")
    (root / "instance.yml").write_text("skyhub:\n  admins: [zed]\n")
    fb.main(argv())
    assert yaml.safe_load((root / "opt/config/config.yaml").read_text())["users"]["admin"] == ["zed"]


def test_oidc_settings_map_to_tljh_keys():
    cfg = fb.apply_settings(
        {},
        {
            "authenticator": "oidc",
            "oidc": {
                "client_id": "c",
                "client_secret": "s",
                "authorize_url": "https://id/a",
                "token_url": "https://id/t",
                "userdata_url": "https://id/u",
                "scopes": ["openid"],
                "allowed_groups": ["astro"],
                "callback_url": "https://hub/hub/oauth_callback",
            },
        },
    )
    oidc = cfg["auth"]["GenericOAuthenticator"]
    assert oidc["scope"] == ["openid"] and oidc["manage_groups"] is True
    assert oidc["oauth_callback_url"] == "https://hub/hub/oauth_callback"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"admin": ["x"]}, "unknown settings"),
        ({"admins": "alice"}, "list of names"),
        ({"authenticator": "ldap"}, "authenticator"),
        ({"authenticator": "github", "github": {"client_id": "x"}}, "client_secret"),
        ({"https": {"domains": ["h.org"]}}, "https.email"),
    ],
)
def test_bad_settings_are_named(settings, needle):
    with pytest.raises(fb.SettingsError, match=needle):
        fb.apply_settings({}, settings)


def test_bad_settings_keep_the_secrets_and_retry_at_next_boot(inst):
    root, argv = inst
    (root / "instance.yml").write_text("authenticator: ldap\n")
    assert fb.main(argv()) == 2
    assert all(_secrets(root))  # secrets exist: the hub can still start with the image's settings
    assert not (root / "done").exists()


def test_user_data_that_is_not_cloud_config_has_no_settings(tmp_path):
    p = tmp_path / "ud"
    p.write_text("#!/bin/bash\necho hi\n")
    assert fb.read_user_data(p) == {}


def test_dataset_selection(tmp_path):
    for name in ("hst", "jwst"):
        (tmp_path / f"{name}.conf").write_text("")
    assert fb.select_datasets(tmp_path, ["hst", "tess"]) == (["hst"], ["jwst"], ["tess"])


def test_first_boot_reads_the_file_the_aws_launch_user_data_writes():
    """aws_launch's user-data writes the settings file; first boot must read that very path and accept the
    launch facts written next to the settings."""
    repo = SCRIPT.parents[3]
    defaults = yaml.safe_load((repo / "roles/first_boot/defaults/main.yml").read_text())
    user_data = (repo / "roles/aws_launch/templates/user-data.yml.j2").read_text()
    written = re.findall(r"^\s+- path: (\S+)", user_data, re.MULTILINE)
    assert defaults["first_boot_settings_file"] in written
    facts = set(re.findall(r"'(\w+)': ", user_data.split("instance-settings.json", 1)[1].split("to_json")[0]))
    assert facts == set(fb.LAUNCH_KEYS)
    fb.validate({**dict.fromkeys(fb.LAUNCH_KEYS, "x"), "admins": ["ann"]})
    with pytest.raises(fb.SettingsError, match="unknown settings"):
        fb.validate({"region": "x", "colour": "blue"})


def test_token_files_the_image_cleanup_removed_are_made_per_instance(inst, tmp_path):
    root, argv = inst
    token = root / "etc" / "skyhub" / "idle-shutdown.token"
    assert fb.main(argv("--token-file", str(token))) == 0
    first = token.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    # present: kept (a reboot of the same instance, or a host converged in place)
    assert fb.main(argv("--token-file", str(token), "--force")) == 0
    assert token.read_text() == first
