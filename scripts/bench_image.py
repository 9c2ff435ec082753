"""`make bench`, image part: boot_to_ready, demo cold/warm, first/second converge (build/bench.json).

* boot_to_ready_cold_s: a new instance of the built image (empty volumes: first boot makes its secrets and
  Docker loads the science images) until the hub's API answers through the proxy;
* boot_to_ready_s: the same instance stopped and started again (what an EC2 stop/start is);
* demo_warm_s: `skyhub demo down` then `skyhub demo up` with everything cached (image, archives);
* demo_cold_s: the last `skyhub demo up` that had to build the image, as recorded in build/demo-up.json by
  that run (the bench does not throw away the caches to measure it again; see docs/benchmarks.md);
* converge_first_s / converge_second_s / second_changed: playbooks/site.yml on a fresh Molecule appliance
  host, then again (the idempotence run), read from build/converge.json that `make bench` writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from skyhub import demo  # noqa: E402

OUT = ROOT / "build" / "bench.json"


def main() -> int:
    results: dict[str, float | int | str | None] = {}
    record = demo.build_image()
    inst = demo.Instance(f"skyhub-bench-{uuid.uuid4().hex[:6]}", record["image"], label="bench")
    try:
        t0 = time.monotonic()
        inst.create()
        inst.wait_ready()
        results["boot_to_ready_cold_s"] = round(time.monotonic() - t0, 1)
        inst.stop()
        results["boot_to_ready_s"] = round(inst.start(), 1)
    finally:
        inst.remove()

    subprocess.run([sys.executable, "-m", "skyhub.cli", "demo", "down"], check=True, cwd=ROOT)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "skyhub.cli", "demo", "up"], check=True, cwd=ROOT)
    results["demo_warm_s"] = round(time.monotonic() - t0, 1)
    cold = ROOT / "build" / "demo-cold.json"
    results["demo_cold_s"] = json.loads(cold.read_text())["total_s"] if cold.is_file() else None

    converge = ROOT / "build" / "converge.json"
    if converge.is_file():
        results.update(json.loads(converge.read_text()))
    if results.get("converge_first_s") and results.get("converge_second_s") is not None:
        ratio = results["converge_second_s"] / results["converge_first_s"]
        results["converge_second_ratio"] = round(ratio, 2)

    existing = json.loads(OUT.read_text()) if OUT.is_file() else {}
    existing.update(results)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(existing, indent=2) + "\n")
    goals = {
        "boot_to_ready_s": "<= 30",
        "demo_cold_s": "<= 900",
        "demo_warm_s": "<= 120",
        "second_changed": "= 0",
        "converge_second_ratio": "<= 0.25",
    }
    for key, value in results.items():
        print(f"{key:24} {value!s:>10}  {goals.get(key, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
