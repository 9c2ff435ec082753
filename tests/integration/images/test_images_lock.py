"""Two builds from the same lock have the same package set (issue 13).

The session's first converge builds `minimal` with the role, every file from PyPI. Here `minimal`'s install
stage (`--target build`, where the venv is made) is built again from scratch (`docker build --no-cache`),
the way `skyhub science-images` builds it: from the controller's wheel cache of the lock
(build/cache/wheels/, filled by the Molecule appliance's prepare step in `make test`, or downloaded here
once). Two different sources, one lock: `pip freeze` must be identical. The final stage only copies that
venv; what it tells users (labels, /opt/skyhub/VERSION, variables) is checked on the role's images.

`--no-cache` makes duplicates of the first layers, which can divert the classic builder's cache lookup of
later builds (docs/benchmarks.md); the session removes the image at the end, and with it those layers.

Cost: uv installing ~100 cached wheels with bytecode in a fresh build stage: 128 s and 240 s measured with
the machine's load at 18–40 (a quiet machine was not available to measure), plus a one-time wheel download
(182 s measured) when build/cache has no wheels for this lock yet.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from images_helpers import ROOT, TEST_VERSION, docker, inspect, record

from skyhub.build import image, science_cache

pytestmark = pytest.mark.integration

MINIMAL = f"skyhub/minimal:{TEST_VERSION}"
ASTRO = f"skyhub/astro:{TEST_VERSION}"
AGAIN = "skyhub-imagestest/minimal-install-stage:again"
LOCK_LABEL = "org.skyhub.image.lock-sha256"
FREEZE = "/opt/skyhub/venv/bin/python -m pip freeze --all --disable-pip-version-check"


def _freeze(ref: str) -> list[str]:
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", ref, "-c", FREEZE).stdout
    return sorted(line for line in out.splitlines() if line.strip())


@pytest.fixture(scope="module")
def rebuilt_minimal(first_converge, python_base: str, created_refs: list[str]) -> str:
    created_refs.append(AGAIN)
    entry = {**next(e for e in science_cache.plan(python_base) if e["name"] == "minimal"), "ref": AGAIN}
    cache = ROOT / "build" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    wheels = science_cache.ensure_wheels(
        entry, python_base, image.image_id(python_base) or "", ROOT / "images", cache
    )
    with tempfile.TemporaryDirectory(prefix="context-", dir=cache) as tmp:
        ctx = Path(tmp) / "minimal"
        shutil.copytree(ROOT / "images" / "minimal", ctx)
        shutil.copyfile(science_cache.CA_BUNDLE, ctx / "build-ca.pem")
        science_cache._link_tree(wheels, ctx / "wheels")
        docker(
            "build", "--no-cache", "--target", "build", "--pull=false", "-q", "-t", AGAIN,
            "--build-arg", f"BASE_IMAGE={python_base}",
            "--build-arg", f"SKYHUB_IMAGE_VERSION={TEST_VERSION}",
            "--build-arg", f"SKYHUB_CONTENT_KEY={entry['key']}",
            "--build-arg", f"SKYHUB_LOCK_SHA256={entry['lock_sha256']}",
            str(ctx),
        )  # fmt: skip
    record("minimal_rebuild_from_wheel_cache_s", round(time.monotonic() - start, 1))
    return AGAIN


def test_two_builds_from_one_lock_have_the_same_packages(rebuilt_minimal: str) -> None:
    first, second = _freeze(MINIMAL), _freeze(rebuilt_minimal)
    assert len(first) > 90, first  # the whole locked set, not just the top-level pins
    assert first == second
    # control: the comparison sees a different package set (astro's lock is another one)
    assert _freeze(ASTRO) != first


def test_the_freeze_is_the_lock(rebuilt_minimal: str) -> None:
    """Every package of the lock that applies to this Python is installed at the locked version."""
    locked = (ROOT / "images/minimal/requirements.lock").read_text()
    frozen = dict(line.split("==", 1) for line in _freeze(rebuilt_minimal) if "==" in line)
    frozen = {name.lower().replace("_", "-"): v for name, v in frozen.items()}
    for name in ("jupyterhub", "jupyterlab", "tornado", "uv"):
        assert f"\n{name}=={frozen[name]} " in locked, name


@pytest.mark.parametrize("ref", [MINIMAL, ASTRO])
def test_the_image_tells_its_version_and_lock(first_converge, ref: str) -> None:
    name = ref.split("/")[1].split(":")[0]
    lock_sha = science_cache._filters().lock_sha256(ROOT / "images" / name)
    assert inspect(ref)["Config"]["Labels"][LOCK_LABEL] == lock_sha
    probe = 'cat /opt/skyhub/VERSION; echo "env=$SKYHUB_IMAGE $SKYHUB_IMAGE_LOCK_SHA256"'
    out = docker("run", "--rm", "--network", "none", ref, "sh", "-c", probe).stdout
    assert f"lock-sha256: {lock_sha}" in out
    assert (
        f"cite: skyhub science image skyhub/{name} {TEST_VERSION}, environment lock sha256:{lock_sha}" in out
    )
    assert f"env=skyhub/{name}:{TEST_VERSION} {lock_sha}" in out
    check = "cd /opt/skyhub && sha256sum requirements.lock"
    assert docker("run", "--rm", "--network", "none", ref, "sh", "-c", check).stdout.split()[0] == lock_sha
