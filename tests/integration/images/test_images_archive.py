"""A host without a registry: the base comes from a controller-side `docker save` archive, loaded only
when the base reference is missing on the host."""

from __future__ import annotations

from pathlib import Path

import pytest
from images_helpers import docker, image_exists, inspect, run_role

pytestmark = pytest.mark.integration

ARCHIVE_REF = "skyhub-imagestest/base:archive"
VERSION = "0.0.2-imagestest"


def test_base_is_loaded_from_the_archive_when_missing(
    python_base: str, role_vars, images_workdir: Path, created_refs: list[str], tmp_path: Path
) -> None:
    ref = f"skyhub/minimal:{VERSION}"
    created_refs.extend([ref, ARCHIVE_REF])
    archive = tmp_path / "base.tar"
    docker("tag", python_base, ARCHIVE_REF)
    docker("save", "-o", str(archive), ARCHIVE_REF)
    docker("image", "rm", ARCHIVE_REF)
    assert not image_exists(ARCHIVE_REF)

    variables = role_vars(
        ["minimal"],
        version=VERSION,
        science_images_base_image=ARCHIVE_REF,
        science_images_base_archive=str(archive),
    )
    first = run_role(variables, images_workdir)
    assert first.rc == 0, first.output[-4000:]
    assert "load the base archive" in first.output
    assert image_exists(ARCHIVE_REF) and image_exists(ref)
    assert inspect(ARCHIVE_REF)["Id"] == inspect(python_base)["Id"]
    assert not (images_workdir / "build/.base-archive.tar").exists()

    again = run_role(variables, images_workdir)
    assert again.rc == 0 and again.changed == 0, again.output[-4000:]
