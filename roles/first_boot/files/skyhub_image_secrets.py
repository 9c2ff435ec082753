#!/usr/bin/python3
"""What an image must not carry: remove it, or check that none of it is there.

The list is the first_boot role's `_first_boot_image_secrets` (roles/first_boot/vars/main.yml). Used by the
image cleanup (Ansible runs this file on the host being imaged), by the build's last step (Packer uploads this
file and the list, and the build fails if `--check` finds anything) and by the image tier, which imports
`violations` to check a `docker export` of the image. Standard library only (plus PyYAML for --list).

  skyhub_image_secrets.py --list vars.yml --remove [--skip-last]   # remove (or empty) every match
  skyhub_image_secrets.py --list vars.yml --check                  # exit 1 and name each match left
  skyhub_image_secrets.py --json '[{"path": ...}]' ...             # the list as JSON (from Ansible)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

LIST_KEY = "_first_boot_image_secrets"
GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Entry:
    path: str  # a glob: "*" within one name, "**" across directories
    what: str
    empty: bool = False  # keep the file, emptied
    last: bool = False  # removed only by the build's last step

    @property
    def regex(self) -> re.Pattern[str]:
        return glob_regex(self.path)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex for a path glob: "*" and "?" stay within a name, "**/" is any number of directories,
    a trailing "**" anything below, "[...]" a character class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def parse_entries(items: Iterable[Mapping]) -> list[Entry]:
    entries = []
    for item in items:
        path = str(item["path"])
        if not path.startswith("/") or "\n" in path:
            raise ValueError(f"{LIST_KEY}: {path!r} is not an absolute path")
        entries.append(
            Entry(path, str(item.get("what", "")), bool(item.get("empty")), bool(item.get("last")))
        )
    return entries


def load(path: str | os.PathLike[str]) -> list[Entry]:
    """The list from the role's vars file."""
    text = Path(path).read_text()
    import yaml  # only for the vars file: the build host has python3-yaml (the first_boot role installs it)

    return parse_entries((yaml.safe_load(text) or {})[LIST_KEY])


def _match(entries: list[Entry], path: str) -> Entry | None:
    """The entry that decides a path: a removal entry matching it or a directory above it first (what is
    under a removed directory goes with it), else an `empty` entry matching it."""
    candidates = [path, *_parents(path)]
    for e in entries:
        if not e.empty and any(e.regex.match(c) for c in candidates):
            return e
    for e in entries:
        if e.empty and e.regex.match(path):
            return e
    return None


def _parents(path: str) -> Iterator[str]:
    parts = path.rstrip("/").split("/")
    for n in range(2, len(parts)):
        yield "/".join(parts[:n])


def violations(entries: list[Entry], members: Mapping[str, tuple[bool, int]]) -> list[str]:
    """For a file listing {path: (is_regular_file, size)}: what the list forbids, one line each."""
    found = []
    for path in sorted(members):
        entry = _match(entries, path)
        if entry is None:
            continue
        is_file, size = members[path]
        if entry.empty:
            if is_file and size > 0:
                found.append(f"{path}: {entry.what} (must be empty, has {size} bytes)")
        else:
            found.append(f"{path}: {entry.what}")
    return found


def _prefix(pattern: str) -> str:
    """The directory part of a glob before its first wildcard (where a walk has to start)."""
    head = GLOB_CHARS.split(pattern, 1)[0]
    return head if not GLOB_CHARS.search(pattern) else head.rsplit("/", 1)[0] or "/"


def scan(entries: list[Entry], root: str = "/") -> dict[str, tuple[bool, int]]:
    """The live filesystem under root, as a listing of the paths the entries match (walks only below each
    entry's fixed prefix; never follows links; does not descend into a directory that will be removed)."""
    listing: dict[str, tuple[bool, int]] = {}
    base = root.rstrip("/")

    def add(host_path: str) -> None:
        st = os.lstat(host_path)
        listing[host_path[len(base) :] or "/"] = (stat.S_ISREG(st.st_mode), st.st_size)

    for start in sorted({_prefix(e.path) for e in entries}):
        top = base + start
        if not os.path.lexists(top):
            continue
        is_dir = os.path.isdir(top) and not os.path.islink(top)
        entry = _match(entries, start)
        if entry is not None and (not entry.empty or not is_dir):
            add(top)
            continue
        if not is_dir:
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in filenames:
                full = os.path.join(dirpath, name)
                if _match(entries, full[len(base) :]):
                    add(full)
            kept = []
            for d in dirnames:
                full = os.path.join(dirpath, d)
                entry = _match(entries, full[len(base) :])
                if entry is not None and (not entry.empty or os.path.islink(full)):
                    add(full)  # removed whole (or a link): not walked
                elif not os.path.islink(full):
                    kept.append(d)
            dirnames[:] = kept
    return listing


def remove(entries: list[Entry], root: str = "/") -> list[str]:
    """Remove every match (empty the `empty` ones). Returns what was done, one line each."""
    todo = entries
    done = []
    base = root.rstrip("/")
    for path, (is_file, size) in sorted(scan(todo, root).items()):
        entry = _match(todo, path)
        host_path = base + path
        if entry is None or not os.path.lexists(host_path):
            continue  # under a directory removed before
        if entry.empty:
            if is_file and size > 0:
                os.truncate(host_path, 0)
                done.append(f"emptied {path}")
        elif os.path.isdir(host_path) and not os.path.islink(host_path):
            shutil.rmtree(host_path)
            done.append(f"removed {path}/")
        else:
            os.unlink(host_path)
            done.append(f"removed {path}")
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--list", help="the first_boot role's vars/main.yml")
    source.add_argument("--json", help="the list itself, as JSON")
    p.add_argument("--root", default="/", help="filesystem root (tests)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--remove", action="store_true", help="remove (or empty) every match")
    mode.add_argument("--check", action="store_true", help="exit 1 if anything on the list is there")
    p.add_argument("--skip-last", action="store_true", help="leave out the entries marked last")
    args = p.parse_args(argv)
    try:
        entries = load(args.list) if args.list else parse_entries(json.loads(args.json))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"skyhub image check: cannot read the list: {exc}", file=sys.stderr)
        return 2
    if args.skip_last:
        entries = [e for e in entries if not e.last]
    if args.remove:
        done = remove(entries, args.root)
        print(json.dumps({"changed": bool(done), "done": done}))
        return 0
    found = violations(entries, scan(entries, args.root))
    for line in found:
        print(f"skyhub image check: still in the image: {line}", file=sys.stderr)
    if found:
        print(
            f"skyhub image check: {len(found)} per-instance file(s) would be baked into the image",
            file=sys.stderr,
        )
        return 1
    print(f"skyhub image check: none of the {len(entries)} per-instance paths is in the image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
