"""Filters for the dataset_mount role: input validation and the mount client's command line.

The rules live here (not in Jinja) so they are unit-tested directly (tests/unit/dataset) and the
preflight (tasks/preflight.yml) reports exactly what the tests check.
"""

from __future__ import annotations

import re
from typing import Any

CLIENTS = ("s3fs", "mountpoint")
REQUIRED = ("name", "bucket")
KNOWN_KEYS = {
    "name",
    "bucket",
    "prefix",
    "region",
    "endpoint_url",
    "anonymous",
    "client",
    "cache_size_mb",
    "description",
    "options",
}
DEFAULTS: dict[str, Any] = {
    "prefix": "",
    "region": "us-east-1",
    "endpoint_url": "",
    "anonymous": True,
    "client": "s3fs",
    "cache_size_mb": 0,
    "description": "",
    "options": [],
}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_OPTION_RE = re.compile(r"^[A-Za-z0-9_]+(=[^,\s]+)?$")


def _bucket_problem(bucket: Any) -> str | None:
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket):
        return "is not a valid S3 bucket name (3-63 of a-z 0-9 . -, starting/ending with a letter or digit)"
    if ".." in bucket or re.match(r"^\d+\.\d+\.\d+\.\d+$", bucket) or bucket.startswith("xn--"):
        return "is not a valid S3 bucket name (no '..', not an IP address, no 'xn--' prefix)"
    return None


def _prefix_problem(prefix: Any) -> str | None:
    if not isinstance(prefix, str):
        return "must be a string"
    if prefix and (not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix):
        return 'must be empty or a key prefix ending in "/" without a leading "/" (e.g. "hst/public/")'
    return None


def _entry_problems(i: int, ds: Any) -> list[str]:
    where = f"dataset_mount_datasets[{i}]"
    if not isinstance(ds, dict):
        return [f"{where} must be a mapping with at least name and bucket, got {type(ds).__name__}"]
    label = f"{where} ({ds.get('name', '?')})"
    problems = [f"{label}: '{key}' is required" for key in REQUIRED if not ds.get(key)]
    unknown = sorted(set(ds) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        problems.append(f"{label}: unknown key(s) {', '.join(unknown)}; known: {known}")
    merged = {**DEFAULTS, **ds}
    checks: list[tuple[str, str | None]] = [
        (
            "name",
            None
            if _NAME_RE.match(str(merged.get("name", "")))
            else "must be 1-32 of a-z 0-9 _ - (it becomes a directory and a systemd instance name)",
        ),
        ("bucket", _bucket_problem(merged.get("bucket")) if merged.get("bucket") else None),
        ("prefix", _prefix_problem(merged["prefix"])),
        ("region", None if _REGION_RE.match(str(merged["region"])) else "must be a region like us-east-1"),
        ("client", None if merged["client"] in CLIENTS else f"must be one of {', '.join(CLIENTS)}"),
        (
            "endpoint_url",
            None
            if merged["endpoint_url"] == "" or re.match(r"^https?://[^\s/]+", str(merged["endpoint_url"]))
            else "must be empty (AWS) or an http(s):// URL",
        ),
        ("anonymous", None if isinstance(merged["anonymous"], bool) else "must be true or false"),
        (
            "cache_size_mb",
            None
            if isinstance(merged["cache_size_mb"], int)
            and not isinstance(merged["cache_size_mb"], bool)
            and merged["cache_size_mb"] >= 0
            else "must be an integer >= 0",
        ),
        (
            "options",
            None
            if isinstance(merged["options"], list)
            and all(isinstance(o, str) and _OPTION_RE.match(o) for o in merged["options"])
            else 'must be a list of client options like "max_stat_cache_size=100000"',
        ),
    ]
    problems += [f"{label}: {key} {msg} (got {merged.get(key)!r})" for key, msg in checks if msg]
    return problems


def dataset_mount_problems(datasets: Any) -> list[str]:
    """Every problem in ``dataset_mount_datasets``, as messages naming the variable and the fix."""
    if not isinstance(datasets, list):
        return ["dataset_mount_datasets must be a list of datasets ({name, bucket, prefix, ...})"]
    problems: list[str] = []
    for i, ds in enumerate(datasets):
        problems += _entry_problems(i, ds)
    names = [ds.get("name") for ds in datasets if isinstance(ds, dict)]
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        problems.append(f"dataset_mount_datasets: duplicate name(s) {', '.join(dupes)}; names must be unique")
    return problems


def dataset_mount_normalize(datasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The datasets with every optional key filled in from DEFAULTS."""
    return [{**DEFAULTS, **ds} for ds in datasets]


def _endpoint(ds: dict[str, Any]) -> str:
    return ds["endpoint_url"].rstrip("/") or f"https://s3.{ds['region']}.amazonaws.com"


def s3fs_options(ds: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """s3fs ``-o`` options for a normalised dataset. ``settings`` holds the role-wide knobs."""
    opts = [
        "ro",
        "allow_other",
        "nonempty",  # the mountpoint holds DATASET-UNAVAILABLE.txt; the mount covers it while up
        f"uid={settings['uid']}",
        f"gid={settings['gid']}",
        f"umask={settings['umask']}",
        f"mp_umask={settings['umask']}",
        f"url={_endpoint(ds)}",
        f"endpoint={ds['region']}",
        f"parallel_count={settings['parallel_count']}",
        f"multipart_size={settings['multipart_size_mb']}",
        f"stat_cache_expire={settings['stat_cache_expire']}",
        f"connect_timeout={settings['connect_timeout']}",
        f"readwrite_timeout={settings['readwrite_timeout']}",
        f"retries={settings['retries']}",
        # staged reads (temp files or the disk cache) never take the filesystem below this many MiB free
        f"ensure_diskfree={settings['ensure_diskfree_mb']}",
        "public_bucket=1" if ds["anonymous"] else "iam_role=auto",
    ]
    if ds["endpoint_url"]:
        opts.append("use_path_request_style")
    if ds["cache_size_mb"] > 0:
        opts.append(f"use_cache={settings['cache_root']}/{ds['name']}")
        opts.append("del_cache")
    return opts + list(ds["options"])


def dataset_mount_argv(ds: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """The foreground command that mounts one (normalised) dataset at ``<root>/<name>``."""
    mountpoint = f"{settings['root']}/{ds['name']}"
    prefix = ds["prefix"].rstrip("/")
    if ds["client"] == "mountpoint":
        argv = [
            "mount-s3",
            ds["bucket"],
            mountpoint,
            "--foreground",
            "--read-only",
            "--allow-other",
            f"--uid={settings['uid']}",
            f"--gid={settings['gid']}",
            f"--region={ds['region']}",
        ]
        if ds["prefix"]:
            argv.append(f"--prefix={ds['prefix']}")
        if ds["anonymous"]:
            argv.append("--no-sign-request")
        if ds["endpoint_url"]:
            argv += [f"--endpoint-url={ds['endpoint_url']}", "--force-path-style"]
        if ds["cache_size_mb"] > 0:
            cache = f"{settings['cache_root']}/{ds['name']}"
            argv += [f"--cache={cache}", f"--max-cache-size={ds['cache_size_mb']}"]
        return argv + [f"--{o}" for o in ds["options"]]
    source = f"{ds['bucket']}:/{prefix}" if prefix else ds["bucket"]
    return ["s3fs", source, mountpoint, "-f", "-o", ",".join(s3fs_options(ds, settings))]


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "dataset_mount_problems": dataset_mount_problems,
            "dataset_mount_normalize": dataset_mount_normalize,
            "dataset_mount_argv": dataset_mount_argv,
        }
