"""`make bench`: playbooks/site.yml on a fresh Molecule appliance host, then again (what idempotence costs).

Writes build/converge.json: converge_first_s, converge_second_s and second_changed (the sum of changed=
in the second run's PLAY RECAP). Leaves the converged host up for scripts/bench.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOLECULE = str(ROOT / ".venv" / "bin" / "molecule")


def converge() -> tuple[float, str]:
    t0 = time.monotonic()
    res = subprocess.run(
        [MOLECULE, "converge", "-s", "appliance"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    took = time.monotonic() - t0
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-6000:] + res.stderr[-3000:])
        raise SystemExit(f"bench_converge: molecule converge failed (exit {res.returncode})")
    return took, res.stdout


def changed(output: str) -> int:
    recap = output.rsplit("PLAY RECAP", 1)[-1]
    return sum(int(n) for n in re.findall(r"changed=(\d+)", recap))


def main() -> int:
    subprocess.run([MOLECULE, "destroy", "-s", "appliance"], cwd=ROOT, check=True, capture_output=True)
    first, _ = converge()
    second, out = converge()
    result = {
        "converge_first_s": round(first, 1),
        "converge_second_s": round(second, 1),
        "second_changed": changed(out),
    }
    path = ROOT / "build" / "converge.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
