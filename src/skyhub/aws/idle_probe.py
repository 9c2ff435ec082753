"""Check the idle-shutdown service on a host from a testinfra test (the full-appliance scenario).

    from skyhub.aws.idle_probe import run_idle_check
    result = run_idle_check(host, idle_hours=0.0001)   # no server running -> result["powered_off"] is True

Runs the installed checker once with a harmless power-off command (touching a marker file), so the host
stays up whatever the decision.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

CHECKER = "/usr/local/sbin/skyhub-idle-shutdown"
MARKER = "/run/skyhub-idle-shutdown.probe"


def run_idle_check(host: Any, idle_hours: float, marker: str = MARKER) -> dict[str, Any]:
    """{poweroff, acted, reason, powered_off}: the checker's decision and whether its command ran."""
    host.run(f"rm -f {shlex.quote(marker)}")
    command = shlex.quote(f"touch {marker}")
    out = host.check_output(f"{CHECKER} --json --idle-hours {float(idle_hours)} --poweroff-command {command}")
    result = json.loads(out.strip().splitlines()[-1])
    result["powered_off"] = host.file(marker).exists
    host.run(f"rm -f {shlex.quote(marker)}")
    return result
