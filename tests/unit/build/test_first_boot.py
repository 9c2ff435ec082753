"""skyhub-first-boot (roles/first_boot/files): secrets once per instance, settings into TLJH's config.yaml."""

from __future__ import annotations

import dbm
import importlib.machinery
import importlib.util
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "roles" / "first_boot" / "files" / "skyhub-first-boot"
PLUGIN = REPO / "plugin"


def _load():
    loader = importlib.machinery.SourceFileLoader("skyhub_first_boot", str(SCRIPT))
    spec = importlib.util.spec_from_loader("skyhub_first_boot", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


fb = _load()
fb.use_plugin(PLUGIN)  # the hub plugin's auth mapping and admin password rules, from the repository
sys.path.insert(0, str(PLUGIN))
from tljh_skyhub import adminpw  # noqa: E402


def first_boot_argv(tmp_path: Path, *extra: str) -> list[str]:
    """First boot's argv for a fake instance under tmp_path (every path it writes is in there)."""
    return [
        "--prefix", str(tmp_path / "opt"),
        "--marker", str(tmp_path / "done"),
        "--machine-id", str(tmp_path / "machine-id"),
        "--user-data", str(tmp_path / "user-data.txt"),
        "--settings-file", str(tmp_path / "instance.yml"),
        "--dataset-conf-dir", str(tmp_path / "datasets"),
        "--etc-ssh", str(tmp_path / "no-ssh"),
        "--plugin-dir", str(PLUGIN),
        "--hub-python", sys.executable,
        "--passwords-dbm", str(tmp_path / "opt/state/passwords.dbm"),
        "--password-file", str(tmp_path / "root/skyhub-admin-password"),
        "--console", str(tmp_path / "console"),
        "--tls-dir", str(tmp_path / "tls"),
        "--instance-data", str(tmp_path / "instance-data.json"),
        *extra,
    ]  # fmt: skip


@pytest.fixture
def inst(tmp_path):
    """A fake instance: prefix, machine-id, marker, settings file, user-data."""
    (tmp_path / "opt/config").mkdir(parents=True)
    (tmp_path / "opt/config/config.yaml").write_text(
        yaml.safe_dump(
            {
                "users": {"admin": ["admin"]},
                "auth": {"type": fb.FIRSTUSE, "FirstUseAuthenticator": {"min_password_length": 10}},
            }
        )
    )
    (tmp_path / "machine-id").write_text("aaaa\n")

    def argv(*extra: str) -> list[str]:
        return first_boot_argv(tmp_path, *extra)

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


def test_bad_settings_fail_closed_say_why_and_retry_at_next_boot(inst, capsys):
    root, argv = inst
    before = (root / "opt/config/config.yaml").read_text()
    (root / "instance.yml").write_text("authenticator: ldap\n")
    assert fb.main(argv()) == 2  # the unit fails: the hub, which Requires= it, does not start
    out = capsys.readouterr().out  # the unit's stdout: journal+console
    assert "`authenticator` must be one of" in out and "the hub does NOT start until this is fixed" in out
    assert not (root / "done").exists()  # the next boot (or `systemctl start jupyterhub`) tries again
    assert (root / "opt/config/config.yaml").read_text() == before
    assert not (root / "root/skyhub-admin-password").exists()
    # control: the same instance with the setting fixed succeeds
    (root / "instance.yml").write_text("authenticator: firstuse\n")
    assert fb.main(argv()) == 0 and (root / "done").is_file()


def test_a_missing_hub_plugin_fails_closed(inst, tmp_path, capsys):
    _, argv = inst
    assert fb.main([*argv(), "--plugin-dir", str(tmp_path / "nowhere")]) == 2
    assert "the hub plugin is not installed" in capsys.readouterr().out


# ---------------------------------------------------------------- closed sign-up and the admin's password
def _config(root: Path) -> dict:
    return yaml.safe_load((root / "opt/config/config.yaml").read_text())


def _passwords(root: Path) -> dict[str, str]:
    text = (root / "root/skyhub-admin-password").read_text()
    return dict(line.split(" ", 1) for line in text.splitlines())


def test_without_settings_the_admin_gets_a_one_time_password_and_sign_up_stays_closed(inst, capsys):
    root, argv = inst
    assert fb.main(argv()) == 0
    made = _passwords(root)
    assert set(made) == {"admin"} and len(made["admin"]) >= 16
    assert stat.S_IMODE((root / "root/skyhub-admin-password").stat().st_mode) == 0o600
    dbm_path = str(root / "opt/state/passwords.dbm")
    # what FirstUseAuthenticator checks at login: bcrypt.hashpw(password, stored) == stored
    assert adminpw.verify(dbm_path, "admin", made["admin"])
    assert not adminpw.verify(dbm_path, "admin", "a-first-comer-guess")  # control
    out = capsys.readouterr().out
    assert made["admin"] not in out  # the journal says where, not what
    assert "/root/skyhub-admin-password" in out and "sign-up is closed" in out
    # a new instance of the same disk (or a re-run) keeps the password: never replaced once set
    assert fb.main(argv("--force")) == 0
    assert _passwords(root) == made and adminpw.verify(dbm_path, "admin", made["admin"])


def test_an_image_without_admins_gets_the_admin_named_admin(inst):
    root, argv = inst
    (root / "opt/config/config.yaml").write_text(yaml.safe_dump({"users": {"admin": []}}))
    assert fb.main(argv()) == 0
    assert _config(root)["users"]["admin"] == ["admin"]
    assert set(_passwords(root)) == {"admin"}


def test_the_one_time_password_goes_to_the_console(inst):
    root, argv = inst
    console = root / "console"
    os.mkfifo(console)  # a stand-in for /dev/console that the test can read
    reader = os.open(console, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert fb.main(argv()) == 0
        shown = os.read(reader, 65536).decode()
    finally:
        os.close(reader)
    assert f"one-time admin password for admin: {_passwords(root)['admin']}" in shown


def test_a_regular_file_is_not_taken_for_the_console(inst):
    """A container has no /dev/console: first boot must not leave the password in a file made there."""
    root, argv = inst
    assert fb.main(argv()) == 0
    assert not (root / "console").exists()


def test_admin_password_hashes_from_user_data_are_stored_and_no_password_is_made(inst, capsys):
    import bcrypt

    root, argv = inst
    hashed = bcrypt.hashpw(b"alice-chose-this", bcrypt.gensalt(4)).decode()
    (root / "user-data.txt").write_text(
        f"#cloud-config\nskyhub:\n  admins: [admin]\n  admin_password_hashes: {{admin: '{hashed}'}}\n"
    )
    assert fb.main(argv()) == 0
    dbm_path = str(root / "opt/state/passwords.dbm")
    assert adminpw.verify(dbm_path, "admin", "alice-chose-this")
    assert not adminpw.verify(dbm_path, "admin", "something-else")
    assert not (root / "root/skyhub-admin-password").exists()
    assert hashed not in capsys.readouterr().out


def test_a_hash_for_a_new_name_makes_it_an_admin(inst):
    import bcrypt

    root, argv = inst
    hashed = bcrypt.hashpw(b"pw-of-carol-123", bcrypt.gensalt(4)).decode()
    (root / "instance.yml").write_text(json.dumps({"admin_password_hashes": {"carol": hashed}}))
    assert fb.main(argv()) == 0
    assert _config(root)["users"]["admin"] == ["admin", "carol"]
    assert set(_passwords(root)) == {"admin"}  # admin had no hash: a one-time password
    assert adminpw.verify(str(root / "opt/state/passwords.dbm"), "carol", "pw-of-carol-123")


def test_the_passwords_database_is_the_one_the_hub_reads(inst):
    """dbm.open(path, "c") as FirstUseAuthenticator opens `passwords.dbm` in the hub's working directory."""
    root, argv = inst
    assert fb.main(argv()) == 0
    with dbm.open(str(root / "opt/state/passwords.dbm"), "r") as db:
        assert db.get(b"admin", b"").startswith(b"$2b$")


@pytest.mark.parametrize(
    ("settings", "create_users"),
    [
        ({"authenticator": "firstuse"}, False),
        ({"open_signup": False}, False),
        ({"open_signup": True}, True),
        ({"authenticator": "firstuse", "open_signup": True}, True),
    ],
)
def test_sign_up_is_closed_unless_opened_explicitly(settings, create_users):
    image = {"auth": {"type": fb.FIRSTUSE, "FirstUseAuthenticator": {"min_password_length": 12}}}
    auth = fb.apply_settings(image, settings)["auth"]
    assert auth["type"] == fb.FIRSTUSE
    assert auth["FirstUseAuthenticator"] == {"min_password_length": 12, "create_users": create_users}


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (
            {
                "authenticator": "github",
                "github": {"client_id": "c", "client_secret": "s", "allowed_orgs": ["a"]},
            },
            "unknown key github.allowed_orgs",
        ),
        ({"oidc": {"client_id": "c", "token_uri": "https://x/t"}}, "unknown key oidc.token_uri"),
        ({"github": "yes"}, "`github` must be a mapping"),
        ({"open_signup": "yes"}, "`open_signup` must be true or false"),
        (
            {"authenticator": "github", "open_signup": True, "github": {}},
            "`open_signup` is a setting of authenticator firstuse",
        ),
        (
            {"admin_password_hashes": {"admin": "hunter2"}},
            "admin_password_hashes.admin must be a bcrypt hash",
        ),
        ({"admin_password_hashes": {"Bob": "$2b$12$" + "a" * 53}}, "lower-case user name"),
        ({"admin_password_hashes": ["admin"]}, "must be a mapping"),
    ],
)
def test_bad_sign_up_and_oauth_settings_are_named(settings, needle):
    with pytest.raises(fb.SettingsError, match=re.escape(needle)):
        fb.apply_settings({}, settings)


def test_first_boot_has_no_copy_of_the_auth_mapping():
    """One mapping (plugin/tljh_skyhub/auth.py): first boot loads it; no class name is spelt out here."""
    text = SCRIPT.read_text()
    for cls in ("GitHubOAuthenticator", "GenericOAuthenticator", "claim_groups_key", "manage_groups"):
        assert cls not in text, cls
    gh = fb.apply_settings(
        {},
        {
            "authenticator": "github",
            "github": {"client_id": "c", "client_secret": "s", "allowed_users": ["u"]},
        },
    )
    assert gh["auth"]["type"] == fb.auth_mapping().CLASSES["github"][0]


def test_the_hub_and_its_proxy_require_first_boot():
    """Fail closed needs Requires= (a failed first boot fails their start) and After= (they wait for it)."""
    role = REPO / "roles" / "first_boot"
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text())
    assert {"jupyterhub.service", "traefik.service"} <= set(defaults["first_boot_required_by"])
    assert "ssh.service" not in defaults["first_boot_required_by"]  # an operator can still log in and fix it
    tasks = yaml.safe_load((role / "tasks/install.yml").read_text())
    dropin = next(t for t in tasks if "ansible.builtin.copy" in t and "skyhub-first-boot.conf" in str(t))
    content = dropin["ansible.builtin.copy"]["content"]
    assert "Requires=skyhub-first-boot.service" in content and "After=skyhub-first-boot.service" in content
    assert dropin["loop"] == "{{ first_boot_required_by }}"
    unit = (role / "templates/skyhub-first-boot.service.j2").read_text()
    assert "Type=oneshot" in unit and "RemainAfterExit=yes" in unit  # failed stays failed; success stays up


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
