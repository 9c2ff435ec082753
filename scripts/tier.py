"""Run one test tier and record how long it took (build/tiers.tsv); `--report` prints the table.

Usage: tier.py NAME -- COMMAND...   |   tier.py --report
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

LOG = Path("build/tiers.tsv")


def report() -> int:
    if not LOG.exists():
        print("no tiers recorded")
        return 0
    rows = [line.split("\t") for line in LOG.read_text().splitlines() if line]
    print("\ntier timings")
    print(f"  {'tier':<28} {'seconds':>8}  result")
    for name, secs, result in rows:
        print(f"  {name:<28} {float(secs):>8.1f}  {result}")
    total = sum(float(r[1]) for r in rows)
    print(f"  {'total':<28} {total:>8.1f}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--report"]:
        return report()
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    name, cmd = argv[0], argv[2:]
    print(f"==> tier {name}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    rc = subprocess.call(cmd)
    secs = time.monotonic() - start
    LOG.parent.mkdir(exist_ok=True)
    with LOG.open("a") as fh:
        fh.write(f"{name}\t{secs:.1f}\t{'ok' if rc == 0 else f'FAILED ({rc})'}\n")
    print(f"==> tier {name}: {'ok' if rc == 0 else 'FAILED'} in {secs:.1f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
