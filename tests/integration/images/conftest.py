"""Session fixtures of the science images tests (helpers: images_helpers.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from images_helpers import BASE_IMAGE, ROOT, TEST_VERSION, Converge, docker, image_exists, record, run_role


@pytest.fixture(scope="session")
def python_base() -> str:
    """The locally built Debian 12 python base (`skyhub base-image python`; cached by content key)."""
    subprocess.run([str(ROOT / ".venv/bin/skyhub"), "base-image", "python"], check=True)
    assert image_exists(BASE_IMAGE), f"{BASE_IMAGE} missing after `skyhub base-image python`"
    return BASE_IMAGE


@pytest.fixture(scope="session")
def images_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of images/ (tests may edit it) and room for build contexts."""
    work = tmp_path_factory.mktemp("science-images")
    shutil.copytree(ROOT / "images", work / "src")
    (work / "build").mkdir()
    return work


@pytest.fixture(scope="session")
def created_refs() -> Iterator[list[str]]:
    """Image references the tests created; removed at the end of the session."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        docker("image", "rm", ref, check=False)


@pytest.fixture(scope="session")
def role_vars(python_base: str, images_workdir: Path) -> Callable[..., dict]:
    def make(images: list[str], version: str = TEST_VERSION, **extra: object) -> dict:
        return {
            "science_images_list": [{"name": n, "version": version, "description": n} for n in images],
            "science_images_base_image": python_base,
            "science_images_source_dir": str(images_workdir / "src"),
            "science_images_build_dir": str(images_workdir / "build"),
            **extra,
        }

    return make


@pytest.fixture(scope="session")
def first_converge(role_vars, images_workdir: Path, created_refs: list[str]) -> Converge:
    """Build astro and minimal once for the whole session (cold: minutes; with Docker's cache: seconds)."""
    refs = [f"skyhub/{n}:{TEST_VERSION}" for n in ("astro", "minimal")]
    created_refs.extend(refs)
    was_there = {ref: image_exists(ref) for ref in refs}
    result = run_role(role_vars(["astro", "minimal"]), images_workdir)
    assert result.rc == 0, result.output[-6000:]
    record("first_converge_s", round(result.seconds, 1))
    record("first_converge_images_already_present", was_there)
    return result
