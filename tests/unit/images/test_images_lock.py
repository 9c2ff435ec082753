"""Hashed locks (issue 13): the controller's and every image's lock match their top-level pins, carry
hashes for every package, are what the builds install, and are part of each image's content key."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
IMAGES = REPO / "images"
IMAGE_NAMES = sorted(p.parent.name for p in IMAGES.glob("*/Dockerfile"))
BASE = "skyhub/debian12-python:latest"
BASE_ID = "sha256:" + "a" * 64


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


lock = _load("skyhub_lock_script", REPO / "scripts" / "lock.py")
si = _load("skyhub_science_images_filters", REPO / "roles/science_images/filter_plugins/science_images.py")


def test_every_lock_is_fresh_and_fully_hashed() -> None:
    """What `python3 scripts/lock.py --check` (run by `make setup`) checks, for every lock."""
    found = {lk.relative_to(REPO).as_posix(): lock.problems(lk, inputs) for lk, inputs in lock.locks()}
    assert set(found) == {"requirements.lock"} | {f"images/{n}/requirements.lock" for n in IMAGE_NAMES}
    assert all(v == [] for v in found.values()), found


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_the_image_lock_pins_more_than_the_top_level(name: str) -> None:
    top = lock.pins(IMAGES / name / "requirements.txt")
    locked = lock.pins(IMAGES / name / "requirements.lock")
    assert set(top) < set(locked), "the lock must pin the dependencies too"
    assert locked["uv"] == top["uv"], "the image build installs the lock with uv from the lock"
    text = (IMAGES / name / "requirements.lock").read_text()
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        if lock._PIN.match(entry):
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]


def test_check_finds_a_stale_lock(tmp_path: Path) -> None:
    """Control: editing a top-level pin without `make lock` is caught (names the package and the fix)."""
    req = tmp_path / "requirements.txt"
    lk = tmp_path / "requirements.lock"
    shutil.copyfile(IMAGES / "minimal" / "requirements.txt", req)
    shutil.copyfile(IMAGES / "minimal" / "requirements.lock", lk)
    # the input hash recorded in the lock is over the repository's file names: recompute for the copy
    text = lk.read_text()
    lk.write_text(
        re.sub(
            r"(?m)^# skyhub-lock-input: [0-9a-f]{64}$", f"# skyhub-lock-input: {lock.input_hash([req])}", text
        )
    )
    assert lock.problems(lk, [req]) == []
    req.write_text(req.read_text().replace("jupyterlab==4.6.6", "jupyterlab==4.6.5"))
    found = lock.problems(lk, [req])
    assert any("was compiled from other inputs" in p for p in found)
    assert any("jupyterlab==4.6.5 from requirements.txt is locked as 4.6.6" in p for p in found)
    # a lock entry without hashes is refused too
    lk.write_text(
        re.sub(r"(?m)^tornado==(\S+) \\\n(    --hash=\S+( \\)?\n)+", r"tornado==\1\n", lk.read_text())
    )
    assert any("no hashes for tornado" in p for p in lock.problems(lk, [req]))


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_changing_one_pin_of_the_real_lock_changes_the_image_key(name: str, tmp_path: Path) -> None:
    image_dir = tmp_path / name
    shutil.copytree(IMAGES / name, image_dir)
    key = si.content_key(image_dir, BASE, BASE_ID)
    lock_file = image_dir / "requirements.lock"
    text = lock_file.read_text()
    # a transitive package (not a top-level pin): only the lock knows its version
    assert "tornado==" in text and "tornado" not in lock.pins(IMAGES / name / "requirements.txt")
    lock_file.write_text(re.sub(r"(?m)^tornado==(\S+)", "tornado==0.0.0", text, count=1))
    assert si.content_key(image_dir, BASE, BASE_ID) != key
    assert si.lock_sha256(image_dir) != hashlib.sha256(text.encode()).hexdigest()
    lock_file.write_text(text)
    assert si.content_key(image_dir, BASE, BASE_ID) == key


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_the_dockerfile_installs_only_the_lock_with_hash_checking(name: str) -> None:
    text = (IMAGES / name / "Dockerfile").read_text()
    stages = re.split(r"(?m)^FROM ", text)
    build, final = stages[1], stages[-1]
    assert "requirements.txt" not in build, "the build installs the lock, never the top-level pins"
    installs = re.findall(r"bin/(?:pip|uv pip) install[^;]*", build.replace("\\\n", " "))
    assert len(installs) == 2, installs
    for cmd in installs:
        assert "--require-hashes" in cmd and "--no-deps" in cmd and "--only-binary" in cmd, cmd
    assert "requirements.lock" in installs[1] and "uv.txt" in installs[0]
    # what users see: the lock in the image, its hash as label and variable, a VERSION file to cite
    assert "COPY --from=build /opt/skyhub/lock/requirements.lock /opt/skyhub/requirements.lock" in final
    for needle in (
        'org.skyhub.image.lock-sha256="${SKYHUB_LOCK_SHA256}"',
        'SKYHUB_IMAGE_LOCK_SHA256="${SKYHUB_LOCK_SHA256}"',
        'SKYHUB_IMAGE_VERSION="${SKYHUB_IMAGE_VERSION}"',
        "> /opt/skyhub/VERSION",
        "sha256sum -c",
        "cite: ",
    ):
        assert needle in final, needle
    assert not any(ln.startswith(("COPY build-ca", "COPY wheels")) for ln in final.splitlines())
    assert final.rstrip().splitlines()[-1] == "USER 1000"
