"""The release upgrade: this tree converged over a host that the previous release (the commit in
molecule/appliance/previous-release) converged and seeded with users, passwords and files in homes
(tests/appliance/upgrade.py, in the scenario's prepare step). Nothing is done by hand between the two
converges: whatever these checks find is what the converge alone kept.

First in tests/appliance, before any other check signs users up. Skipped where no seed exists (the image
tier, a host converged without the prepare step)."""

from __future__ import annotations

import json

import pytest
import upgrade


@pytest.fixture(scope="module")
def seed() -> dict:
    path = upgrade.seed_path()
    if path is None or not path.is_file():
        where = path or "SKYHUB_UPGRADE_SEED and MOLECULE_EPHEMERAL_DIRECTORY unset"
        pytest.skip(
            f"no upgrade seed ({where}): only the Molecule appliance scenario converges the previous "
            "release first"
        )
    return json.loads(path.read_text())


def test_the_hub_db_keeps_every_user_of_the_previous_release(seed, hub_url):
    admin = upgrade.try_login(hub_url, seed["admin"]["name"], seed["admin"]["password"])
    assert admin is not None, "the admin's password from the previous release was refused"
    assert upgrade.db_problems(seed["hub_users"], upgrade.hub_users(admin)) == []


def test_users_sign_in_with_their_old_passwords_and_no_other(seed, hub_url):
    # the wrong password first: first-use login would take it as a new password if the database lost the user
    logins = {}
    for user in seed["users"]:
        wrong = upgrade.try_login(hub_url, user["name"], user["password"] + "-not-it")
        old = upgrade.try_login(hub_url, user["name"], user["password"])
        logins[user["name"]] = {"wrong": wrong is not None, "old": old is not None}
    assert upgrade.login_problems(logins) == []


def test_homes_keep_their_files_owners_and_modes(seed, host):
    after = upgrade.stat_paths(host.check_output, seed["paths"])
    assert upgrade.file_problems(seed["paths"], after) == []


def test_a_home_from_the_previous_release_serves_its_files_in_a_new_server(seed, hub_url):
    record = next(u for u in seed["users"] if u["files"])
    user = upgrade.try_login(hub_url, record["name"], record["password"])
    assert user is not None
    user.start()
    try:
        for rel, text in record["files"].items():
            assert user.read_file(rel) == text
        user.write_file("work/after-upgrade.txt", "written on the new release\n")
        assert user.read_file("work/after-upgrade.txt") == "written on the new release\n"
    finally:
        user.stop()


def test_the_hub_keeps_its_cookie_secret_so_sessions_survive(seed, host):
    now = upgrade.stat_paths(host.check_output, [upgrade.COOKIE_SECRET])[upgrade.COOKIE_SECRET]
    assert now.get("sha256") and now["sha256"] == seed["cookie_secret_sha256"]
