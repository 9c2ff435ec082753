"""Seed an S3-compatible endpoint (the local twin) with the demo FITS files and write their manifest.

Idempotent: an object whose bytes are already stored (same MD5 ETag, single-part upload) is not uploaded
again. The manifest lists every key with its size and SHA-256 so tests can prove a file read through a
mount is byte-identical to what was stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skyhub.dataset.fitsgen import SeedObject
from skyhub.errors import SkyhubError

DEFAULT_BUCKET = "stpubdata"
MANIFEST_VERSION = 1
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_bucket_name(bucket: str) -> None:
    """Raise SkyhubError unless ``bucket`` is a valid S3 bucket name."""
    if not _BUCKET_RE.match(bucket) or re.match(r"^\d+\.\d+\.\d+\.\d+$", bucket):
        raise SkyhubError(
            f"{bucket!r} is not a valid S3 bucket name (3-63 of: lowercase letters, digits, '.', '-'; "
            "starting and ending with a letter or digit)"
        )


def s3_client(endpoint: str | None, region: str = "us-east-1") -> Any:
    """A boto3 S3 client. For a custom endpoint (the twin) dummy credentials are used and paths style."""
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"region_name": region}
    if endpoint:
        if not re.match(r"^https?://", endpoint):
            raise SkyhubError(f"--endpoint must be an http(s) URL, got {endpoint!r}")
        kwargs.update(
            endpoint_url=endpoint,
            aws_access_key_id="skyhub-twin",
            aws_secret_access_key="skyhub-twin",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )
    return boto3.client("s3", **kwargs)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensure_bucket(client: Any, bucket: str) -> bool:
    """Create ``bucket`` if it does not exist. Returns True when it was created."""
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client.create_bucket(Bucket=bucket)
    return True


def _stored_md5(client: Any, bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def ensure_objects(client: Any, bucket: str, objects: Iterable[SeedObject]) -> list[str]:
    """Upload the objects whose stored bytes differ. Returns the keys uploaded."""
    uploaded = []
    for obj in objects:
        if _stored_md5(client, bucket, obj.key) == hashlib.md5(obj.data).hexdigest():  # S3's ETag
            continue
        # public-read like the real public bucket, so anonymous clients (s3fs public_bucket=1) can read it.
        client.put_object(
            Bucket=bucket, Key=obj.key, Body=obj.data, ContentType="application/fits", ACL="public-read"
        )
        uploaded.append(obj.key)
    return uploaded


def build_manifest(bucket: str, objects: Iterable[SeedObject]) -> dict[str, Any]:
    entries = [
        {"key": o.key, "size": len(o.data), "sha256": sha256(o.data), "description": o.description}
        for o in sorted(objects, key=lambda o: o.key)
    ]
    return {"version": MANIFEST_VERSION, "bucket": bucket, "objects": entries}


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SkyhubError(f"cannot read manifest {path}: {exc}") from exc
    if manifest.get("version") != MANIFEST_VERSION or not isinstance(manifest.get("objects"), list):
        raise SkyhubError(f"{path} is not a skyhub dataset manifest (version {MANIFEST_VERSION})")
    return manifest


def write_tree(root: Path, bucket: str, objects: Iterable[SeedObject]) -> list[Path]:
    """Write the objects as files under ``root/<bucket>/<key>`` (the s3_twin role's seed source)."""
    written = []
    for obj in objects:
        path = root / bucket / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != obj.data:
            path.write_bytes(obj.data)
        written.append(path)
    return written


def verify_tree(root: Path, manifest: dict[str, Any], strip_prefix: str = "") -> list[str]:
    """Compare files under ``root`` (e.g. a mount) with the manifest. Returns human-readable problems.

    ``strip_prefix`` is removed from each key first (a mount of ``bucket:/hst/public/`` shows keys without
    that prefix).
    """
    problems = []
    for entry in manifest["objects"]:
        key = entry["key"]
        if strip_prefix:
            if not key.startswith(strip_prefix):
                continue
            key = key[len(strip_prefix) :]
        path = root / key
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
            continue
        if digest != entry["sha256"]:
            problems.append(f"{path}: sha256 {digest} != manifest {entry['sha256']}")
    return problems
