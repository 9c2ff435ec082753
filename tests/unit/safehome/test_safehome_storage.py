"""safehome's storage extensions: login name -> home name, the descriptor walk (usage, what the quota and
backup tools look at), and the one-path restore child, against what a hostile user plants in their home.

Attacks carry a control: the naive root copy by path does change the canary."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from skyhub import safehome

UID, GID = 1000, 100
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the tools run as root)")

# Computed with dockerspawner 14.0.0 itself (DockerSpawner._escape, i.e. escapism.escape(name,
# safe=[a-z0-9], escape_char="-").lower()): the hub names a home `{username}` = this.
DOCKERSPAWNER_14 = {
    "alice": "alice",
    "Alice": "-41lice",
    "o'brien": "o-27brien",
    "ann@example.org": "ann-40example-2eorg",
    "first.last": "first-2elast",
    "jürgen": "j-c3-bcrgen",
    "ünïcode名": "-c3-bcn-c3-afcode-e5-90-8d",
    "x-y": "x-2dy",
    "a b": "a-20b",
    "../etc": "-2e-2e-2fetc",
    "MiXeD.Case@Ex-ample.COM": "-4di-58e-44-2e-43ase-40-45x-2dample-2e-43-4f-4d",
    "a" * 45: "a" * 45,
    "\U0001f600": "-f0-9f-98-80",
}


@pytest.mark.parametrize(("login", "home"), sorted(DOCKERSPAWNER_14.items()))
def test_home_name_is_dockerspawners_escaped_name(login: str, home: str) -> None:
    assert safehome.home_dir_name(login) == home
    assert safehome.check_login(login) == home
    assert safehome.login_of_home_dir(home) == login  # and back: the report shows the real login name


def test_two_logins_never_share_a_home() -> None:
    logins = [*DOCKERSPAWNER_14, "-41lice", "ALICE", "alice.", "alice-", "-2d", "2d", "Ann", "ann"]
    homes = [safehome.check_login(x) for x in logins]
    assert len(set(homes)) == len(logins)
    assert all(safehome.check_name(h) and not h.startswith(".") for h in homes)


def test_logins_without_a_safe_home_are_refused() -> None:
    # DockerSpawner would map both to "-12": bytes below 0x10 escape to a single hex digit
    assert safehome.home_dir_name("\x01" + "2") == safehome.home_dir_name("\x12") == "-12"
    for bad in ("\x01" + "2", "\x12", "tab\there", "", "é" * 50):
        with pytest.raises(safehome.HomeError):
            safehome.check_login(bad)


@pytest.mark.parametrize("name", ["A", "-2", "-4A", ".hidden", "-c3", "a_b", "-41-", "-0a"])
def test_names_no_login_maps_to(name: str) -> None:
    assert safehome.login_of_home_dir(name) is None


def test_walk_and_usage_never_follow_links(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"\1" * (1 << 20))
    (home / "to-outside").symlink_to(outside)
    (home / "to-file").symlink_to(outside / "big")
    os.mkfifo(home / "pipe")  # lstat only: opening it would block
    (home / "f").write_bytes(b"\1" * 8192)
    os.link(home / "f", home / "f-again")  # counted once
    with open(home / "sparse", "wb") as fh:
        fh.truncate(1 << 40)  # 1 TiB apparent size, no blocks
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = {(where, name) for _, where, name, _ in safehome.walk(fd)}
        used, complete = safehome.tree_usage(fd)
    finally:
        os.close(fd)
    assert names == {("", n) for n in ("to-outside", "to-file", "pipe", "f", "f-again", "sparse")}
    assert complete and used < 200 * 1024  # the 1 MiB behind the links and the 1 TiB sparse size: not counted
    # control: following the links (what a path-based `du -L` would do) counts the outside file
    assert sum(p.stat().st_blocks * 512 for p in home.iterdir() if p.is_file()) >= 1 << 20


def test_deep_tree_is_walked_to_a_bound_without_crashing(tmp_path: Path) -> None:
    top = tmp_path / "home"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    cur = fd
    for _ in range(safehome.MAX_WALK_DEPTH + 30):  # deeper than the walk goes (and than Python's recursion)
        os.mkdir("d", dir_fd=cur)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
        if cur != fd:
            os.close(cur)
        cur = nxt
    os.close(cur)
    try:
        info: dict = {}
        count = sum(1 for _ in safehome.walk(fd, info))
        _, complete = safehome.tree_usage(fd)
    finally:
        os.close(fd)
    assert count == safehome.MAX_WALK_DEPTH and info["truncated"] and not complete


@pytest.mark.parametrize(
    "bad", ["", "/", "/etc/passwd", "..", "a/../../b", "./..", "a/b/.."]
)  # fmt: skip
def test_restore_paths_must_stay_inside_the_home(bad: str) -> None:
    with pytest.raises(safehome.HomeError, match="not a path inside a home"):
        safehome.check_rel_path(bad)


def test_restore_paths_are_normalised() -> None:
    assert safehome.check_rel_path("notebooks//./a.ipynb") == ["notebooks", "a.ipynb"]


# ---------------------------------------------------------------------------------- the restore child


@pytest.fixture(autouse=True)
def child_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safehome, "CHILD_PYTHON", "/usr/bin/python3")


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    os.chmod(tmp_path, 0o755)
    homes = tmp_path / "home"
    homes.mkdir(mode=0o755)
    home = homes / "alice"
    home.mkdir(mode=0o750)
    os.chown(home, UID, GID)
    stage = homes / ".skyhub-restore-test"  # root-only, as skyhub-backup makes it
    stage.mkdir(mode=0o700)
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    return {"homes": homes, "home": home, "stage": stage, "canary": secret, "root": tmp_path}


def intact(path: Path) -> bool:
    st = path.lstat()
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), path.read_text()) == (0, 0, 0o600, "root only\n")


def staged_file(place: dict[str, Path], text: str = "restored\n") -> Path:
    staged = place["stage"] / "a.ipynb"
    staged.write_text(text)
    os.chown(staged, UID, GID)  # restic restores the snapshot's owner
    return staged


def restore(place: dict[str, Path], staged: Path, rel: str) -> dict:
    fd = os.open(staged, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return safehome.restore_into_home(str(place["homes"]), "alice", rel, fd, UID, GID, "20261130T000000")
    finally:
        os.close(fd)


@needs_root
def test_restore_a_file_makes_parents_and_keeps_what_was_there(place: dict[str, Path]) -> None:
    home = place["home"]
    answer = restore(place, staged_file(place), "notebooks/old/a.ipynb")
    out = home / "notebooks" / "old" / "a.ipynb"
    assert out.read_text() == "restored\n" and answer["kept"] is None
    for p in (out, out.parent, out.parent.parent):
        assert (p.stat().st_uid, p.stat().st_gid) == (UID, GID)
    out.write_text("newer")
    answer = restore(place, staged_file(place, "older\n"), "notebooks/old/a.ipynb")
    assert out.read_text() == "older\n"
    assert answer["kept"] == "notebooks/old/a.ipynb.before-restore-20261130T000000"
    assert (home / answer["kept"]).read_text() == "newer"


@needs_root
def test_restore_over_a_symlink_to_a_root_file(place: dict[str, Path]) -> None:
    home, canary = place["home"], place["canary"]
    (home / "a.ipynb").symlink_to(canary)
    restore(place, staged_file(place), "a.ipynb")
    assert intact(canary)
    assert (home / "a.ipynb").read_text() == "restored\n" and not (home / "a.ipynb").is_symlink()
    assert (home / "a.ipynb.before-restore-20261130T000000").is_symlink()
    # control: a root copy by path writes through the link
    (home / "a.ipynb").unlink()
    (home / "a.ipynb").symlink_to(canary)
    shutil.copyfile(staged_file(place), home / "a.ipynb")
    assert not intact(canary)


@needs_root
def test_restore_over_a_hard_link_to_a_root_file(place: dict[str, Path]) -> None:
    home = place["home"]
    victim = place["homes"] / "victim"  # same filesystem as the home
    victim.write_text("root only\n")
    os.chmod(victim, 0o600)
    os.link(victim, home / "a.ipynb")
    restore(place, staged_file(place), "a.ipynb")
    assert intact(victim) and victim.stat().st_nlink == 2  # renamed aside, never written
    assert (home / "a.ipynb").read_text() == "restored\n"


@needs_root
def test_restore_below_a_symlinked_parent_is_refused(place: dict[str, Path]) -> None:
    home = place["home"]
    outside = place["root"] / "rootdir"
    outside.mkdir(mode=0o777)  # even a directory uid 1000 could write to through the link
    (home / "notebooks").symlink_to(outside)
    with pytest.raises(safehome.HomeError, match="is not a directory"):
        restore(place, staged_file(place), "notebooks/a.ipynb")
    assert list(outside.iterdir()) == []
    # control: a root copy by path lands in the outside directory
    shutil.copyfile(staged_file(place), home / "notebooks" / "a.ipynb")
    assert (outside / "a.ipynb").exists()


@needs_root
def test_restore_a_directory_copies_links_as_links(place: dict[str, Path]) -> None:
    home, canary = place["home"], place["canary"]
    staged = place["stage"] / "notebooks"
    (staged / "sub").mkdir(parents=True)
    (staged / "sub" / "x.txt").write_text("x")
    (staged / "shadow").symlink_to(canary)  # the user had this link when the snapshot was taken
    os.mkfifo(staged / "pipe")
    for p in [staged, *staged.rglob("*")]:
        os.chown(p, UID, GID, follow_symlinks=False)
    (home / "notebooks").mkdir()
    (home / "notebooks" / "mine.txt").write_text("kept aside")
    os.chown(home / "notebooks", UID, GID)
    answer = restore(place, staged, "notebooks")
    assert (home / "notebooks" / "sub" / "x.txt").read_text() == "x"
    assert (home / "notebooks" / "shadow").is_symlink() and os.readlink(home / "notebooks" / "shadow") == str(
        canary
    )
    assert intact(canary) and answer["skipped"] == ["pipe"] and answer["links"] == 1
    assert (home / "notebooks.before-restore-20261130T000000" / "mine.txt").read_text() == "kept aside"
    assert (home / "notebooks" / "sub").stat().st_uid == UID
