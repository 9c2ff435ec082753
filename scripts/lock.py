#!/usr/bin/env python3
"""Lock files with hashes: the controller toolchain and every science image (`make lock`, docs/images.md).

    python3 scripts/lock.py            compile the locks that are stale, keep existing pins where possible
    python3 scripts/lock.py --upgrade  re-resolve everything to the newest versions the top-level pins allow
    python3 scripts/lock.py --check    offline: fail if a lock no longer matches its top-level pins

Top-level pins stay in requirements.txt (controller, plus pyproject.toml's dependencies) and
images/<name>/requirements.txt. `uv pip compile --universal --generate-hashes` turns each into a
requirements.lock beside it: every package, direct or not, pinned `==` with the hashes of its files on PyPI,
valid for every Python from PYTHON_FLOOR up (Debian 12's 3.11 on the controller and in the locally built
image base, 3.13 in Jupyter Docker Stacks; where a dependency differs by Python the lock carries both with
markers). Installs use only the lock, with hash checking.

--check needs only the standard library (it runs before the venv exists, in `make setup`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON_FLOOR = "3.11"
COMPILE_COMMAND = "make lock"
LOCK_NAME = "requirements.lock"
# A `name==version` line of a requirements file (comments, markers and hashes stripped by _pins).
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")
_INPUT_HASH = re.compile(r"^# skyhub-lock-input: ([0-9a-f]{64})$", re.MULTILINE)


def normalize(name: str) -> str:
    """PEP 503 name normalization (Jinja2 == jinja2, websocket_client == websocket-client)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """{normalized name: version} of the `name==version` lines of a requirements or lock file."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line.strip())
        if m:
            out.setdefault(normalize(m.group(1)), m.group(3))
    return out


def locks() -> list[tuple[Path, list[Path]]]:
    """(lock file, its inputs) for the controller and every image directory under images/."""
    out = [(REPO / LOCK_NAME, [REPO / "requirements.txt", REPO / "pyproject.toml"])]
    for req in sorted((REPO / "images").glob("*/requirements.txt")):
        out.append((req.parent / LOCK_NAME, [req]))
    return out


def _rel(path: Path) -> str:
    """The path relative to the repository when it is inside it (messages, the input hash)."""
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name


def input_hash(inputs: list[Path]) -> str:
    """SHA-256 over the inputs' names and contents: the lock records it, --check compares it."""
    h = hashlib.sha256(f"python>={PYTHON_FLOOR}\0".encode())
    for path in inputs:
        h.update(_rel(path).encode() + b"\0")
        h.update(hashlib.sha256(_lock_relevant(path)).digest())
    return h.hexdigest()


def _lock_relevant(path: Path) -> bytes:
    """What of an input decides the lock: a requirements file whole; of pyproject.toml only the project's
    dependencies and Python range (its tool settings do not make the lock stale)."""
    if path.suffix != ".toml":
        return path.read_bytes()
    project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    keys = ("dependencies", "optional-dependencies", "requires-python")
    return json.dumps({k: project.get(k) for k in keys}, sort_keys=True).encode()


def lock_hash(lock: Path) -> str:
    """The SHA-256 of a lock file (what an image carries as its lock label)."""
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def problems(lock: Path, inputs: list[Path]) -> list[str]:
    """Why `lock` does not match its inputs (empty when it does)."""
    rel = _rel(lock)
    if not lock.is_file():
        return [f"{rel} is missing"]
    text = lock.read_text(encoding="utf-8")
    found = _INPUT_HASH.search(text)
    out = []
    if found is None or found.group(1) != input_hash(inputs):
        out.append(f"{rel} was compiled from other inputs than today's {', '.join(p.name for p in inputs)}")
    locked = pins(lock)
    for req in (p for p in inputs if p.name.endswith(".txt")):
        for name, version in pins(req).items():
            if locked.get(name) != version:
                out.append(f"{rel}: {name}=={version} from {_rel(req)} is locked as {locked.get(name)}")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [e.split()[0] for e in entries if _PIN.match(e) and "--hash=sha256:" not in e]
    if unhashed:
        out.append(f"{rel}: no hashes for {', '.join(unhashed)}")
    return out


def uv_binary() -> str:
    candidate = Path(sys.executable).parent / "uv"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("uv")
    if not found:
        raise SystemExit("lock: uv is not installed; run `make setup` first (it installs uv into .venv)")
    return found


def compile_lock(lock: Path, inputs: list[Path], upgrade: bool) -> None:
    argv = [
        uv_binary(), "pip", "compile", "--quiet", "--universal", "--python-version", PYTHON_FLOOR,
        "--generate-hashes", "--custom-compile-command", COMPILE_COMMAND, "--output-file", str(lock),
        *[str(p) for p in inputs],
    ]  # fmt: skip
    if upgrade:
        argv.append("--upgrade")
    env = {**os.environ, "UV_SYSTEM_CERTS": "1", "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(argv, check=True, cwd=REPO, env=env)
    body = lock.read_text(encoding="utf-8")
    body = _INPUT_HASH.sub("", body).lstrip("\n")
    names = [_rel(p) for p in inputs]
    header = (
        f"# skyhub-lock-input: {input_hash(inputs)}\n"
        f"# Generated by `make lock` (scripts/lock.py) from {', '.join(names)}; Python >= {PYTHON_FLOOR}."
        " Do not edit.\n"
    )
    lock.write_text(header + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="offline: fail if a lock is stale")
    mode.add_argument("--upgrade", action="store_true", help="re-resolve to the newest allowed versions")
    args = parser.parse_args(argv)
    stale = {lock: problems(lock, inputs) for lock, inputs in locks()}
    if args.check:
        bad = [msg for msgs in stale.values() for msg in msgs]
        for msg in bad:
            print(f"lock: {msg}", file=sys.stderr)
        if bad:
            print("lock: run `make lock` and commit the lock files", file=sys.stderr)
        return 1 if bad else 0
    for lock, inputs in locks():
        if stale[lock] or args.upgrade:
            print(f"lock: compiling {_rel(lock)}", flush=True)
            compile_lock(lock, inputs, args.upgrade)
            left = problems(lock, inputs)
            if left:
                raise SystemExit("lock: " + "; ".join(left))
        else:
            print(f"lock: {_rel(lock)} is current")
        print(f"lock:   sha256 {lock_hash(lock)[:12]}, {len(pins(lock))} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
