"""Filters of the science_images role: the content key of an image and the build plan.

The content key is a SHA-256 over everything that goes into a build: the files of the image's directory
(Dockerfile, requirements.txt, requirements.lock, ...; not smoke.py, which only checks a built image, nor
the builder's build-ca.pem and wheels/ cache), the base image reference and the base image's ID. The lock
pins every package with its hashes, so changing one pin changes the key. It is stored in the image as the
label ``org.skyhub.image.content-key``; the role rebuilds an image exactly when the key it computes differs
from the label of the tagged image.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

KEY_SCHEME = "skyhub-science-images-v1"
KEY_LABEL = "org.skyhub.image.content-key"
LOCK_LABEL = "org.skyhub.image.lock-sha256"
LOCK_FILE = "requirements.lock"
REPOSITORY_PREFIX = "skyhub/"
# Entries of an image directory that are not build inputs: the smoke check (it runs against the result),
# and what the builder adds to the context (the host's CA bundle; wheels/, a cache of the lock's files whose
# hashes the lock already fixes).
NOT_IN_KEY = frozenset({"smoke.py", "build-ca.pem", "wheels"})
SMOKE_FILE = "smoke.py"
_HUB_PIN = re.compile(r"^jupyterhub==([^\s;#]+)", re.MULTILINE)


def context_files(image_dir: str | Path) -> list[str]:
    """The files of an image directory that make up its build context, as sorted relative paths."""
    root = Path(image_dir)
    if not (root / "Dockerfile").is_file():
        raise ValueError(f"{root} has no Dockerfile")
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in NOT_IN_KEY
        and p.name not in NOT_IN_KEY
        and "__pycache__" not in p.parts
    )


def content_key(image_dir: str | Path, base_ref: str, base_id: str) -> str:
    """Same files, base reference and base ID: same key; a change to any of them: a new key."""
    root = Path(image_dir)
    digest = hashlib.sha256()
    for part in (KEY_SCHEME, base_ref, base_id):
        digest.update(part.encode() + b"\0")
    for rel in context_files(root):
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return digest.hexdigest()


def hub_version(image_dir: str | Path) -> str:
    """The jupyterhub version pinned in the image's requirements.txt (what jupyterhub-singleuser reports)."""
    path = Path(image_dir) / "requirements.txt"
    match = _HUB_PIN.search(path.read_text(encoding="utf-8")) if path.is_file() else None
    if match is None:
        raise ValueError(f"{path} must pin jupyterhub exactly (jupyterhub==X.Y.Z)")
    return match.group(1)


def lock_sha256(image_dir: str | Path) -> str:
    """The SHA-256 of the image's requirements.lock (a label of the image, and in /opt/skyhub/VERSION)."""
    path = Path(image_dir) / LOCK_FILE
    if not path.is_file():
        raise ValueError(f"{path} is missing: run `make lock` (docs/images.md)")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _labels_by_ref(existing: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Map every tag of the images docker_image_info returned to that image's labels."""
    labels: dict[str, dict[str, str]] = {}
    for image in existing or []:
        image_labels = (image.get("Config") or {}).get("Labels") or {}
        for tag in image.get("RepoTags") or []:
            labels[tag] = image_labels
    return labels


def build_plan(
    images: list[dict[str, Any]],
    source_dir: str,
    base_ref: str,
    base_id: str,
    existing: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per image: its tag, content key, whether it must be (re)built, and what to smoke-test."""
    labels = _labels_by_ref(existing or [])
    plan = []
    for image in images:
        image_dir = Path(source_dir) / image["name"]
        ref = f"{REPOSITORY_PREFIX}{image['name']}:{image['version']}"
        key = content_key(image_dir, base_ref, base_id)
        current = labels.get(ref, {}).get(KEY_LABEL, "")
        plan.append(
            {
                "name": image["name"],
                "version": image["version"],
                "repository": f"{REPOSITORY_PREFIX}{image['name']}",
                "ref": ref,
                "key": key,
                "current_key": current,
                "build": current != key,
                "hub_version": hub_version(image_dir),
                "lock_sha256": lock_sha256(image_dir),
                "smoke_script": str(image_dir / SMOKE_FILE) if (image_dir / SMOKE_FILE).is_file() else "",
            }
        )
    return plan


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "science_images_content_key": content_key,
            "science_images_build_plan": build_plan,
        }
