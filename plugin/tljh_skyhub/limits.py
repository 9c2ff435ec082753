"""skyhub-tljh-limits: the memory/CPU limits the hub gives each user, from config.yaml as it is now.

For host tools (the quota report) that must show what the spawner applies without a second copy of the
rules: reads {"users": {name: [groups...]}} as JSON on stdin, prints {name: {mem_limit, cpu_limit}}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .settings import SettingsError, effective_limits, skyhub_settings, tljh_default_limits


def limits_for(config: dict[str, Any], users: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    overrides = skyhub_settings(config)["limits"]
    default = tljh_default_limits(config)
    return {user: effective_limits(default, overrides, user, groups) for user, groups in users.items()}


def main(argv: list[str] | None = None) -> int:
    from tljh.configurer import load_config

    try:
        request = json.load(sys.stdin)
        print(json.dumps(limits_for(load_config(), dict(request.get("users") or {}))))
    except (ValueError, SettingsError) as exc:
        print(f"skyhub-tljh-limits: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
