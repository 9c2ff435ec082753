"""Build the locally made base images (no registry is needed) and cache them under a content key.

Two bases, both Debian 12 made with mmdebstrap (or debootstrap) and `docker import`:

* ``host``: a systemd image standing in for a fresh EC2 instance (Molecule test hosts, Packer's docker
  source);
* ``python``: a small Python base for the science images where Jupyter Docker Stacks cannot be pulled.

The tag is a content key over the suite, mirror, package list and this file's source, so an image is
rebuilt exactly when one of those changes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from skyhub.errors import SkyhubError

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"


@dataclass(frozen=True)
class BaseSpec:
    name: str
    repository: str
    packages: tuple[str, ...]
    cmd: str
    suite: str = SUITE
    mirror: str = MIRROR
    extra: tuple[str, ...] = field(default_factory=tuple)

    def key(self, script: bytes | None = None) -> str:
        """A content key: same inputs, same key; any change to them, a new key."""
        script = script if script is not None else _recipe()
        h = hashlib.sha256()
        for part in (self.suite, self.mirror, self.cmd, *sorted(self.packages), *self.extra):
            h.update(part.encode())
            h.update(b"\0")
        h.update(hashlib.sha256(script).digest())
        return h.hexdigest()[:12]

    def ref(self) -> str:
        return f"{self.repository}:{self.key()}"


BASES: dict[str, BaseSpec] = {
    "host": BaseSpec(
        name="host",
        repository="skyhub/debian12-host",
        packages=(
            "systemd",
            "systemd-sysv",
            "dbus",
            "python3",
            "python3-apt",
            "sudo",
            "ca-certificates",
            "iproute2",
            "iptables",
            "procps",
            "curl",
            "gnupg",
            "kmod",
            "less",
            "openssh-server",
            "cloud-guest-utils",
        ),
        cmd="/sbin/init",
    ),
    "python": BaseSpec(
        name="python",
        repository="skyhub/debian12-python",
        packages=("python3", "python3-venv", "ca-certificates", "tini", "curl"),
        cmd="/bin/bash",
    ),
}


def _recipe() -> bytes:
    """The build recipe that goes into the key: the rootfs recipe and the apt sources it writes."""
    return (inspect.getsource(make_rootfs) + SOURCES).encode()


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    )


def _bootstrap_tool() -> str:
    for tool in ("mmdebstrap", "debootstrap"):
        if shutil.which(tool):
            return tool
    subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
    res = subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "mmdebstrap", "debootstrap"],
        check=False,
    )
    if res.returncode != 0 or not shutil.which("mmdebstrap"):
        raise SkyhubError("Cannot install mmdebstrap/debootstrap: run `apt-get install mmdebstrap` as root.")
    return "mmdebstrap"


def _stream(argv: list[str], label: str) -> None:
    """Run a command, showing a one-line live progress (line count + last line) instead of silence."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    tty = sys.stdout.isatty()
    for n, line in enumerate(proc.stdout, 1):
        line = line.rstrip()
        tail = [*tail[-30:], line]
        if tty:
            sys.stdout.write(f"\r\033[K[{label} {time.monotonic() - start:5.0f}s #{n}] {line[:100]}")
            sys.stdout.flush()
        elif n % 25 == 1:
            print(f"[{label} {time.monotonic() - start:5.0f}s] {line[:120]}", flush=True)
    rc = proc.wait()
    if tty:
        sys.stdout.write("\n")
    if rc != 0:
        print("\n".join(tail), file=sys.stderr)
        raise SkyhubError(f"{label} failed (exit {rc}); the last lines of its output are above.")


SOURCES = (
    "deb {mirror} {suite} main\n"
    "deb {mirror} {suite}-updates main\n"
    "deb http://deb.debian.org/debian-security {suite}-security main\n"
)


def make_rootfs(spec: BaseSpec, root: Path, tool: str) -> None:
    """Everything that decides the image's content (its source is part of the content key)."""
    include = ",".join(spec.packages)
    if tool == "mmdebstrap":
        argv = [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={include}",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            spec.suite,
            str(root),
            spec.mirror,
        ]
    else:
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={include}",
            spec.suite,
            str(root),
            spec.mirror,
        ]
    _stream(argv, f"{tool} {spec.name}")
    (root / "etc/apt/sources.list").write_text(SOURCES.format(mirror=spec.mirror, suite=spec.suite))
    # An image must carry no per-instance identity: systemd makes a machine-id at first boot.
    (root / "etc/machine-id").write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    # Like a fresh cloud image: no package lists, and nothing that says they are fresh (Ansible's
    # apt cache_valid_time reads these mtimes).
    (root / "var/lib/apt/periodic/update-success-stamp").unlink(missing_ok=True)
    for stale in (root / "var/lib/apt/lists/partial", root / "var/lib/apt/lists"):
        os.utime(stale, (0, 0))
    for cache in (root / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()


def build(spec: BaseSpec, force: bool = False) -> str:
    """Ensure the image for ``spec`` exists; build it if its content key is new. Returns its ref."""
    ref = spec.ref()
    if not force and image_exists(ref):
        return ref
    tool = _bootstrap_tool()
    print(f"skyhub: building base image {ref} with {tool} (Debian {spec.suite}); takes about a minute")
    with tempfile.TemporaryDirectory(prefix="skyhub-base-") as tmp:
        root = Path(tmp) / "root"
        make_rootfs(spec, root, tool)
        print(f"skyhub: importing {ref} into Docker")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "-c", f'CMD ["{spec.cmd}"]', "-c", "ENV container=docker", "-", ref],
            stdin=tar.stdout,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise SkyhubError(f"docker import of {ref} failed")
    subprocess.run(["docker", "tag", ref, f"{spec.repository}:latest"], check=True)
    prune_stale(spec, keep=ref)
    return ref


def prune_stale(spec: BaseSpec, keep: str) -> list[str]:
    """Remove this base's images built under older keys (best effort: one still in use stays)."""
    out = subprocess.run(
        ["docker", "images", spec.repository, "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    stale = [r for r in out if r not in (keep, f"{spec.repository}:latest")]
    for ref in stale:
        subprocess.run(["docker", "rmi", ref], capture_output=True, check=False)
    return stale
