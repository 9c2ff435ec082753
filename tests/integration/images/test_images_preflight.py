"""Bad input to the science_images role stops the play in preflight, names the variable, changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from images_helpers import run_role

pytestmark = pytest.mark.integration

GOOD = {"name": "minimal", "version": "2026.11.0", "description": "x"}

CASES = {
    "duplicate-names": ({"science_images_list": [GOOD, GOOD]}, "science_images_list must be unique"),
    "latest-as-version": (
        {"science_images_list": [{**GOOD, "version": "latest"}]},
        "every version in science_images_list must look like a version",
    ),
    "uppercase-name": (
        {"science_images_list": [{**GOOD, "name": "Astro"}]},
        "every name in science_images_list must be unique",
    ),
    "no-such-image-dir": (
        {"science_images_list": [{**GOOD, "name": "nosuch"}]},
        'science_images_list names "nosuch"',
    ),
    "empty-list": ({"science_images_list": []}, "science_images_list must be a non-empty list"),
    "empty-base": ({"science_images_base_image": ""}, "science_images_base_image must be an image reference"),
    "missing-archive": (
        {"science_images_base_archive": "/nonexistent/base.tar"},
        'science_images_base_archive "/nonexistent/base.tar" is not a file',
    ),
    "relative-build-dir": (
        {"science_images_build_dir": "images"},
        "science_images_build_dir must be an absolute",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_stops_before_any_change(case: str, tmp_path: Path) -> None:
    overrides, message = CASES[case]
    build_dir = tmp_path / "build"
    variables = {
        "science_images_list": [GOOD],
        "science_images_base_image": "skyhub/debian12-python:latest",
        "science_images_build_dir": str(build_dir),
        **overrides,
    }
    if case == "relative-build-dir":
        build_dir = Path("images")
    result = run_role(variables, tmp_path)
    assert result.rc != 0
    text = " ".join(result.output.split())
    assert message in text, result.output[-3000:]
    assert "science_images : Preflight" in result.output
    assert "Install |" not in result.output
    assert case == "relative-build-dir" or not build_dir.exists()
