"""Disaster recovery on the appliance (runs last: it replaces the hub's state). A user works and is backed up;
the instance loses its homes, hub database, passwords and quota settings and starts again empty, as a new
instance converged with the same settings would; `skyhub-backup restore --all` brings it back: the user
logs in with the old password (a wrong one is refused) and finds the file.

Skipped where backups are off (the local image)."""

from __future__ import annotations

import json
import time

import pytest
import requests
from hub import HubError, HubUser

HUB_DB = "/opt/tljh/state/jupyterhub.sqlite"
HOME_ROOT = "/srv/skyhub/home"


@pytest.fixture(scope="module")
def backups_on(host) -> None:
    config = json.loads(host.file("/etc/skyhub/backup.json").content_string)
    if not config["repository"]:
        pytest.skip("no backup repository on this target (the local image leaves backups off)")


def _wait_hub(hub_url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{hub_url}/hub/api/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise HubError(f"the hub at {hub_url} did not answer in {timeout:.0f} s")


def test_restore_all_brings_back_users_passwords_and_files(backups_on, new_user, hub_url, host):
    user = new_user("dr")
    user.start()
    user.write_file("result.txt", "flux 12.5 +- 0.3\n")
    user.stop()
    run = host.run("skyhub-backup run")
    assert run.rc == 0, f"backup failed: {run.stdout}\n{run.stderr}"

    # the instance is lost: a new one, converged with the same settings, starts with nothing of its users
    lost = host.run(
        "systemctl stop jupyterhub && "
        f"rm -rf {HUB_DB} /opt/tljh/state/passwords.dbm* /var/lib/skyhub/quota/state.json "
        f"/var/lib/skyhub/backup {HOME_ROOT}/{user.name} && systemctl start jupyterhub"
    )
    assert lost.rc == 0, lost.stderr
    _wait_hub(hub_url)
    assert not host.file(f"{HOME_ROOT}/{user.name}").exists  # control: the work really is gone
    names = host.check_output(f"sqlite3 {HUB_DB} 'SELECT name FROM users'").split()
    assert user.name not in names

    started = time.monotonic()
    restore = host.run("skyhub-backup restore --all")
    assert restore.rc == 0, f"restore --all failed: {restore.stdout}\n{restore.stderr}"
    _wait_hub(hub_url)
    print(f"\nrestore --all: {time.monotonic() - started:.0f} s until the hub answered\n{restore.stdout}")
    assert "recovery point" in restore.stdout

    # a wrong password is refused: the passwords database came back (without it, first-use would accept
    # any password for this name and make it the new one)
    intruder = HubUser(hub_url, user.name, user.password + "x")
    with pytest.raises(HubError):
        intruder.login()
    again = HubUser(hub_url, user.name, user.password)
    again.login()
    again.start()
    try:
        assert again.read_file("result.txt") == "flux 12.5 +- 0.3\n"
    finally:
        again.stop()
