"""Dataset read benchmark: a large object through the mount (cold cache) vs a direct S3 GET.

Figures (what `make bench` reports):
- ``mount_read_mib_s``: sequential read of a >= 256 MiB object through the FUSE mount, cold cache;
- ``direct_read_mib_s``: the same object with a direct S3 GET (boto3) from the same host and endpoint;
- ``mount_ratio``: mount / direct (goal >= 0.8);
- ``list_1000_s``: listing a prefix of 1,000 objects through the mount.

Run it where the mount is (the host). ``prepare`` uploads the objects (to the twin; never to a real bucket
you do not own).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

CHUNK = 8 * 1024 * 1024
BIG_KEY = "bench/big-{mib}MiB.bin"
LIST_PREFIX = "bench/list1000/"


def big_key(mib: int) -> str:
    return BIG_KEY.format(mib=mib)


def prepare(client: Any, bucket: str, mib: int = 256, n_list: int = 1000, prefix: str = "") -> None:
    """Upload the big object and ``n_list`` small ones under ``prefix`` (public-read like the real bucket)."""
    import io

    from boto3.s3.transfer import TransferConfig

    key = prefix + big_key(mib)
    try:
        present = client.head_object(Bucket=bucket, Key=key)["ContentLength"] == mib * 1024 * 1024
    except Exception:  # absent: upload it
        present = False
    if not present:
        body = io.BytesIO(os.urandom(mib * 1024 * 1024))
        one_part = TransferConfig(multipart_threshold=2**40)
        client.upload_fileobj(body, bucket, key, ExtraArgs={"ACL": "public-read"}, Config=one_part)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix + LIST_PREFIX).get("KeyCount", 0)
    for i in range(listed, n_list):
        client.put_object(
            Bucket=bucket, Key=f"{prefix}{LIST_PREFIX}obj-{i:04d}.txt", Body=b"x", ACL="public-read"
        )


def drop_caches() -> bool:
    """Drop the kernel page cache (needs root and a writable /proc/sys; not possible in every container)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def read_file_mib_s(path: Path) -> tuple[float, int]:
    """Sequential read of ``path``; returns (MiB/s, bytes read)."""
    total = 0
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            total += len(chunk)
    elapsed = time.perf_counter() - start
    return total / 2**20 / elapsed, total


def direct_get_mib_s(client: Any, bucket: str, key: str) -> tuple[float, int]:
    """A single GET of the whole object, streamed; returns (MiB/s, bytes read)."""
    total = 0
    start = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(CHUNK):
        total += len(chunk)
    elapsed = time.perf_counter() - start
    return total / 2**20 / elapsed, total


def list_seconds(directory: Path) -> tuple[float, int]:
    start = time.perf_counter()
    n = len(os.listdir(directory))
    return time.perf_counter() - start, n


def run(client: Any, bucket: str, mount: Path, prefix: str = "", mib: int = 256) -> dict[str, Any]:
    """Measure. ``mount`` shows ``bucket/prefix``; ``prepare`` put the bench objects under that prefix."""
    dropped = drop_caches()
    mount_rate, mount_bytes = read_file_mib_s(mount / big_key(mib))
    direct_rate, direct_bytes = direct_get_mib_s(client, bucket, prefix + big_key(mib))
    list_s, listed = list_seconds(mount / LIST_PREFIX)
    if mount_bytes != direct_bytes:
        raise RuntimeError(f"read {mount_bytes} bytes through the mount but {direct_bytes} directly")
    return {
        "object_mib": mib,
        "mount_read_mib_s": round(mount_rate, 1),
        "direct_read_mib_s": round(direct_rate, 1),
        "mount_ratio": round(mount_rate / direct_rate, 3),
        "list_1000_s": round(list_s, 3),
        "listed": listed,
        "page_cache_dropped": dropped,
    }
