"""Helpers of the image tier (imported by name: never `from conftest import`)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from skyhub.demo import SYSTEMD_FLAGS

REPO = Path(__file__).resolve().parents[3]
LABEL = "org.skyhub.area=image-test"
RUN_FLAGS = ["--label", LABEL, *SYSTEMD_FLAGS]


def docker(*args: str, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def in_instance(name: str, cmd: str, check: bool = True) -> str:
    return docker("exec", name, "bash", "-c", cmd, check=check)


def wait_first_boot(name: str, timeout: float = 180) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = in_instance(name, "systemctl is-active skyhub-first-boot.service", check=False).strip()
        if state == "active":
            return time.monotonic() - t0
        if state == "failed":
            raise AssertionError(in_instance(name, "journalctl -u skyhub-first-boot --no-pager", check=False))
        time.sleep(0.5)
    raise AssertionError(f"{name}: skyhub-first-boot did not finish in {timeout} s")


def has_hub(name: str) -> bool:
    return "jupyterhub.service" in in_instance(
        name, "systemctl list-unit-files jupyterhub.service", check=False
    )


def wait_hub(name: str, timeout: float = 600) -> float:
    """Seconds until the hub's API answers through the proxy inside the instance."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        code = in_instance(
            name, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/hub/api || true", check=False
        ).strip()
        if code == "200":
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"{name}: /hub/api did not answer in {timeout} s")
