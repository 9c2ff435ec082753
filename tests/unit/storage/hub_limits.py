"""A stand-in for the hub's skyhub-tljh-limits command in the quota tool's tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PLUGIN = Path(__file__).resolve().parents[3] / "plugin"


def limits_command(path: Path, config: dict[str, Any]) -> list[str]:
    """A stand-in for the hub's skyhub-tljh-limits: the plugin's own rules over `config` (a config.yaml
    as a dict) without TLJH installed. Writes `config` to `path`."""
    path.write_text(json.dumps(config))
    code = (
        f"import json, sys; sys.path.insert(0, {str(PLUGIN)!r}); from tljh_skyhub.limits import limits_for; "
        f"print(json.dumps(limits_for(json.load(open({str(path)!r})), json.load(sys.stdin)['users'])))"
    )
    return [sys.executable, "-c", code]
