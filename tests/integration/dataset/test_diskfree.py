"""s3fs stages what it reads in temporary files; dataset_mount_ensure_diskfree_mb (s3fs ensure_diskfree) keeps
that filesystem from filling up when a user reads a file larger than its free space.

A 160 MiB object is read through a real s3fs mount (the role's own command line) whose temporary files go to a
64 MiB tmpfs, so a failure can never fill this machine's disk. With 40 MiB to keep free, the tmpfs keeps at
least that much free all through the read; the control (1 MiB) shows s3fs would otherwise stage more."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
SIZE_MB, TMPFS_MB = 160, 64


@pytest.fixture(scope="module")
def big_object(s3_endpoint: str) -> str:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1", verify=False)  # fmt: skip
    s3.create_bucket(Bucket="skyhub-big", ACL="public-read")
    body = os.urandom(1 << 20) * SIZE_MB
    s3.put_object(Bucket="skyhub-big", Key="big/f.bin", Body=body, ACL="public-read")
    return hashlib.sha256(body).hexdigest()


def read_through_s3fs(s3_endpoint, dm_filters, tmp_path: Path, ensure_diskfree_mb: int) -> tuple[str, int]:
    """Mount with the role's argv, read the object; its sha256 and the most the tmpfs ever held (MiB)."""
    staging, root = tmp_path / "staging", tmp_path / "data"
    staging.mkdir()
    (root / "big").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(staging)], check=True)
    entry = {"name": "big", "bucket": "skyhub-big", "prefix": "big/", "endpoint_url": s3_endpoint}
    ds = dm_filters.dataset_mount_normalize([{**entry, "options": [f"tmpdir={staging}"]}])[0]
    settings = {
        "root": str(root), "uid": 0, "gid": 0, "umask": "0022", "parallel_count": 2, "multipart_size_mb": 8,
        "stat_cache_expire": 60, "connect_timeout": 5, "readwrite_timeout": 30, "retries": 2,
        "cache_root": str(tmp_path / "cache"), "ensure_diskfree_mb": ensure_diskfree_mb,
    }  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.Popen(dm_filters.dataset_mount_argv(ds, settings), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    mnt = root / "big"
    peak, done = [0], threading.Event()

    def watch():
        while not done.is_set():
            st = os.statvfs(staging)
            peak[0] = max(peak[0], (st.f_blocks - st.f_bfree) * st.f_frsize >> 20)
            time.sleep(0.05)

    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["findmnt", "-rn", "-M", str(mnt)], capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"s3fs did not mount: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.2)
        watcher = threading.Thread(target=watch)
        watcher.start()
        digest = hashlib.sha256()
        try:
            with open(mnt / "f.bin", "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        finally:
            done.set()
            watcher.join()
        return digest.hexdigest(), peak[0]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        proc.terminate()
        proc.wait(20)
        subprocess.run(["umount", "-l", str(staging)], capture_output=True)


def test_reading_a_file_larger_than_the_disk_keeps_the_free_space(
    s3_endpoint, dm_filters, tmp_path, big_object
):
    digest, peak = read_through_s3fs(s3_endpoint, dm_filters, tmp_path, ensure_diskfree_mb=40)
    assert digest == big_object  # the whole file, correct, although it is larger than the staging disk
    assert peak <= TMPFS_MB - 40, f"s3fs staged {peak} MiB on a {TMPFS_MB} MiB disk that must keep 40 free"


def test_control_with_a_small_margin_s3fs_stages_more(s3_endpoint, dm_filters, tmp_path, big_object):
    digest, peak = read_through_s3fs(s3_endpoint, dm_filters, tmp_path, ensure_diskfree_mb=1)
    assert digest == big_object
    assert peak > TMPFS_MB - 40, f"only {peak} MiB staged: the bound above would not be the option's doing"
