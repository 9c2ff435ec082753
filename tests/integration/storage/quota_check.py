"""A check usable from testinfra (the appliance scenario) and from these tests: run `skyhub-quota report
--json` on a host and verify it is honest: either enforcement is on, or it says why not and how to fix,
and each user's usage matches what `du` measures."""

from __future__ import annotations

import json
from typing import Any


def check_quota_report(
    host: Any, command: str = "skyhub-quota report --json", tolerance: int = 64 * 1024
) -> dict:
    """`host` is a testinfra Host. Returns the parsed report; raises AssertionError when it is dishonest."""
    result = host.run(command)
    assert result.rc == 0, f"{command} failed: {result.stderr}"
    report = json.loads(result.stdout)
    enf = report["enforcement"]
    if not report["enforced"]:
        assert enf["what"] and enf["why"] and enf["fix"], f"not enforced but no explanation: {enf}"
    for row in report["users"]:
        du = host.run(f"du -s -x -B1 {row['home']}")
        assert du.rc == 0, du.stderr
        measured = int(du.stdout.split()[0])
        assert abs(measured - row["used"]) <= tolerance, (
            f"{row['user']}: report {row['used']} vs du {measured}"
        )
        assert row["quota"] > 0 and row["percent"] == round(100.0 * row["used"] / row["quota"], 1)
    return report
