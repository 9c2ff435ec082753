"""Fixtures for the image tier: the local image built through Packer (cached by content key) and
"instances" booted from it with the systemd-container flags (docs/testing.md). Everything created here is
named skyhub-image-* and labelled org.skyhub.area=image-test."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SKYHUB = str(REPO / ".venv" / "bin" / "skyhub")
# The playbook the image is built with. The full appliance is playbooks/site.yml; the fast default proves
# the template, first boot and cleanup with the base role only (docs/packer.md).
PLAYBOOK = os.environ.get("SKYHUB_IMAGE_PLAYBOOK", "packer/playbooks/base-only.yml")
VARS_FILES = os.environ.get("SKYHUB_IMAGE_VARS_FILES", "")
LABEL = "org.skyhub.area=image-test"
RUN_FLAGS = [
    "--label", LABEL,
    "--stop-signal", "SIGRTMIN+3",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--device", "/dev/fuse",
]  # fmt: skip


def docker(*args: str, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def in_instance(name: str, cmd: str, check: bool = True) -> str:
    return docker("exec", name, "bash", "-c", cmd, check=check)


@pytest.fixture(scope="session")
def built_image() -> dict:
    """Build the local image with `skyhub build` (a warm run reuses the image of the same content key)."""
    base = subprocess.run(
        [SKYHUB, "base-image", "host", "--print-ref"], capture_output=True, text=True, check=True
    )
    argv = [
        SKYHUB, "build", "--target", "local",
        "--var", f"playbook={PLAYBOOK}",
        "--var", f"docker_base_image={base.stdout.strip().splitlines()[-1]}",
        "--var", "docker_repository=skyhub/image-test",
        "--var", "docker_container_name=skyhub-image-build-test",
    ]  # fmt: skip
    if VARS_FILES:
        argv += ["--var", "vars_files=" + json.dumps(VARS_FILES.split(","))]
    subprocess.run(argv, check=True, cwd=REPO)
    return json.loads((REPO / "build" / "image-local.json").read_text())


@pytest.fixture(scope="session")
def instances(built_image) -> Iterator[Callable[[str], str]]:
    """Start named instances of the built image; removes them (and their volumes) at the end."""
    made: list[str] = []

    def start(tag: str) -> str:
        name = f"skyhub-image-{tag}-{uuid.uuid4().hex[:6]}"
        docker("run", "-d", "--name", name, *RUN_FLAGS, "-v", "/var/lib/docker", built_image["image"])
        made.append(name)
        wait_first_boot(name)
        return name

    yield start
    for name in made:
        docker("rm", "-f", "-v", name, check=False)


def wait_first_boot(name: str, timeout: float = 90) -> float:
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


def wait_hub(name: str, timeout: float = 120) -> float:
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
