"""Root-side home work (src/skyhub/safehome.py) against what a hostile user plants in their home.

Each attack has a control: the naive root write that the old hub code did (open/chown by path) does change
the canary, so an unchanged canary means the code under test refused to follow the user's link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from skyhub import safehome

UID, GID = 1000, 1000
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (the hub and tools run as root)")


@pytest.fixture(autouse=True)
def child_python(monkeypatch):
    # the venv's interpreter may live under /root (not executable by uid 1000); Debian's is
    monkeypatch.setattr(safehome, "CHILD_PYTHON", "/usr/bin/python3")


@pytest.fixture
def homes(tmp_path):
    root = tmp_path / "home"
    root.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    return root


@pytest.fixture
def canary(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    return secret


@pytest.fixture
def skel(tmp_path):
    skel = tmp_path / "skel"
    (skel / "skyhub-demos").mkdir(parents=True)
    (skel / "skyhub-demos" / "01-tour.ipynb").write_text('{"cells": []}\n')
    (skel / "README.md").write_text("welcome\n")
    return skel


def intact(path: Path) -> bool:
    st = path.lstat()
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), path.read_text()) == (0, 0, 0o600, "root only\n")


def user_home(homes: Path, name: str = "alice") -> Path:
    home = homes / name
    home.mkdir(mode=0o750)
    os.chown(home, UID, GID)
    return home


def mkdir_as_user(path: Path) -> None:
    path.mkdir()
    os.chown(path, UID, GID)


def test_new_home_is_made_for_the_user_with_the_skeleton(homes, skel):
    answer = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    home = homes / "alice"
    assert answer["created"] is True
    assert sorted(answer["copied"]) == ["README.md", "skyhub-demos/01-tour.ipynb"]
    for path in (home, home / "README.md", home / "skyhub-demos", home / ".skyhub" / "skel-copied"):
        st = path.lstat()
        assert (st.st_uid, st.st_gid) == (UID, GID), path
    assert stat.S_IMODE(home.stat().st_mode) == 0o750
    # a second spawn copies nothing, and a file the user deleted is not brought back
    (home / "README.md").unlink()
    again = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert again["copied"] == [] and again["created"] is False
    assert not (home / "README.md").exists()


def test_marker_symlink_to_a_root_file_is_replaced_not_followed(homes, skel, canary):
    home = user_home(homes)
    mkdir_as_user(home / ".skyhub")
    (home / ".skyhub" / "skel-copied").symlink_to(canary)
    safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert intact(canary)
    marker = home / ".skyhub" / "skel-copied"
    assert not marker.is_symlink() and marker.stat().st_uid == UID
    # control: what the old hub did (append + chown as root through the link) does change the canary
    marker.unlink()
    marker.symlink_to(canary)
    with open(marker, "a") as fh:
        fh.write("x\n")
    os.chown(marker, UID, GID)
    assert not intact(canary)


def test_marker_hard_link_to_a_root_file_is_not_written(homes, skel, tmp_path):
    home = user_home(homes)
    mkdir_as_user(home / ".skyhub")
    victim = homes / "victim"  # same filesystem, so a hard link is possible
    victim.write_text("root only\n")
    os.chmod(victim, 0o600)
    os.link(victim, home / ".skyhub" / "skel-copied")
    safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert intact(victim)
    assert victim.stat().st_nlink == 1  # the marker is a new file now; the link was replaced


def test_marker_dir_symlink_to_a_root_dir_is_refused(homes, skel, tmp_path):
    home = user_home(homes)
    outside = tmp_path / "rootdir"
    outside.mkdir(mode=0o755)
    (home / ".skyhub").symlink_to(outside)
    with pytest.raises(safehome.HomeError):
        safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert list(outside.iterdir()) == []


def test_skeleton_dir_symlink_elsewhere_gets_nothing(homes, skel, tmp_path):
    home = user_home(homes)
    outside = tmp_path / "elsewhere"
    outside.mkdir(mode=0o777)  # even a directory the user could write to through the link
    (home / "skyhub-demos").symlink_to(outside)
    answer = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert list(outside.iterdir()) == []
    assert "skyhub-demos/01-tour.ipynb" in answer["skipped"]
    assert (home / "README.md").stat().st_uid == UID


def test_skeleton_file_symlink_is_never_written_through(homes, skel, canary):
    home = user_home(homes)
    (home / "README.md").symlink_to(canary)
    answer = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert intact(canary)
    assert "README.md" in answer["skipped"] and (home / "README.md").is_symlink()


def test_fifo_marker_does_not_hang_the_spawn(homes, skel):
    home = user_home(homes)
    mkdir_as_user(home / ".skyhub")
    os.mkfifo(home / ".skyhub" / "skel-copied")
    answer = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert len(answer["copied"]) == 2
    assert (home / ".skyhub" / "skel-copied").is_file()


def test_huge_sparse_marker_is_read_bounded(homes, skel):
    home = user_home(homes)
    mkdir_as_user(home / ".skyhub")
    with open(home / ".skyhub" / "skel-copied", "wb") as fh:
        fh.truncate(1 << 40)  # 1 TiB apparent size, no blocks
    answer = safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert len(answer["copied"]) == 2


def test_home_that_is_a_symlink_is_refused(homes, skel, tmp_path):
    outside = tmp_path / "rootdir"
    outside.mkdir(mode=0o700)
    (homes / "alice").symlink_to(outside)
    with pytest.raises(safehome.HomeError, match="not a directory"):
        safehome.copy_skeleton(str(homes), "alice", str(skel), UID, GID)
    assert outside.stat().st_uid == 0 and list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x"])
def test_bad_home_names_are_refused(homes, name):
    with pytest.raises(safehome.HomeError, match="not a usable home directory name"):
        safehome.open_home(str(homes), name, UID, GID, create=True)


def test_root_owned_home_made_by_docker_is_handed_to_the_user(homes, skel):
    (homes / "bob").mkdir(mode=0o755)  # what Docker does for a missing bind-mount source
    safehome.copy_skeleton(str(homes), "bob", str(skel), UID, GID)
    assert (homes / "bob").stat().st_uid == UID


def test_notice_symlink_to_a_root_file(homes, canary):
    home = user_home(homes)
    (home / "QUOTA-WARNING.txt").symlink_to(canary)

    def put(text):
        return safehome.put_notice(str(homes), "alice", "QUOTA-WARNING.txt", text, UID, GID)

    assert put("90% full\n")["written"]
    assert intact(canary)
    notice = home / "QUOTA-WARNING.txt"
    assert notice.read_text() == "90% full\n" and notice.stat().st_uid == UID and not notice.is_symlink()
    # unchanged text is not rewritten; removal removes the entry only
    assert not put("90% full\n")["written"]
    notice.unlink()
    notice.symlink_to(canary)
    assert put(None)["removed"]
    assert intact(canary) and not notice.exists() and not notice.is_symlink()


def test_helper_never_runs_as_root(homes):
    user_home(homes)
    fd, _ = safehome.open_home(str(homes), "alice", UID, GID)
    try:
        with pytest.raises(safehome.HomeError, match="never runs as root"):
            safehome.run_as_user(fd, 0, 0, {"action": "notice", "name": "x", "text": "y"})
    finally:
        os.close(fd)


def test_remove_home_does_not_follow_links(homes, canary, tmp_path):
    home = user_home(homes)
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "data").write_text("keep me")
    (home / "link-dir").symlink_to(outside)
    (home / "link-file").symlink_to(canary)
    assert safehome.remove_home(str(homes), "alice")
    assert not home.exists() and intact(canary) and (outside / "data").read_text() == "keep me"
    assert safehome.remove_home(str(homes), "alice") is False
