"""Seeding a real S3 server over HTTP and reading it through a real s3fs mount."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from skyhub.dataset import bench, fitsgen, seed

pytestmark = pytest.mark.integration
SKYHUB = str(Path(sys.executable).parent / "skyhub")


def test_seed_uploads_public_objects_and_is_idempotent(s3_endpoint, seeded):
    manifest = seed.load_manifest(seeded)
    assert {e["key"] for e in manifest["objects"]} == {o.key for o in fitsgen.demo_objects()}
    for entry in manifest["objects"]:
        # anonymous (unsigned) GET, like s3fs public_bucket=1 against the real public bucket
        with urllib.request.urlopen(f"{s3_endpoint}/stpubdata/{entry['key']}") as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == entry["sha256"]
    again = subprocess.run([SKYHUB, "seed", "--endpoint", s3_endpoint, "--manifest", str(seeded)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert "bucket stpubdata exists; uploaded 0 of 4 objects" in again.stdout


def test_seed_reports_an_unreachable_endpoint_clearly(tmp_path):
    cmd = [SKYHUB, "seed", "--endpoint", "http://127.0.0.1:9", "--manifest", str(tmp_path / "m")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2
    assert "skyhub: error: cannot seed http://127.0.0.1:9" in res.stderr
    assert "Traceback" not in res.stderr


def test_mounted_files_match_the_manifest_and_are_read_only(s3fs_mount, seeded):
    manifest = seed.load_manifest(seeded)
    assert seed.verify_tree(s3fs_mount, manifest, "hst/public/") == []
    res = subprocess.run([SKYHUB, "dataset-verify", str(s3fs_mount), "--manifest", str(seeded)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert not (s3fs_mount / "DATASET-UNAVAILABLE.txt").exists()  # covered by the mount
    with pytest.raises(OSError, match="Read-only"):
        (s3fs_mount / "x.txt").write_text("no")


def test_object_added_after_mount_is_visible(s3_endpoint, s3fs_mount):
    client = seed.s3_client(s3_endpoint)
    client.put_object(Bucket="stpubdata", Key="hst/public/late/late00002/late00002_raw.fits", Body=b"late",
                      ACL="public-read")  # fmt: skip
    path = s3fs_mount / "late" / "late00002" / "late00002_raw.fits"
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, "new object not visible through the mount after 30 s"
        time.sleep(1)
    assert path.read_bytes() == b"late"


def test_bench_helpers_measure_through_the_mount(s3_endpoint, s3fs_mount):
    """Small-scale run of the `make bench` code path (16 MiB, 50 objects) to prove it works end to end."""
    client = seed.s3_client(s3_endpoint)
    bench.prepare(client, "stpubdata", mib=16, n_list=50, prefix="hst/public/")
    result = bench.run(client, "stpubdata", s3fs_mount, prefix="hst/public/", mib=16)
    assert result["listed"] == 50
    assert result["mount_read_mib_s"] > 0 and result["direct_read_mib_s"] > 0
    assert result["mount_ratio"] == pytest.approx(
        result["mount_read_mib_s"] / result["direct_read_mib_s"], rel=0.05
    )
