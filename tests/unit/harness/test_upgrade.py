"""The release-upgrade check (tests/appliance/upgrade.py): the previous release's inventory, and the checks'
controls — each broken state an upgrade could leave (passwords database wiped, a home wiped or re-owned,
the hub database re-created) is reported, and an intact one is not."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("skyhub_upgrade_check", ROOT / "tests/appliance/upgrade.py")
upgrade = importlib.util.module_from_spec(_spec)
sys.modules["skyhub_upgrade_check"] = upgrade
_spec.loader.exec_module(upgrade)

HOME = "/srv/skyhub/home/upgradeada"
FILE = f"{HOME}/work/notes.txt"
BEFORE_PATHS = {
    HOME: {"exists": True, "uid": 1000, "gid": 100, "mode": "755", "type": "directory", "sha256": None},
    FILE: {
        "exists": True,
        "uid": 1000,
        "gid": 100,
        "mode": "644",
        "type": "regular file",
        "sha256": "ab" * 32,
    },
}
BEFORE_USERS = {
    "admin": {"created": "2026-12-02T02:00:00Z", "admin": True},
    "upgradeada": {"created": "2026-12-02T02:01:00Z", "admin": False},
}


# ---- the previous release ----


def test_the_recorded_previous_release_is_one_full_commit_id():
    commit = upgrade.read_previous_release(ROOT / "molecule/appliance/previous-release")
    assert len(commit) == 40


@pytest.mark.parametrize("text", ["306ffc2\n", "# note only\n", "a" * 40 + "\n" + "b" * 40 + "\n"])
def test_a_bad_previous_release_file_is_refused_with_the_fix(tmp_path, text):
    f = tmp_path / "previous-release"
    f.write_text(text)
    with pytest.raises(upgrade.UpgradeError, match="git rev-parse"):
        upgrade.read_previous_release(f)


def test_settings_the_previous_release_does_not_know_are_left_out_and_listed():
    group_vars = {
        "tljh_admin_users": ["admin"],
        "tljh_brand_new_setting": True,  # a setting of a role, unknown to the previous release
        "ansible_connection": "docker",  # not a setting: kept
        "skyhub_s3_twin": True,  # the playbook's own switch: kept
        "_tljh_private": 1,  # private: kept
        "monitoring_enabled": True,
    }
    known = {"tljh_admin_users", "monitoring_enabled"}
    kept, dropped = upgrade.previous_release_vars(group_vars, known, ["tljh", "monitoring"])
    assert dropped == ["tljh_brand_new_setting"]
    assert set(kept) == set(group_vars) - {"tljh_brand_new_setting"}


def test_overrides_set_old_names_and_drop_what_the_rule_cannot_know():
    kept, dropped = upgrade.previous_release_vars(
        {"tljh_admin_users": ["admin"], "skyhub_new_switch": 1},
        {"tljh_admin_users"},
        ["tljh"],
        {"settings": {"tljh_old_name": "x"}, "leave_out": ["skyhub_new_switch"]},
    )
    assert kept == {"tljh_admin_users": ["admin"], "tljh_old_name": "x"}
    assert dropped == ["skyhub_new_switch"]


def test_export_and_inventory_from_a_real_commit(tmp_path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    tree = upgrade.export_release(ROOT, head.stdout.strip(), tmp_path / "prev")
    assert (tree / "playbooks/site.yml").is_file() and (tree / "roles/tljh/meta/argument_specs.yml").is_file()
    molecule_inv = tmp_path / "molecule-inventory"
    (molecule_inv / "group_vars").mkdir(parents=True)
    (molecule_inv / "ansible_inventory.yml").write_text("hub:\n  hosts:\n    skyhub-appliance: {}\n")
    (molecule_inv / "group_vars/all").write_text(
        yaml.safe_dump({"tljh_admin_users": ["admin"], "tljh_not_in_that_release": 1})
    )
    dropped = upgrade.write_inventory(molecule_inv, tree, {}, tmp_path / "inv")
    assert dropped == ["tljh_not_in_that_release"]
    assert yaml.safe_load((tmp_path / "inv/group_vars/all").read_text()) == {"tljh_admin_users": ["admin"]}
    assert (tmp_path / "inv/ansible_inventory.yml").read_text().startswith("hub:")


def test_a_commit_missing_from_the_clone_is_named_with_the_fix(tmp_path):
    with pytest.raises(upgrade.UpgradeError, match="unshallow"):
        upgrade.export_release(ROOT, "0" * 40, tmp_path)


# ---- the checks, and their controls ----


def test_an_intact_upgrade_has_no_problems():
    assert upgrade.db_problems(BEFORE_USERS, dict(BEFORE_USERS)) == []
    assert upgrade.file_problems(BEFORE_PATHS, dict(BEFORE_PATHS)) == []
    assert upgrade.login_problems({"upgradeada": {"wrong": False, "old": True}}) == []


def test_control_a_wiped_passwords_database_is_caught():
    # first-use login with no stored password takes any: the wrong one is accepted, and it becomes the
    # password, so the old one is refused right after
    problems = upgrade.login_problems({"upgradeada": {"wrong": True, "old": False}})
    assert any("wrong password was accepted" in p for p in problems)
    assert any("previous release was refused" in p for p in problems)


def test_control_a_wiped_home_is_caught():
    after = {HOME: {**BEFORE_PATHS[HOME]}, FILE: {"exists": False}}
    assert upgrade.file_problems(BEFORE_PATHS, after) == [f"{FILE} is gone"]
    assert upgrade.file_problems(BEFORE_PATHS, {}) == [f"{HOME} is gone", f"{FILE} is gone"]


def test_control_changed_content_or_owner_is_caught():
    after = {HOME: {**BEFORE_PATHS[HOME], "uid": 0}, FILE: {**BEFORE_PATHS[FILE], "sha256": "cd" * 32}}
    problems = upgrade.file_problems(BEFORE_PATHS, after)
    assert f"{HOME}: uid 1000 -> 0" in problems and any(p.startswith(f"{FILE}: sha256") for p in problems)


def test_control_a_recreated_or_emptied_hub_database_is_caught():
    recreated = {**BEFORE_USERS, "upgradeada": {"created": "2026-12-02T03:00:00Z", "admin": False}}
    assert upgrade.db_problems(BEFORE_USERS, recreated) == [
        "upgradeada was re-created (created 2026-12-02T02:01:00Z -> 2026-12-02T03:00:00Z)"
    ]
    assert upgrade.db_problems(BEFORE_USERS, {"admin": BEFORE_USERS["admin"]}) == [
        "upgradeada is no longer in the hub DB"
    ]


def test_stat_paths_reads_owner_mode_and_content(tmp_path):
    f = tmp_path / "a file.txt"
    f.write_text("x\n")
    f.chmod(0o640)
    got = upgrade.stat_paths(
        lambda cmd: subprocess.run(cmd, shell=True, capture_output=True, text=True, check=True).stdout,
        [str(tmp_path), str(f), str(tmp_path / "missing")],
    )
    assert got[str(f)]["mode"] == "640" and got[str(f)]["type"] == "regular file"
    assert got[str(f)]["sha256"] == hashlib.sha256(b"x\n").hexdigest()
    assert got[str(f)]["uid"] == os.getuid()
    assert got[str(tmp_path)]["type"] == "directory" and got[str(tmp_path)]["sha256"] is None
    assert got[str(tmp_path / "missing")] == {"exists": False}
