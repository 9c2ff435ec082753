"""Ensure a working Docker engine on the controller.

Rules (issue #2): if `docker info` answers, use that engine and never touch it. Otherwise, on Debian or
Ubuntu as root, install Debian's docker.io, start dockerd in the background and wait until it answers.
Anywhere else, stop with a message saying what to install. Quiet when there is nothing to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skyhub.errors import SkyhubError

DOCKERD_LOG = Path("/var/log/skyhub-dockerd.log")


@dataclass
class Host:
    """What the bootstrap needs to know about the machine; injectable for tests."""

    run: Callable[[list[str]], int]
    os_release: Callable[[], dict[str, str]]
    is_root: Callable[[], bool]
    which: Callable[[str], str | None]
    spawn_daemon: Callable[[], None]
    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = print


def _run_quiet(argv: list[str]) -> int:
    try:
        return subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        ).returncode
    except FileNotFoundError:
        return 127


def _read_os_release() -> dict[str, str]:
    data: dict[str, str] = {}
    path = Path("/etc/os-release")
    if not path.exists():
        return data
    for line in path.read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            data[key] = value.strip().strip('"')
    return data


def _spawn_dockerd() -> None:
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = DOCKERD_LOG.open("ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)


def real_host() -> Host:
    return Host(
        run=_run_quiet,
        os_release=_read_os_release,
        is_root=lambda: os.geteuid() == 0,
        which=shutil.which,
        spawn_daemon=_spawn_dockerd,
    )


def is_debian_like(release: dict[str, str]) -> bool:
    ids = {release.get("ID", "")} | set(release.get("ID_LIKE", "").split())
    return bool(ids & {"debian", "ubuntu"})


def engine_answers(host: Host) -> bool:
    return host.run(["docker", "info"]) == 0


def ensure_engine(host: Host | None = None, timeout: float = 60.0) -> str:
    """Make `docker info` work. Returns what was done: "running", "started" or "installed"."""
    host = host or real_host()
    if engine_answers(host):
        return "running"
    release = host.os_release()
    done = "started"
    if host.which("dockerd") is None:
        if not is_debian_like(release):
            raise SkyhubError(
                "No working Docker engine and this is not Debian/Ubuntu "
                f"({release.get('PRETTY_NAME', 'unknown OS')}). Install Docker Engine "
                "(https://docs.docker.com/engine/install/) and start it, then run this again."
            )
        if not host.is_root():
            raise SkyhubError(
                "No working Docker engine. Install it as root: `sudo apt-get install -y docker.io` "
                "and start it (`sudo systemctl start docker`), or re-run this command as root."
            )
        host.say("skyhub: installing Debian's docker.io (no Docker engine answered)...")
        env_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
        if host.run([*env_prefix, "apt-get", "update", "-q"]) != 0:
            raise SkyhubError("apt-get update failed: check the machine's package sources and network.")
        install = [*env_prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends"]
        if host.run([*install, "docker.io", "iptables", "ca-certificates"]) != 0:
            raise SkyhubError("apt-get install docker.io failed: see the apt output above.")
        done = "installed"
    if not host.is_root():
        raise SkyhubError(
            "dockerd is installed but not answering, and only root can start it: "
            "`sudo systemctl start docker` (or `sudo dockerd &`), then run this again."
        )
    host.say("skyhub: starting dockerd in the background (log: /var/log/skyhub-dockerd.log)...")
    host.spawn_daemon()
    deadline = timeout
    while deadline > 0:
        if engine_answers(host):
            return done
        host.sleep(1.0)
        deadline -= 1.0
    raise SkyhubError(f"dockerd did not answer within {timeout:.0f} s; read {DOCKERD_LOG} for the reason.")
