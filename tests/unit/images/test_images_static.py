"""The image definitions and the role's public surface, checked without Docker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
IMAGES = REPO / "images"
ROLE = REPO / "roles" / "science_images"
IMAGE_NAMES = sorted(p.parent.name for p in IMAGES.glob("*/Dockerfile"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+-]*)$")


def _requirements(name: str) -> list[str]:
    lines = (IMAGES / name / "requirements.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _tljh_hub_pin() -> str:
    packages = yaml.safe_load((REPO / "roles" / "tljh" / "defaults" / "main.yml").read_text())[
        "tljh_hub_packages"
    ]
    return next(p.split("==", 1)[1] for p in packages if p.startswith("jupyterhub=="))


def test_the_two_required_images_exist() -> None:
    assert {"astro", "minimal"} <= set(IMAGE_NAMES)


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_every_requirement_is_pinned_exactly(name: str) -> None:
    reqs = _requirements(name)
    assert reqs, f"images/{name}/requirements.txt is empty"
    loose = [r for r in reqs if not PIN.match(r)]
    assert loose == [], f"images/{name}/requirements.txt has unpinned lines: {loose}"


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_singleuser_matches_the_hub(name: str) -> None:
    pins = dict(r.split("==", 1) for r in _requirements(name))
    assert pins.get("jupyterhub") == _tljh_hub_pin() == "5.5.4"


def test_astro_has_the_science_stack() -> None:
    pins = {r.split("==", 1)[0].lower() for r in _requirements("astro")}
    wanted = {"jupyterlab", "astropy", "astroquery", "numpy", "scipy", "matplotlib", "s3fs", "boto3"}
    assert wanted | {"nbclient", "ipykernel", "jupyterhub"} <= pins


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_dockerfile_works_with_the_classic_builder_and_either_base(name: str) -> None:
    text = (IMAGES / name / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    assert not any(ln.lower().startswith("# syntax") for ln in lines), "no BuildKit frontend directive"
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    assert not any("--mount" in ln for ln in instructions), "RUN --mount needs BuildKit"
    first_from = next(i for i, ln in enumerate(lines) if ln.startswith("FROM "))
    assert any(ln.startswith("ARG BASE_IMAGE") for ln in lines[:first_from])
    assert all(ln.startswith("FROM ${BASE_IMAGE}") for ln in lines if ln.startswith("FROM "))
    # The final stage: no CA bundle, ends as uid 1000 running jupyterhub-singleuser, carries the key label.
    final = lines[max(i for i, ln in enumerate(lines) if ln.startswith("FROM ")) :]
    assert not any("build-ca" in ln for ln in final if ln.startswith(("COPY", "ADD")))
    assert [ln for ln in final if ln.startswith("USER ")][-1] == "USER 1000"
    assert 'CMD ["jupyterhub-singleuser"]' in final
    assert "WORKDIR /home/jovyan" in final
    assert "org.skyhub.image.content-key" in text


def test_argument_specs_match_defaults_key_for_key() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for key, value in defaults.items():
        assert options[key].get("default") == value, key
        assert options[key].get("description"), key
    assert all(k.startswith("science_images_") for k in defaults)


def test_default_images_are_the_ones_the_hub_offers() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    built = {f"skyhub/{i['name']}:{i['version']}" for i in defaults["science_images_list"]}
    hub = yaml.safe_load((REPO / "roles" / "tljh" / "defaults" / "main.yml").read_text())
    offered = {i["image"] for i in hub["tljh_spawner_images"]}
    assert offered <= built
    assert {i["name"] for i in defaults["science_images_list"]} <= set(IMAGE_NAMES)
