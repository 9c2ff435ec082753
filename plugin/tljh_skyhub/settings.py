"""skyhub's settings in TLJH's config.yaml: the `skyhub:` section, its defaults, checks, sizes and limits.

The one place that knows what a size like "2G" means, which limit a user gets (user override > the
largest of their groups' overrides > TLJH's `limits.memory` / `limits.cpu`), and what the section may hold.
The hub plugin, the quota report and the EKS hub (src/skyhub/eks/values.py mounts this file into the hub
pod) read sizes and limits through this module.

Standard library only: host tools running on the system python3 import it too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
LIMIT_KEYS = ("mem_limit", "cpu_limit")

# The `skyhub:` section with every key it may hold. The tljh role writes all of them; an admin may change
# any with `tljh-config set skyhub.<key> <value>` (then `tljh-config reload`).
DEFAULTS: dict[str, Any] = {
    # the spawn form: [{name, image, description, display_name?, version?}]; default_image is a name
    "images": [
        {
            "name": "astro",
            "image": "skyhub/astro:2026.11.0",
            "description": "Astronomy: JupyterLab, astropy, astroquery, numpy/scipy/matplotlib, s3fs",
        },
        {"name": "minimal", "image": "skyhub/minimal:2026.11.0", "description": "Minimal: JupyterLab only"},
    ],
    "default_image": "astro",
    # per-group / per-user overrides of TLJH's limits.memory / limits.cpu: {name: {mem_limit, cpu_limit}}
    "limits": {"groups": {}, "users": {}},
    "pids_limit": 1024,
    # the seccomp profile of user servers (the docker role writes it: Docker's default without the ioctl that
    # moves a file out of its XFS quota project); the hub does not start when it is set and missing.
    # "": Docker's default profile
    "seccomp_profile": "/etc/skyhub/seccomp-user-servers.json",
    # the image's filesystem is read-only in a user server; /tmp is a tmpfs of tmp_size (counted in memory)
    "read_only_root": True,
    "tmp_size": "512M",
    # servers running at once; 0 derives it at hub start: (host memory - host_reserved_memory) / limits.memory
    "active_server_limit": 0,
    "host_reserved_memory": "2G",
    "concurrent_spawn_limit": 20,
    "start_timeout": 120,
    "http_timeout": 120,
    # the user network (ICC off) and the hub's address on it (its gateway)
    "network": "skyhub",
    "hub_ip": "172.29.0.1",
    # homes on the host, bound at the container's home, created and filled from the skeleton before a spawn
    "homes": {
        "root": "/srv/skyhub/home",
        "skel": "/srv/skyhub/skel",
        "container_home": "/home/jovyan",
        "uid": 1000,
        "gid": 100,
    },
}


class SettingsError(ValueError):
    """A setting in config.yaml that cannot work; the message names the key and what it needs."""


def to_bytes(size: Any) -> int:
    """Docker's reading of a size: "2G" = 2 GiB, "512M", "1.5G", a plain number of bytes."""
    if isinstance(size, bool):
        raise SettingsError(f"{size!r} is not a size (use a number of bytes or e.g. 512M, 2G)")
    if isinstance(size, (int, float)):
        if size < 0:
            raise SettingsError(f"{size!r} is not a size (negative)")
        return int(size)
    m = _SIZE.match(str(size))
    if not m:
        raise SettingsError(f"{size!r} is not a size (use a number of bytes or e.g. 512M, 2G)")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def _cpu(value: Any, where: str) -> float:
    try:
        cores = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{where} must be a number of cores (got {value!r})") from None
    if isinstance(value, bool) or cores <= 0:
        raise SettingsError(f"{where} must be a number of cores above 0 (got {value!r})")
    return cores


def pick(
    default: Any, overrides: Mapping[str, Any], username: str, groups: Iterable[str], key: str, order: Any
) -> Any:
    """One setting's value for a user: the user's override, else the largest (by `order`) among the
    overrides of the groups they are in, else `default`. `overrides` is {"groups": {name: {key: value}},
    "users": {name: {key: value}}}; a None value is no override."""
    group_table = overrides.get("groups") or {}
    values = [group_table[g][key] for g in groups if (group_table.get(g) or {}).get(key) is not None]
    out = max(values, key=order) if values else default
    user = ((overrides.get("users") or {}).get(username) or {}).get(key)
    return out if user is None else user


def effective_limits(
    default: Mapping[str, Any], overrides: Mapping[str, Any], username: str, groups: Iterable[str]
) -> dict[str, Any]:
    """The limits one user's server gets (pick() per setting). `default` is {mem_limit, cpu_limit} (a
    value may be None: no limit); `overrides` is {"groups": {...}, "users": {...}}."""
    groups = list(groups)
    return {
        key: pick(default.get(key), overrides, username, groups, key, order)
        for key, order in (("mem_limit", to_bytes), ("cpu_limit", float))
    }


def tljh_default_limits(config: Mapping[str, Any]) -> dict[str, Any]:
    """TLJH's own limits section as {mem_limit, cpu_limit} (None where unset)."""
    limits = config.get("limits") or {}
    cpu = limits.get("cpu")
    return {"mem_limit": limits.get("memory"), "cpu_limit": None if cpu is None else float(cpu)}


def _merge(base: dict, override: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_limit_table(table: Any, where: str) -> None:
    if not isinstance(table, Mapping):
        raise SettingsError(f"{where} must be a mapping of names to {{mem_limit, cpu_limit}}")
    for name, entry in table.items():
        if not isinstance(entry, Mapping) or set(entry) - set(LIMIT_KEYS):
            raise SettingsError(
                f"{where}.{name} must hold only mem_limit and/or cpu_limit (got {dict(entry or {})!r})"
            )
        if entry.get("mem_limit") is not None:
            try:
                to_bytes(entry["mem_limit"])
            except SettingsError as exc:
                raise SettingsError(f"{where}.{name}.mem_limit: {exc}") from None
        if entry.get("cpu_limit") is not None:
            _cpu(entry["cpu_limit"], f"{where}.{name}.cpu_limit")


def skyhub_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `skyhub:` section of a loaded config.yaml, over DEFAULTS, checked; raises SettingsError."""
    section = config.get("skyhub") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("skyhub in config.yaml must be a mapping")
    unknown = set(section) - set(DEFAULTS)
    if unknown:
        raise SettingsError(
            f"unknown key(s) skyhub.{', skyhub.'.join(sorted(unknown))} in config.yaml "
            f"(known: {', '.join(sorted(DEFAULTS))})"
        )
    s = _merge(DEFAULTS, section)
    images = s["images"]
    if not isinstance(images, list) or not images:
        raise SettingsError("skyhub.images must be a non-empty list of {name, image, description}")
    for i, img in enumerate(images):
        if not isinstance(img, Mapping) or not img.get("name") or not img.get("image"):
            raise SettingsError(f"skyhub.images[{i}] needs a name and an image (got {img!r})")
        if ":" not in str(img["image"]).rsplit("/", 1)[-1]:
            raise SettingsError(f"skyhub.images[{i}].image needs an explicit tag (got {img['image']!r})")
    names = [img["name"] for img in images]
    if len(set(names)) != len(names):
        raise SettingsError(f"skyhub.images has repeated names: {names}")
    if s["default_image"] not in names:
        raise SettingsError(f"skyhub.default_image is {s['default_image']!r}, not one of {names}")
    limits = s["limits"]
    if not isinstance(limits, Mapping) or set(limits) - {"groups", "users"}:
        raise SettingsError("skyhub.limits may hold only groups and users")
    _check_limit_table(limits["groups"], "skyhub.limits.groups")
    _check_limit_table(limits["users"], "skyhub.limits.users")
    if not isinstance(s["read_only_root"], bool):
        raise SettingsError(f"skyhub.read_only_root must be true or false (got {s['read_only_root']!r})")
    for key in ("tmp_size", "host_reserved_memory"):
        try:
            if to_bytes(s[key]) <= 0:
                raise SettingsError("must be above 0")
        except SettingsError as exc:
            raise SettingsError(f"skyhub.{key}: {exc}") from None
    for key in (
        "pids_limit",
        "concurrent_spawn_limit",
        "start_timeout",
        "http_timeout",
        "active_server_limit",
    ):
        if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 0:
            raise SettingsError(f"skyhub.{key} must be a whole number >= 0 (got {s[key]!r})")
    profile = s["seccomp_profile"]
    if not isinstance(profile, str) or (profile and not profile.startswith("/")):
        raise SettingsError(
            f"skyhub.seccomp_profile must be an absolute path or empty (Docker's default) (got {profile!r})"
        )
    homes = s["homes"]
    if set(homes) - set(DEFAULTS["homes"]):
        raise SettingsError(f"skyhub.homes may hold only {', '.join(DEFAULTS['homes'])}")
    for key in ("root", "skel", "container_home"):
        if not str(homes[key]).startswith("/"):
            raise SettingsError(f"skyhub.homes.{key} must be an absolute path (got {homes[key]!r})")
    for key in ("uid", "gid"):
        if isinstance(homes[key], bool) or not isinstance(homes[key], int) or homes[key] <= 0:
            raise SettingsError(f"skyhub.homes.{key} must be a number above 0 (got {homes[key]!r})")
    return s


def host_memory_bytes(meminfo: str = "/proc/meminfo") -> int:
    with open(meminfo) as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise SettingsError(f"no MemTotal in {meminfo}")


def active_server_limit(
    settings: Mapping[str, Any], default_mem_limit: Any, meminfo: str = "/proc/meminfo"
) -> int:
    """skyhub.active_server_limit, or (0) what the host's memory holds: (MemTotal - host_reserved_memory)
    divided by the default memory limit, at least 1. 0 (no limit) when there is no default memory limit."""
    if settings["active_server_limit"]:
        return int(settings["active_server_limit"])
    if default_mem_limit is None:
        return 0
    free = host_memory_bytes(meminfo) - to_bytes(settings["host_reserved_memory"])
    return max(1, free // to_bytes(default_mem_limit))


def image_choices(settings: Mapping[str, Any]) -> dict[str, str]:
    """{name: image ref}, in the settings' order (DockerSpawner's allowed_images)."""
    return {img["name"]: img["image"] for img in settings["images"]}
