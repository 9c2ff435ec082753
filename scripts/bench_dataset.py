"""Dataset read benchmark on this machine: a moto server on loopback, an s3fs mount with the dataset_mount
role's default options, `skyhub dataset-bench`, merged into build/bench.json.

Also measures the mount's own request pattern done directly (8 parallel ranged GETs of 32 MiB): against
moto each ranged GET costs about as much as reading the whole object, which is where the mount's time
goes here (real S3 serves ranges at full speed and caps each connection, so parallel ranges are what make
s3fs fast on AWS).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skyhub.netutil import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
OUT = ROOT / "build" / "bench.json"
# the dataset_mount role's defaults (roles/dataset_mount/defaults/main.yml)
S3FS_OPTIONS = (
    "ro,public_bucket=1,use_path_request_style,endpoint=us-east-1,parallel_count=8,multipart_size=32"
)


def ranged_parallel_mib_s(endpoint: str, bucket: str, key: str, parts: int = 8) -> float:
    from skyhub.dataset import seed

    client = seed.s3_client(endpoint)
    size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    step = size // parts

    def get(i: int) -> int:
        end = size - 1 if i == parts - 1 else (i + 1) * step - 1
        return len(client.get_object(Bucket=bucket, Key=key, Range=f"bytes={i * step}-{end}")["Body"].read())

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(parts) as pool:
        total = sum(pool.map(get, range(parts)))
    return round(total / 2**20 / (time.perf_counter() - start), 1)


def main() -> int:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mnt = Path(tempfile.mkdtemp(prefix="skyhub-bench-mnt-"))
    try:
        wait_port(port, timeout=10, what="moto_server")
        from skyhub.dataset import bench, seed

        client = seed.s3_client(endpoint)
        client.create_bucket(Bucket="stpubdata")
        # upload the bench objects first, then mount (so the listing is not cached empty)
        bench.prepare(client, "stpubdata", 256)
        subprocess.run(["s3fs", "stpubdata", str(mnt), "-o", f"{S3FS_OPTIONS},url={endpoint}"], check=True)
        time.sleep(1)
        res = subprocess.run(
            [str(BIN / "skyhub"), "dataset-bench", "--endpoint", endpoint, "--mount", str(mnt)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(res.stdout)
        result["direct_ranged8_mib_s"] = ranged_parallel_mib_s(endpoint, "stpubdata", "bench/big-256MiB.bin")
    finally:
        subprocess.run(["fusermount", "-u", str(mnt)], check=False)
        moto.terminate()
        moto.wait()
        mnt.rmdir()
    OUT.parent.mkdir(exist_ok=True)
    merged = json.loads(OUT.read_text()) if OUT.exists() else {}
    merged.update({k: v for k, v in result.items() if k != "listed"})
    OUT.write_text(json.dumps(merged, indent=2) + "\n")
    for key in (
        "mount_read_mib_s",
        "direct_read_mib_s",
        "mount_ratio",
        "direct_ranged8_mib_s",
        "list_1000_s",
    ):
        goal = {"mount_ratio": ">= 0.8"}.get(key, "")
        print(f"{key:<22} {result[key]!s:>10}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
