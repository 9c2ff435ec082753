"""Fixtures for the image tier: the local image built through Packer (cached by content key) and
"instances" booted from it with the systemd-container flags (docs/testing.md). Everything created here is
named skyhub-image-* and labelled org.skyhub.area=image-test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from image_helpers import RUN_FLAGS, docker, wait_first_boot

from skyhub import demo


@pytest.fixture(scope="session")
def built_image() -> dict:
    """The image `make demo` boots: Packer's docker source running playbooks/site.yml with the local
    inventory (a warm run reuses the image of the same content key)."""
    return demo.build_image()


@pytest.fixture(scope="session")
def instances(built_image) -> Iterator[Callable[[str], str]]:
    """Start named instances of the built image; removes them (and their volumes) at the end."""
    made: list[str] = []

    def start(tag: str, *run_args: str, wait: bool = True) -> str:
        """run_args: more `docker run` arguments (a network and address, a settings file mounted); wait: until
        first boot succeeded."""
        name = f"skyhub-image-{tag}-{uuid.uuid4().hex[:6]}"
        docker(
            "run", "-d", "--name", name, *RUN_FLAGS, "-v", "/var/lib/docker", *run_args, built_image["image"]
        )
        made.append(name)
        if wait:
            wait_first_boot(name)
        return name

    yield start
    for name in made:
        docker("rm", "-f", "-v", name, check=False)
