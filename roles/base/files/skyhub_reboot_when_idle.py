#!/usr/bin/python3
"""skyhub-reboot-when-idle: reboot for pending updates only when no user server runs.

unattended-upgrades installs security updates but never reboots (base role). A kernel or libc update asks for
a reboot by writing /run/reboot-required (and the packages in /run/reboot-required.pkgs). A timer runs this
check: no reboot required -> nothing; a user server running (a container named with the spawner's prefix) ->
wait, and say who keeps the host up; otherwise run the reboot command. When it cannot tell whether a server
runs (Docker does not answer), it does not reboot.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

DEFAULT_CONFIG = "/etc/skyhub/reboot-when-idle.json"
# the base role writes every key (base_reboot_*)
DEFAULTS = {
    "required_file": "/run/reboot-required",
    "container_prefix": "jupyter-",
    "reboot_command": "systemctl reboot",
}


class CannotTell(RuntimeError):
    """Whether a user server runs is unknown (then the host is not rebooted)."""


def running_servers(prefix: str, docker: str = "docker") -> list[str]:
    """Names of the running containers whose name starts with `prefix` (DockerSpawner's user servers)."""
    try:
        out = subprocess.run(
            [docker, "ps", "--format", "{{.Names}}"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotTell(f"docker ps failed: {exc}") from exc
    if out.returncode != 0:
        raise CannotTell(f"docker ps failed: {out.stderr.strip() or out.returncode}")
    return sorted(name for name in out.stdout.split() if name.startswith(prefix))


def decide(required: bool, packages: list[str], servers: list[str]) -> tuple[str, str]:
    """(action, reason): action is "none", "wait" or "reboot"."""
    if not required:
        return "none", "no reboot required"
    why = f"reboot required by {', '.join(packages)}" if packages else "reboot required"
    if servers:
        shown = ", ".join(servers[:5]) + (f" and {len(servers) - 5} more" if len(servers) > 5 else "")
        return "wait", f"{why}, but {len(servers)} user server(s) run ({shown}): waiting until none does"
    return "reboot", f"{why} and no user server runs: rebooting"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"settings (default {DEFAULT_CONFIG})")
    parser.add_argument("--dry-run", action="store_true", help="decide and report, never reboot")
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    args = parser.parse_args(argv)
    try:
        cfg = {**DEFAULTS, **json.loads(Path(args.config).read_text())}
    except FileNotFoundError:
        cfg = dict(DEFAULTS)
    except ValueError as exc:
        print(f"skyhub-reboot-when-idle: {args.config} is not JSON ({exc}); not rebooting", file=sys.stderr)
        return 2

    flag = Path(cfg["required_file"])
    required = flag.exists()
    pkgs_file = flag.with_name(flag.name + ".pkgs")
    packages = sorted(set(pkgs_file.read_text().split())) if required and pkgs_file.is_file() else []
    try:
        servers = running_servers(cfg["container_prefix"]) if required else []
    except CannotTell as exc:
        print(f"skyhub-reboot-when-idle: reboot required, not rebooting: {exc}", file=sys.stderr)
        return 1
    action, reason = decide(required, packages, servers)
    if args.json:
        print(json.dumps({"action": action, "reason": reason, "servers": servers, "packages": packages}))
    else:
        print(f"skyhub-reboot-when-idle: {reason}")
    if action != "reboot" or args.dry_run:
        return 0
    sys.stdout.flush()
    return subprocess.run(shlex.split(cfg["reboot_command"]), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
