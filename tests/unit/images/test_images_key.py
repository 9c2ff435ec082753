"""The science_images role's content key and build plan (rebuilds happen only on change)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "science_images"


def _load_filters():
    path = ROLE / "filter_plugins" / "science_images.py"
    spec = importlib.util.spec_from_file_location("skyhub_science_images_filters", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


si = _load_filters()
BASE = "skyhub/debian12-python:latest"
BASE_ID = "sha256:" + "a" * 64


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    d = tmp_path / "demo"
    d.mkdir()
    (d / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 1000\n")
    (d / "requirements.txt").write_text("jupyterhub==5.5.4\njupyterlab==4.6.6\n")
    (d / "requirements.lock").write_text(LOCK)
    return d


# A lock as `make lock` writes it (abridged): every package pinned with the hashes of its files.
LOCK = """\
jupyterhub==5.5.4 \\
    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
jupyterlab==4.6.6 \\
    --hash=sha256:2222222222222222222222222222222222222222222222222222222222222222
tornado==6.5.2 \\
    --hash=sha256:3333333333333333333333333333333333333333333333333333333333333333
    # via jupyterhub
"""


def test_same_inputs_same_key(image_dir: Path, tmp_path: Path) -> None:
    first = si.content_key(image_dir, BASE, BASE_ID)
    assert first == si.content_key(image_dir, BASE, BASE_ID)
    assert len(first) == 64
    # A copy elsewhere, with other timestamps, has the same key: only names and contents count.
    copy = tmp_path / "copy" / "demo"
    copy.mkdir(parents=True)
    for f in image_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    os.utime(copy / "Dockerfile", (1, 1))
    assert si.content_key(copy, BASE, BASE_ID) == first


@pytest.mark.parametrize(
    "change",
    [
        lambda d: (d / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 1000\n# note\n"),
        lambda d: (d / "requirements.txt").write_text("jupyterhub==5.5.4\njupyterlab==4.6.5\n"),
        lambda d: (d / "start.sh").write_text("#!/bin/sh\n"),
        lambda d: (d / "requirements.txt").rename(d / "reqs.txt"),
        # one transitive pin of the lock (not in requirements.txt) moves: a new key, so a rebuild
        lambda d: (d / "requirements.lock").write_text(LOCK.replace("tornado==6.5.2", "tornado==6.5.3")),
        # same version, another file hash (a re-uploaded or substituted file): a new key too
        lambda d: (d / "requirements.lock").write_text(LOCK.replace("3333", "4444", 1)),
    ],
    ids=["dockerfile", "requirements", "new-file", "renamed-file", "lock-pin", "lock-hash"],
)
def test_any_build_input_changes_the_key(image_dir: Path, change) -> None:
    before = si.content_key(image_dir, BASE, BASE_ID)
    change(image_dir)
    assert si.content_key(image_dir, BASE, BASE_ID) != before


def test_base_reference_and_base_id_change_the_key(image_dir: Path) -> None:
    key = si.content_key(image_dir, BASE, BASE_ID)
    assert si.content_key(image_dir, "quay.io/jupyter/base-notebook:2026-08-03", BASE_ID) != key
    # Same reference, rebuilt base (new ID): the images on top must be rebuilt too.
    assert si.content_key(image_dir, BASE, "sha256:" + "b" * 64) != key


def test_smoke_check_ca_bundle_and_wheel_cache_are_not_build_inputs(image_dir: Path) -> None:
    key = si.content_key(image_dir, BASE, BASE_ID)
    (image_dir / "smoke.py").write_text("import jupyterlab\n")
    (image_dir / "build-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    # the builder's wheel cache: its files are fixed by the lock's hashes, whether present or not
    (image_dir / "wheels").mkdir()
    (image_dir / "wheels" / "tornado-6.5.2-py3-none-any.whl").write_bytes(b"PK")
    assert si.content_key(image_dir, BASE, BASE_ID) == key
    assert si.context_files(image_dir) == ["Dockerfile", "requirements.lock", "requirements.txt"]


def test_the_plan_carries_the_lock_hash(image_dir: Path, tmp_path: Path) -> None:
    plan = si.build_plan([{"name": "demo", "version": "1.0.0"}], str(tmp_path), BASE, BASE_ID, [])
    assert plan[0]["lock_sha256"] == hashlib.sha256(LOCK.encode()).hexdigest()
    (image_dir / "requirements.lock").unlink()
    with pytest.raises(ValueError, match=r"requirements.lock is missing: run `make lock`"):
        si.build_plan([{"name": "demo", "version": "1.0.0"}], str(tmp_path), BASE, BASE_ID, [])


def test_a_directory_without_dockerfile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Dockerfile"):
        si.content_key(tmp_path, BASE, BASE_ID)


def test_hub_version_is_read_from_the_exact_pin(image_dir: Path) -> None:
    assert si.hub_version(image_dir) == "5.5.4"
    (image_dir / "requirements.txt").write_text("jupyterhub>=5\n")
    with pytest.raises(ValueError, match="pin jupyterhub exactly"):
        si.hub_version(image_dir)


def _existing(ref: str, key: str) -> dict:
    return {"RepoTags": [ref], "Config": {"Labels": {si.KEY_LABEL: key}}}


def test_plan_builds_missing_and_changed_images_only(tmp_path: Path, image_dir: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dockerfile").write_text("FROM x\n")
    (other / "requirements.txt").write_text("jupyterhub==5.5.4\n")
    (other / "requirements.lock").write_text(LOCK)
    (other / "smoke.py").write_text("print('ok')\n")
    images = [
        {"name": "demo", "version": "1.0.0", "description": ""},
        {"name": "other", "version": "2.0.0", "description": ""},
    ]
    key_demo = si.content_key(image_dir, BASE, BASE_ID)

    plan = si.build_plan(images, str(tmp_path), BASE, BASE_ID, [])
    assert [p["build"] for p in plan] == [True, True]
    assert [p["ref"] for p in plan] == ["skyhub/demo:1.0.0", "skyhub/other:2.0.0"]
    assert plan[0]["smoke_script"] == "" and plan[1]["smoke_script"].endswith("other/smoke.py")
    assert plan[0]["hub_version"] == "5.5.4"

    existing = [
        _existing("skyhub/demo:1.0.0", key_demo),
        _existing("skyhub/other:2.0.0", "stale"),
        _existing("skyhub/demo:0.9.0", "whatever"),
    ]
    plan = si.build_plan(images, str(tmp_path), BASE, BASE_ID, existing)
    assert [p["build"] for p in plan] == [False, True]
    assert plan[1]["current_key"] == "stale"


def test_plan_tolerates_images_without_labels(tmp_path: Path, image_dir: Path) -> None:
    existing = [{"RepoTags": ["skyhub/demo:1.0.0"], "Config": {"Labels": None}}]
    plan = si.build_plan([{"name": "demo", "version": "1.0.0"}], str(tmp_path), BASE, BASE_ID, existing)
    assert plan[0]["build"] is True and plan[0]["current_key"] == ""


def test_the_filters_are_exported_to_ansible() -> None:
    filters = si.FilterModule().filters()
    assert set(filters) == {"science_images_content_key", "science_images_build_plan"}
