"""Attacks on the host through a user's own home (DESIGN.md decision 8).

The attacker is a real signed-in user: they plant links, FIFOs and sparse files in their home from code run
in their own kernel, then make the host act on their home (restart their server: home creation and the
skeleton copy; the quota notice; a restore). A root-owned canary on the host must keep its owner, mode and
content; the hub must still answer; another user's files must be untouched. Each attack has a control: the
same write done naively by root on the host through the planted link does change the canary, so the check
would catch a hub that follows the link.
"""

from __future__ import annotations

import secrets

import pytest
from hub import HubUser, run_code

HOME_ROOT = "/srv/skyhub/home"
pytestmark = pytest.mark.security


@pytest.fixture(scope="module")
def mallory(working_user) -> HubUser:
    return working_user("mallory")


@pytest.fixture(scope="module")
def victor(working_user) -> HubUser:
    return working_user("victor", {"private.txt": "victor's own words\n"})


def plant(user: HubUser, code: str) -> str:
    """Run the attacker's code in their own server (as uid 1000 in their container)."""
    return run_code(user, "import os, pathlib\nos.chdir(os.path.expanduser('~'))\n" + code)


def respawn(user: HubUser) -> None:
    user.stop()
    user.start()


def hub_alive(user: HubUser) -> None:
    assert user.api("GET", "/").status_code == 200


def control_root_follows(host, link: str, canary) -> None:
    """The control: root appending through the user's link changes the canary (the check is not blind)."""
    host.check_output(f"sh -c 'echo control >> {link}'")
    with pytest.raises(AssertionError):
        canary.assert_intact()


def test_skeleton_marker_symlink_to_a_root_file(mallory, host, canary):
    plant(
        mallory,
        f"os.makedirs('.skyhub', exist_ok=True)\n"
        "p = pathlib.Path('.skyhub/skel-copied'); p.unlink(missing_ok=True)\n"
        f"p.symlink_to({canary.path!r})\n",
    )
    respawn(mallory)
    canary.assert_intact()
    hub_alive(mallory)
    home = f"{HOME_ROOT}/{mallory.name}"
    marker = f"{home}/.skyhub/skel-copied"
    assert host.check_output(f"stat -c '%u %F' {marker}") == "1000 regular file"
    # control: plant the link again; root writing through it by name does reach the canary
    plant(mallory, f"p = pathlib.Path('.skyhub/skel-copied'); p.unlink(); p.symlink_to({canary.path!r})\n")
    control_root_follows(host, marker, canary)


def test_skeleton_marker_dir_symlink_to_a_root_dir(mallory, host):
    target = f"/root/skyhub-attack-{secrets.token_hex(3)}"
    host.check_output(f"mkdir -m 700 {target}")
    try:
        plant(
            mallory,
            "import shutil\nshutil.rmtree('.skyhub', ignore_errors=True)\n"
            f"pathlib.Path('.skyhub').symlink_to({target!r})\n",
        )
        respawn(mallory)  # the spawn may refuse this home's skeleton; it must not write into the target
        hub_alive(mallory)
    finally:
        listing = host.check_output(f"ls -A {target}")
        owner = host.check_output(f"stat -c '%u:%g %a' {target}")
        host.run(f"rm -rf {target}")
        plant(mallory, "os.unlink('.skyhub')\n")
    assert listing == "" and owner == "0:0 700"


def test_skeleton_directory_symlink_into_another_users_home(mallory, victor, host):
    """A link into another user's home: root must not copy (or chown) anything into it."""
    victim = f"{HOME_ROOT}/{victor.name}"
    before = host.check_output(f"find {victim} -printf '%p %u %s\\n' | sort")
    plant(
        mallory,
        "import shutil\nshutil.rmtree('skyhub-demos', ignore_errors=True)\n"
        "shutil.rmtree('.skyhub', ignore_errors=True)\n"
        f"pathlib.Path('skyhub-demos').symlink_to({victim!r})\n",
    )
    respawn(mallory)
    assert host.check_output(f"find {victim} -printf '%p %u %s\\n' | sort") == before
    assert victor.read_file("private.txt") == "victor's own words\n"
    plant(mallory, "os.unlink('skyhub-demos')\n")


def test_skeleton_file_symlink_to_a_root_file(mallory, host, canary):
    plant(
        mallory,
        "import shutil\nshutil.rmtree('.skyhub', ignore_errors=True)\n"
        "shutil.rmtree('skyhub-demos', ignore_errors=True)\n",
    )
    # every skeleton file name the hub would copy becomes a link to the canary
    names = host.check_output("cd /srv/skyhub/skel && find . -type f | sed 's|^./||'").split()
    assert names, "the skeleton should hold the demo notebooks"
    plant(
        mallory,
        "".join(
            f"os.makedirs(os.path.dirname({n!r}) or '.', exist_ok=True); "
            f"pathlib.Path({n!r}).unlink(missing_ok=True); pathlib.Path({n!r}).symlink_to({canary.path!r})\n"
            for n in names
        ),
    )
    respawn(mallory)
    canary.assert_intact()
    control_root_follows(host, f"{HOME_ROOT}/{mallory.name}/{names[0]}", canary)


def test_fifo_as_skeleton_marker_does_not_block_the_spawn(mallory, host):
    plant(
        mallory,
        "import shutil\nshutil.rmtree('.skyhub', ignore_errors=True)\nos.makedirs('.skyhub')\n"
        "os.mkfifo('.skyhub/skel-copied')\n",
    )
    respawn(mallory)  # a blocking open of the FIFO would hang the hub's spawn until its timeout
    hub_alive(mallory)
    assert host.check_output(f"stat -c %F {HOME_ROOT}/{mallory.name}/.skyhub/skel-copied") == "regular file"


def test_huge_sparse_file_is_counted_by_blocks(mallory, host):
    plant(mallory, "with open('sparse.bin', 'wb') as fh:\n    fh.truncate(1 << 40)\n")  # 1 TiB, no blocks
    report = host.run("skyhub-quota report --json")
    assert report.rc == 0, report.stderr
    plant(mallory, "os.unlink('sparse.bin')\n")
    assert '"used"' in report.stdout


def test_quota_notice_symlink_to_a_root_file(mallory, host, canary):
    plant(
        mallory,
        f"p = pathlib.Path('QUOTA-WARNING.txt'); p.unlink(missing_ok=True); p.symlink_to({canary.path!r})\n"
        "open('ballast.bin', 'wb').write(os.urandom(3 << 20))\n",
    )
    try:
        # a quota so small that the user is over the warning threshold: the tool writes the notice
        # exit 3: saved, but not enforced (this kernel has no XFS quotas); the notice follows the saved size
        assert host.run(f"skyhub-quota set {mallory.name} 3M").rc in (0, 3)
        host.run("skyhub-quota check")
        canary.assert_intact()
        notice = f"{HOME_ROOT}/{mallory.name}/QUOTA-WARNING.txt"
        assert host.check_output(f"stat -c '%u %F' {notice}") == "1000 regular file"
        assert "full" in (mallory.read_file("QUOTA-WARNING.txt") or "")
    finally:
        host.run(f"skyhub-quota set {mallory.name} 200M")
        plant(mallory, "os.unlink('ballast.bin')\n")
        host.run("skyhub-quota check")
    assert mallory.read_file("QUOTA-WARNING.txt") is None, "the notice goes once the user is under again"
    plant(mallory, f"pathlib.Path('QUOTA-WARNING.txt').symlink_to({canary.path!r})\n")
    control_root_follows(host, f"{HOME_ROOT}/{mallory.name}/QUOTA-WARNING.txt", canary)
    plant(mallory, "os.unlink('QUOTA-WARNING.txt')\n")


def test_reading_another_home_from_a_server(mallory, victor):
    out = plant(
        mallory,
        f"v = {victor.name!r}\n"
        "cands = [f'/srv/skyhub/home/{v}/private.txt', f'../{v}/private.txt', f'/home/{v}/private.txt',\n"
        "         f'/proc/1/root/srv/skyhub/home/{v}/private.txt']\n"
        "for c in cands:\n"
        "    try:\n"
        "        print('READ', c, open(c).read())\n"
        "    except OSError as e:\n"
        "        print('DENIED', c, e.errno)\n",
    )
    assert "READ" not in out and out.count("DENIED") == 4, out
    # control: the file is there and readable by its owner
    assert victor.read_file("private.txt") == "victor's own words\n"
