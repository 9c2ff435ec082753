"""skyhub-quota's project-id walk on a real XFS filesystem (a loop device; project ids are stored by XFS even
where the kernel cannot enforce quotas, as on these machines) against what a hostile user plants in a home.

`xfs_quota -x -c 'project -s'` (which skyhub-quota used before) re-opens every entry by its full path after
its walk's lstat; set_project_tree opens each entry relative to its parent's descriptor with O_NOFOLLOW."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyhub import safehome
from skyhub.quota import tool

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mkfs.xfs"), reason="needs root and xfsprogs"),
]


@pytest.fixture
def xfs(tmp_path: Path) -> Iterator[Path]:
    image = tmp_path / "xfs.img"
    with open(image, "wb") as fh:
        fh.truncate(320 << 20)  # mkfs.xfs's minimum is 300 MiB
    subprocess.run(["mkfs.xfs", "-q", str(image)], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a loop device here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def projid(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return tool.get_project(fd)[0]
    finally:
        os.close(fd)


def test_project_ids_stay_inside_the_home(xfs: Path) -> None:
    homes = xfs / "home"
    home = homes / "alice"
    (home / "work" / "deep").mkdir(parents=True)
    (home / "work" / "deep" / "data.bin").write_bytes(b"\1" * 65536)
    (home / "notes.txt").write_text("hi")
    outside = xfs / "other"  # on the same XFS filesystem: a link could reach it
    outside.mkdir()
    (outside / "victim.txt").write_text("not alice's")
    (home / "to-other").symlink_to(outside)
    (home / "to-victim").symlink_to(outside / "victim.txt")
    os.mkfifo(home / "pipe")  # xfs_quota's plain open(2) would block on this if swapped in during its walk
    fd = safehome.open_existing(str(homes), "alice")
    try:
        counts = tool.set_project_tree(fd, 4242)
        assert tool.get_project(fd) == (4242, True)  # inherit: files made later join the project
    finally:
        os.close(fd)
    # home, work, deep, data.bin, notes.txt; links and the FIFO are left alone
    assert counts == {"changed": 5, "failed": 0}
    for p in (home / "work", home / "work" / "deep", home / "work" / "deep" / "data.bin", home / "notes.txt"):
        assert projid(p) == 4242, p
    assert projid(outside) == 0 and projid(outside / "victim.txt") == 0
    (home / "work" / "new.txt").write_text("later")
    assert projid(home / "work" / "new.txt") == 4242

    # control: a tool that opens by path through the user's link changes the other tree
    subprocess.run(["xfs_io", "-c", "chproj 4242", str(home / "to-victim")], check=True, capture_output=True)
    assert projid(outside / "victim.txt") == 4242


def test_the_container_user_can_change_their_own_project_id(xfs: Path) -> None:
    """A known limit, documented in docs/storage.md: XFS lets a file's owner change its project id (the
    kernel only checks ownership and the user namespace), so quotas also need the container to be unable to
    call FS_IOC_FSSETXATTR (a seccomp rule) or to run in a user namespace."""
    home = xfs / "alice"
    home.mkdir()
    (home / "f").write_text("x")
    os.chown(home / "f", 1000, 100)
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
    try:
        tool.set_project_tree(fd, 777)
    finally:
        os.close(fd)
    assert projid(home / "f") == 777
    # the user's process (uid 1000, no capabilities) sets project 0 on its own file, as a container can
    fd = os.open(home / "f", os.O_RDONLY)
    code = (
        "import fcntl, struct; f = struct.Struct('=5I8x'); "
        f"x = list(f.unpack(fcntl.ioctl({fd}, {tool.FS_IOC_FSGETXATTR}, bytes(28)))); x[3] = 0; "
        f"fcntl.ioctl({fd}, {tool.FS_IOC_FSSETXATTR}, f.pack(*x))"
    )
    try:
        res = subprocess.run(
            ["/usr/bin/python3", "-c", code], pass_fds=(fd,), user=1000, group=100, extra_groups=[],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        os.close(fd)
    assert res.returncode == 0, res.stderr
    assert projid(home / "f") == 0
