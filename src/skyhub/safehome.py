"""Host-side file work in users' homes that a hostile user cannot redirect (DESIGN.md decision 8).

A signed-in user runs any code as the container uid and owns every byte of their home: symlinks, hard
links, FIFOs, sparse files, and races between our checks and our writes. So root never opens, writes or
chowns a path inside a home by name:

* Root only touches the home *directory entry* itself, through a descriptor of the (root-owned) home root
  (`open_home`): `mkdirat` + `openat(O_NOFOLLOW | O_DIRECTORY)` + `fchown` on that descriptor.
* Everything inside the home (the skeleton copy and its marker, the quota notice) is done by a child
  process that never had root: it starts as the user (uid/gid, no supplementary groups) with only the home's
  descriptor (`run_as_user`), walks paths one component at a time with `O_NOFOLLOW`, creates files with
  `O_EXCL` (never writes into an existing one), replaces with `rename` inside the directory it opened, reads
  nothing but regular files, and reads at most a bounded number of bytes.

Standard library only: the hub's Python, `skyhub-quota` and `skyhub-backup` (system python3) load this file.
Run as a script it is that child (`python3 -I -S -c <this file>`, a JSON request on stdin, a JSON answer on
stdout).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from typing import Any

# A home directory's name: one path component, as DockerSpawner's escaping makes them (never "." or "..").
_NAME = re.compile(r"^(?!\.\.?$)[^/\x00]{1,255}$")
MARKER_DIR = ".skyhub"
MARKER = "skel-copied"
MAX_MARKER_BYTES = 1 << 20
MAX_SKEL_BYTES = 64 << 20
CHILD_TIMEOUT = 60.0
# The interpreter of the child: this one by default (the hub's, or system python3 for the tools). It must be
# executable by the container uid (a venv under /root is not: tests set /usr/bin/python3).
CHILD_PYTHON = sys.executable
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class HomeError(RuntimeError):
    """A home could not be used safely (what and why are in the message)."""


# ------------------------------------------------------------------------------------------ root side


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise HomeError(f"{name!r} is not a usable home directory name (one path component, not . or ..)")
    return name


def open_home(home_root: str, name: str, uid: int, gid: int, create: bool = False) -> tuple[int, bool]:
    """Open <home_root>/<name> without following a link; with create, make it (mode 0750, owned by uid:gid).

    Returns (descriptor, created). A home that exists but is owned by root (Docker made it for a bind
    mount) is handed to uid:gid through the descriptor. Anything but a real directory is refused.
    """
    check_name(name)
    root_fd = os.open(home_root, _DIR_FLAGS)
    try:
        created = False
        if create:
            try:
                os.mkdir(name, 0o750, dir_fd=root_fd)
                created = True
            except FileExistsError:
                pass
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=root_fd)
        except FileNotFoundError:
            raise HomeError(f"no home {name!r} under {home_root}") from None
        except OSError as exc:  # ELOOP (a symlink) or ENOTDIR
            raise HomeError(f"{home_root}/{name} is not a directory: {exc.strerror}") from None
        st = os.fstat(fd)
        if created or st.st_uid == 0:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, 0o750)
        return fd, created
    finally:
        os.close(root_fd)


def remove_home(home_root: str, name: str) -> bool:
    """Delete a home and everything in it without following any link inside it. False if it was absent."""
    check_name(name)
    root_fd = os.open(home_root, _DIR_FLAGS)
    try:
        try:
            st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=root_fd)
            return True
        # rmtree with dir_fd walks by descriptor and never follows a link (avoids_symlink_attacks)
        assert shutil.rmtree.avoids_symlink_attacks
        shutil.rmtree(name, dir_fd=root_fd)
        return True
    finally:
        os.close(root_fd)


def read_skeleton(skel_dir: str) -> list[dict[str, Any]]:
    """The skeleton's files as (relative path, mode, content): the skeleton is root's, not a user's."""
    files: list[dict[str, Any]] = []
    total = 0
    if not os.path.isdir(skel_dir):
        return files
    for root, dirs, names in os.walk(skel_dir):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as fh:
                data = fh.read(MAX_SKEL_BYTES - total + 1)
            total += len(data)
            if total > MAX_SKEL_BYTES:
                raise HomeError(f"the skeleton {skel_dir} holds more than {MAX_SKEL_BYTES >> 20} MiB")
            files.append(
                {
                    "path": os.path.relpath(path, skel_dir),
                    "mode": os.stat(path).st_mode & 0o755,
                    "data": base64.b64encode(data).decode(),
                }
            )
    return files


@functools.cache
def _child_source() -> str:
    with open(__file__, encoding="utf-8") as fh:
        return fh.read()


def run_as_user(home_fd: int, uid: int, gid: int, request: dict[str, Any]) -> dict[str, Any]:
    """Run one action of this file's child as uid:gid, holding only the home's descriptor."""
    if uid == 0 or gid == 0:
        raise HomeError("home file work never runs as root: the container uid/gid must not be 0")
    # The child's code goes on its command line (read here, as root): the user needs no access to this file.
    res = subprocess.run(
        [CHILD_PYTHON, "-I", "-S", "-c", _child_source()],
        input=json.dumps({**request, "fd": home_fd}),
        capture_output=True,
        text=True,
        pass_fds=(home_fd,),
        user=uid,
        group=gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    try:
        answer = json.loads(res.stdout or "{}")
    except ValueError:
        answer = {}
    if res.returncode != 0 or "error" in answer:
        raise HomeError(
            answer.get("error") or f"home helper failed (exit {res.returncode}): {res.stderr[-500:]}"
        )
    return answer


def copy_skeleton(home_root: str, name: str, skel_dir: str, uid: int, gid: int) -> dict[str, Any]:
    """Make the home if needed and give it the skeleton files it never received (never overwriting)."""
    fd, created = open_home(home_root, name, uid, gid, create=True)
    try:
        answer = run_as_user(fd, uid, gid, {"action": "skel", "files": read_skeleton(skel_dir)})
    finally:
        os.close(fd)
    answer["created"] = created
    return answer


def put_notice(
    home_root: str, name: str, notice: str, text: str | None, uid: int, gid: int
) -> dict[str, Any]:
    """Write (text) or remove (None) a notice file at the top of a home, as the user."""
    fd, _ = open_home(home_root, name, uid, gid)
    try:
        return run_as_user(fd, uid, gid, {"action": "notice", "name": notice, "text": text})
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------- the user's side


def _open_dir(parent: int, name: str, create: bool) -> int:
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _walk_dirs(home: int, parts: list[str], create: bool) -> int:
    """Descriptor of home/parts[0]/parts[1]/..., each opened without following links."""
    fd = os.dup(home)
    for part in parts:
        if part in ("", ".", ".."):
            os.close(fd)
            raise OSError(f"bad path component {part!r}")
        try:
            nxt = _open_dir(fd, part, create)
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _read_regular(dir_fd: int, name: str, limit: int) -> bytes | None:
    """A regular file's first `limit` bytes, or None when the entry is missing or anything else."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:  # not readable by the user (a link to someone else's file), or gone meanwhile
        return None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _create_new(dir_fd: int, name: str, data: bytes, mode: int) -> bool:
    """Create a new file; False (and nothing written) when anything of that name exists."""
    try:
        fd = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd
        )
    except FileExistsError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def _replace(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace dir/name by a new file: a fresh temporary created with O_EXCL, renamed over the entry (a
    rename replaces a link or file of that name; it never writes through it)."""
    tmp = f".{name}.skyhub-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp, dir_fd=dir_fd)
    _create_new(dir_fd, tmp, data, mode)
    os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _skel(home: int, files: list[dict[str, Any]]) -> dict[str, Any]:
    marker_dir = _walk_dirs(home, [MARKER_DIR], create=True)
    try:
        raw = _read_regular(marker_dir, MARKER, MAX_MARKER_BYTES) or b""
        done = {line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()}
        copied, skipped = [], []
        for item in files:
            rel = item["path"]
            if rel in done:
                continue
            *parents, leaf = rel.split("/")
            try:
                parent = _walk_dirs(home, parents, create=True)
            except OSError:
                skipped.append(rel)  # a link, file or FIFO where a directory should be: leave it alone
                done.add(rel)
                continue
            try:
                if _create_new(parent, leaf, base64.b64decode(item["data"]), item["mode"] | 0o600):
                    copied.append(rel)
                else:
                    skipped.append(rel)  # the user has something of that name: never overwrite
            finally:
                os.close(parent)
            done.add(rel)
        if copied or skipped:
            _replace(marker_dir, MARKER, "".join(f"{r}\n" for r in sorted(done)).encode())
        return {"copied": copied, "skipped": skipped}
    finally:
        os.close(marker_dir)


def _notice(home: int, name: str, text: str | None) -> dict[str, Any]:
    if "/" in name or name in ("", ".", ".."):
        return {"error": f"notice name {name!r} is not a file name"}
    if text is None:
        try:
            os.unlink(name, dir_fd=home)  # removes the entry (a link itself, never its target)
            return {"removed": True}
        except FileNotFoundError:
            return {"removed": False}
        except IsADirectoryError:
            return {"removed": False}
    data = text.encode()
    if _read_regular(home, name, len(data) + 1) == data:
        return {"written": False}
    _replace(home, name, data)
    return {"written": True}


def _child(request: dict[str, Any]) -> dict[str, Any]:
    if os.geteuid() == 0 or os.getegid() == 0:
        return {"error": "the home helper refuses to run as root"}
    home = int(request["fd"])
    if request.get("action") == "skel":
        return _skel(home, request.get("files", []))
    if request.get("action") == "notice":
        return _notice(home, request["name"], request.get("text"))
    return {"error": f"unknown action {request.get('action')!r}"}


def main() -> int:
    try:
        answer = _child(json.load(sys.stdin))
    except OSError as exc:
        answer = {"error": f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")}
    json.dump(answer, sys.stdout)
    return 1 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(main())
