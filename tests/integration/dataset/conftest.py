"""Fixtures for the dataset integration tests: a moto S3 server on 127.0.0.1, seeded; an s3fs mount."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from skyhub.netutil import free_port, wait_port

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real moto S3 server over HTTP on 127.0.0.1."""
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def seeded(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`skyhub seed` against the server; returns the manifest path."""
    out = tmp_path_factory.mktemp("seed")
    manifest = out / "stpubdata.manifest.json"
    subprocess.run(
        [str(VENV_BIN / "skyhub"), "seed", "--endpoint", s3_endpoint, "--manifest", str(manifest)],
        check=True,
        capture_output=True,
        text=True,
    )
    return manifest


@pytest.fixture(scope="session")
def dm_filters() -> ModuleType:
    path = ROOT / "roles" / "dataset_mount" / "filter_plugins" / "dataset_mount.py"
    spec = importlib.util.spec_from_file_location("dataset_mount_filters_it", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fuse_ready() -> str | None:
    if not shutil.which("s3fs"):
        return "s3fs is not installed on this machine (apt-get install s3fs fuse)"
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        return "needs /dev/fuse and root"
    return None


@pytest.fixture(scope="session")
def s3fs_mount(s3_endpoint: str, seeded: Path, dm_filters: ModuleType, tmp_path_factory) -> Iterator[Path]:
    """The dataset mounted with exactly the command line the role's unit runs (foreground s3fs)."""
    reason = _fuse_ready()
    if reason:
        pytest.fail(f"the dataset integration tests need a real FUSE mount: {reason}")
    root = tmp_path_factory.mktemp("data")
    ds = dm_filters.dataset_mount_normalize(
        [{"name": "hst", "bucket": "stpubdata", "prefix": "hst/public/", "endpoint_url": s3_endpoint}]
    )[0]
    settings = {
        "root": str(root), "uid": 1000, "gid": 1000, "umask": "0022", "parallel_count": 8,
        "multipart_size_mb": 32, "stat_cache_expire": 60, "connect_timeout": 5, "readwrite_timeout": 30,
        "retries": 2, "cache_root": str(root / "cache"), "ensure_diskfree_mb": 1024,
    }  # fmt: skip
    mnt = root / "hst"
    mnt.mkdir()
    (mnt / "DATASET-UNAVAILABLE.txt").write_text("unavailable\n")
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.Popen(dm_filters.dataset_mount_argv(ds, settings), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 20
    while subprocess.run(["findmnt", "-rn", "-M", str(mnt)], capture_output=True).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"s3fs did not mount: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.2)
    try:
        yield mnt
    finally:
        proc.terminate()
        proc.wait(20)
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
