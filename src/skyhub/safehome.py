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
import string
import subprocess
import sys
from collections.abc import Iterator
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


# DockerSpawner 14 names a user's home `{username}` = its `escaped_name`: escapism.escape(name, safe=[a-z0-9],
# escape_char="-").lower(): every other character becomes "-" + the hex of each of its UTF-8 bytes (no zero
# padding). The hub, skyhub-quota and skyhub-backup all map a login name to its home with home_dir_name.
_HOME_SAFE = frozenset(string.ascii_lowercase + string.digits)


def home_dir_name(login: str) -> str:
    """The home directory name DockerSpawner 14 gives this login name (its `{username}` / escaped_name)."""
    out = []
    for char in login:
        if char in _HOME_SAFE:
            out.append(char)
        else:
            out.extend(f"-{byte:X}" for byte in char.encode("utf-8"))
    return "".join(out).lower()


def check_login(login: str) -> str:
    """Refuse login names whose home would be ambiguous or impossible (the hub should refuse them at login).

    Bytes below 0x10 escape to one hex digit, so "\\x01" + "2" and "\\x12" would share "-12"; a home name
    longer than 255 bytes cannot be a directory."""
    if not login:
        raise HomeError("an empty login name has no home")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in login):
        raise HomeError(f"login name {login!r} contains control characters: its home name would be ambiguous")
    name = home_dir_name(login)
    if len(name) > 255:
        raise HomeError(f"login name {login!r} is too long: its home name would have {len(name)} characters")
    return name


def login_of_home_dir(name: str) -> str | None:
    """The login name whose home is `name`, or None when no login name maps to exactly this name."""
    raw = bytearray()
    i = 0
    while i < len(name):
        char = name[i]
        if char in _HOME_SAFE:
            raw += char.encode()
            i += 1
        elif char == "-" and re.fullmatch(r"[0-9a-f]{2}", name[i + 1 : i + 3]):
            raw.append(int(name[i + 1 : i + 3], 16))
            i += 3
        else:
            return None
    try:
        login = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        return login if check_login(login) == name else None
    except HomeError:
        return None


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


def open_existing(home_root: str, name: str) -> int:
    """Open an existing home <home_root>/<name> for reading only: no link followed, nothing changed."""
    check_name(name)
    root_fd = os.open(home_root, _DIR_FLAGS)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=root_fd)
    except FileNotFoundError:
        raise HomeError(f"no home {name!r} under {home_root}") from None
    except OSError as exc:  # ELOOP (a symlink) or ENOTDIR
        raise HomeError(f"{home_root}/{name} is not a directory: {exc.strerror}") from None
    finally:
        os.close(root_fd)


# Directories deeper than this are not descended into (one descriptor per level is held open).
MAX_WALK_DEPTH = 400


def walk(
    top_fd: int, info: dict[str, Any] | None = None, max_depth: int = MAX_WALK_DEPTH
) -> Iterator[tuple[int, str, str, os.stat_result]]:
    """Yield (parent_fd, parent_path, name, lstat) for every entry below the directory top_fd, depth first;
    parent_path is the parent's path relative to top ("" for top itself).

    Safe in a tree its owner changes meanwhile: entries are examined with lstat relative to their parent's
    descriptor, directories are entered with openat(O_NOFOLLOW | O_DIRECTORY) and only when the opened
    directory is the one examined (same device and inode), never another filesystem, at most max_depth levels
    (info["truncated"] is then set). parent_fd is only valid until the next entry is asked for.
    """
    info = info if info is not None else {}
    root_dev = os.fstat(top_fd).st_dev
    stack: list[tuple[int, str, list[str]]] = []
    first = os.dup(top_fd)
    try:
        stack.append((first, "", os.listdir(first)))
    except OSError:
        os.close(first)
        raise
    try:
        while stack:
            fd, where, names = stack[-1]
            if not names:
                os.close(fd)
                stack.pop()
                continue
            name = names.pop()
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            if st.st_dev != root_dev:
                continue
            yield fd, where, name, st
            if not stat.S_ISDIR(st.st_mode):
                continue
            if len(stack) >= max_depth:
                info["truncated"] = True
                continue
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # replaced by a link or a file meanwhile, or unreadable
            try:
                now = os.fstat(sub)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    raise OSError("replaced meanwhile")
                stack.append((sub, f"{where}/{name}" if where else name, os.listdir(sub)))
            except OSError:
                os.close(sub)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def tree_usage(top_fd: int) -> tuple[int, bool]:
    """(bytes allocated, complete) of a directory and everything below it, like `du -sx`: allocated blocks
    (a sparse file counts what it occupies, not its size), hard links once, links never followed."""
    info: dict[str, Any] = {}
    total = os.fstat(top_fd).st_blocks * 512
    seen: set[tuple[int, int]] = set()
    for _, _, _, st in walk(top_fd, info):
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
    return total, not info.get("truncated")


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


def run_as_user(
    home_fd: int,
    uid: int,
    gid: int,
    request: dict[str, Any],
    extra_fds: tuple[int, ...] = (),
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one action of this file's child as uid:gid, holding only the home's descriptor (and extra_fds,
    descriptors root opened for it, e.g. a restored file in a root-only staging directory)."""
    if uid == 0 or gid == 0:
        raise HomeError("home file work never runs as root: the container uid/gid must not be 0")
    # The child's code goes on its command line (read here, as root): the user needs no access to this file.
    res = subprocess.run(
        [CHILD_PYTHON, "-I", "-S", "-c", _child_source()],
        input=json.dumps({**request, "fd": home_fd}),
        capture_output=True,
        text=True,
        pass_fds=(home_fd, *extra_fds),
        user=uid,
        group=gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
        timeout=timeout or CHILD_TIMEOUT,
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


def restore_into_home(
    home_root: str,
    name: str,
    rel_path: str,
    src_fd: int,
    uid: int,
    gid: int,
    stamp: str,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Copy the file or directory src_fd (opened by root in a root-only staging directory) to rel_path in
    the home, as the user. An entry already at rel_path is kept as <name>.before-restore-<stamp> beside it;
    missing parent directories are made; nothing is written through a link the user planted on the way."""
    parts = check_rel_path(rel_path)
    fd = open_existing(home_root, name)
    try:
        request = {"action": "restore", "src_fd": src_fd, "path": "/".join(parts), "stamp": stamp}
        return run_as_user(fd, uid, gid, request, extra_fds=(src_fd,), timeout=timeout)
    finally:
        os.close(fd)


def check_rel_path(rel_path: str) -> list[str]:
    """The components of a path relative to a home; no absolute path, no '.' or '..', not the home itself."""
    parts = [p for p in rel_path.strip().split("/") if p not in ("", ".")]
    if rel_path.strip().startswith("/") or not parts or any(p == ".." or "\x00" in p for p in parts):
        raise HomeError(
            f"{rel_path!r} is not a path inside a home (relative, no '..', e.g. notebooks/a.ipynb)"
        )
    return parts


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


_COPY_CHUNK = 1 << 20


def _copy_file(src_dir: int, src_name: str | None, src_fd: int | None, dst_dir: int, dst_name: str) -> None:
    """Copy one regular file (by name in src_dir, or the open src_fd) to a new file dst_name (O_EXCL)."""
    own = src_fd is None
    if own:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        src_fd = os.open(src_name, flags, dir_fd=src_dir)
    try:
        st = os.fstat(src_fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{src_name} is not a regular file")
        out = os.open(
            dst_name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dst_dir,
        )
        try:
            os.lseek(src_fd, 0, os.SEEK_SET)
            while True:
                chunk = os.read(src_fd, _COPY_CHUNK)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
            os.fchmod(out, stat.S_IMODE(st.st_mode) & 0o777)
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(out)
    finally:
        if own:
            os.close(src_fd)


def _copy_tree(src: int, dst: int, counts: dict[str, Any]) -> None:
    """Copy the directory src into the (new, empty) directory dst: directories, regular files and symbolic
    links (as links, never followed); other entries are skipped. Depth-first with descriptors only."""
    stack = [(os.dup(src), os.dup(dst), os.listdir(src))]
    try:
        while stack:
            s_fd, d_fd, names = stack[-1]
            if not names:
                os.close(s_fd)
                os.close(d_fd)
                stack.pop()
                continue
            name = names.pop()
            st = os.stat(name, dir_fd=s_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if len(stack) >= MAX_WALK_DEPTH:
                    counts["skipped"].append(name)
                    continue
                os.mkdir(name, 0o700, dir_fd=d_fd)
                sub_s = os.open(name, _DIR_FLAGS, dir_fd=s_fd)
                sub_d = os.open(name, _DIR_FLAGS, dir_fd=d_fd)
                os.fchmod(sub_d, stat.S_IMODE(st.st_mode) & 0o777 | 0o700)
                stack.append((sub_s, sub_d, os.listdir(sub_s)))
                counts["dirs"] += 1
            elif stat.S_ISREG(st.st_mode):
                _copy_file(s_fd, name, None, d_fd, name)
                counts["files"] += 1
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(name, dir_fd=s_fd), name, dir_fd=d_fd)
                counts["links"] += 1
            else:
                counts["skipped"].append(name)
    finally:
        for s_fd, d_fd, _ in stack:
            os.close(s_fd)
            os.close(d_fd)


def _free_name(dir_fd: int, base: str) -> str:
    for n in range(1000):
        candidate = base if n == 0 else f"{base}-{n}"
        try:
            os.stat(candidate, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return candidate
    raise OSError(f"no free name for {base}")


def _restore(home: int, src: int, path: str, stamp: str) -> dict[str, Any]:
    *parents, leaf = path.split("/")
    try:
        parent = _walk_dirs(home, parents, create=True)
    except OSError as exc:
        where = "/".join(parents)
        return {"error": f"cannot restore {path}: {where} is not a directory ({exc.strerror or exc})"}
    counts: dict[str, Any] = {"files": 0, "dirs": 0, "links": 0, "skipped": []}
    try:
        st = os.fstat(src)
        tmp = _free_name(parent, f".{leaf}.skyhub-restore-{os.getpid()}")
        try:
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(tmp, 0o700, dir_fd=parent)
                out = os.open(tmp, _DIR_FLAGS, dir_fd=parent)
                try:
                    _copy_tree(src, out, counts)
                    os.fchmod(out, stat.S_IMODE(st.st_mode) & 0o777 | 0o700)
                finally:
                    os.close(out)
                counts["dirs"] += 1
            elif stat.S_ISREG(st.st_mode):
                _copy_file(parent, None, src, parent, tmp)
                counts["files"] += 1
            else:
                return {"error": f"{path} in the snapshot is neither a file nor a directory"}
            kept = None
            try:
                os.stat(leaf, dir_fd=parent, follow_symlinks=False)
                kept = _free_name(parent, f"{leaf}.before-restore-{stamp}")
                os.rename(leaf, kept, src_dir_fd=parent, dst_dir_fd=parent)  # the entry itself, link or not
            except FileNotFoundError:
                pass
            os.rename(tmp, leaf, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.stat(tmp, dir_fd=parent, follow_symlinks=False).st_mode):
                    shutil.rmtree(tmp, dir_fd=parent)
                else:
                    os.unlink(tmp, dir_fd=parent)
            raise
    finally:
        os.close(parent)
    return {"restored": path, "kept": "/".join([*parents, kept]) if kept else None, **counts}


def _child(request: dict[str, Any]) -> dict[str, Any]:
    if os.geteuid() == 0 or os.getegid() == 0:
        return {"error": "the home helper refuses to run as root"}
    home = int(request["fd"])
    if request.get("action") == "skel":
        return _skel(home, request.get("files", []))
    if request.get("action") == "notice":
        return _notice(home, request["name"], request.get("text"))
    if request.get("action") == "restore":
        return _restore(home, int(request["src_fd"]), request["path"], request["stamp"])
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
