"""skyhub-tljh-apply FILE: write the settings the tljh role owns into TLJH's config.yaml.

FILE is JSON: the config.yaml keys the role sets (from its variables). The rule (docs/decisions.md):

* A key the role sets is the role's: a converge writes its value back, so a value changed by hand with
  `tljh-config set` for such a key lasts until the next converge (change the inventory instead).
  Tables of names (`auth`, `skyhub.images`, `skyhub.limits.groups`, `skyhub.limits.users`) are owned
  whole: an entry the role does not list is removed.
* Every other key is the admin's: a converge keeps it (e.g. `tljh-config set services.cull.users true`).

The result is validated with TLJH's own schema (the one `tljh-config` uses) and skyhub's settings checks
before it replaces config.yaml (atomically, mode 0600: it holds OAuth secrets). Prints JSON
{"changed": bool, "keys": [dotted keys that changed], "proxy": bool (a key traefik reads changed)}.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from .settings import SettingsError, skyhub_settings

OWNED_TABLES = {
    ("auth",),
    ("skyhub", "images"),
    ("skyhub", "limits", "groups"),
    ("skyhub", "limits", "users"),
}
PROXY_KEYS = {"https", "http", "traefik_api", "base_url"}


def merge_owned(current: Any, desired: Mapping[str, Any], path: tuple[str, ...] = ()) -> Any:
    """Write `desired` into `current` (a loaded config.yaml, modified in place) by the ownership rule."""
    for key, value in desired.items():
        here = (*path, key)
        if isinstance(value, Mapping) and isinstance(current.get(key), Mapping) and here not in OWNED_TABLES:
            merge_owned(current[key], value, here)
        else:
            current[key] = copy.deepcopy(value)
    return current


def changed_keys(before: Any, after: Any, path: str = "") -> list[str]:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            out += changed_keys(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if before == after else [path]


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data))


def validate(config: Mapping[str, Any]) -> None:
    """TLJH's schema (as `tljh-config set` checks it) and skyhub's checks; raises SettingsError."""
    import jsonschema
    from tljh.config_schema import config_schema

    try:
        jsonschema.validate(instance=_plain(config), schema=config_schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise SettingsError(f"TLJH's config schema rejects {where}: {exc.message}") from None
    skyhub_settings(_plain(config))


def apply(config_file: str, desired: Mapping[str, Any]) -> dict[str, Any]:
    from tljh.config import config_file_lock
    from tljh.yaml import yaml

    os.makedirs(os.path.dirname(config_file), mode=0o700, exist_ok=True)
    with config_file_lock(config_file, timeout=30):
        current: Any = {}
        if os.path.exists(config_file):
            with open(config_file) as fh:
                current = yaml.load(fh) or {}
        before = _plain(current)
        merge_owned(current, desired)
        keys = changed_keys(before, _plain(current))
        validate(current)
        if keys or not os.path.exists(config_file):
            buf = io.StringIO()
            yaml.dump(current, buf)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(config_file), prefix=".config.yaml.")
            try:
                with os.fdopen(fd, "w") as fh:
                    os.fchmod(fh.fileno(), 0o600)
                    fh.write(buf.getvalue())
                os.replace(tmp, config_file)
            except BaseException:
                os.unlink(tmp)
                raise
        else:
            os.chmod(config_file, 0o600)
    return {"changed": bool(keys), "keys": keys, "proxy": any(k.split(".")[0] in PROXY_KEYS for k in keys)}


def main(argv: list[str] | None = None) -> int:
    from tljh.config import CONFIG_FILE

    ap = argparse.ArgumentParser(prog="skyhub-tljh-apply", description=__doc__.splitlines()[0])
    ap.add_argument("settings", help="JSON file with the config.yaml keys the role owns")
    ap.add_argument("--config", default=CONFIG_FILE, help=f"config.yaml to update (default {CONFIG_FILE})")
    args = ap.parse_args(argv)
    with open(args.settings) as fh:
        desired = json.load(fh)
    try:
        result = apply(args.config, desired)
    except SettingsError as exc:
        print(f"skyhub-tljh-apply: {args.config} not changed: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
