"""The instance role's IAM policy, rendered from the same variables the dataset and backup roles read.

Least privilege: read-only (s3:ListBucket + s3:GetObject) on each dataset bucket/prefix served by AWS, and
read/write (List/Get/Put/DeleteObject, GetBucketLocation) on the backup bucket/prefix; nothing else.
Datasets or backups on another S3 endpoint (MinIO, a local twin) need no IAM grant and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from skyhub.errors import SkyhubError

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
READ_ACTIONS = ("s3:GetObject",)
WRITE_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")


def _check_bucket(bucket: str, variable: str) -> None:
    if not BUCKET_RE.match(bucket or "") or ".." in bucket:
        raise SkyhubError(f"{variable}: {bucket!r} is not a valid S3 bucket name (3-63 of a-z 0-9 . -)")


def _check_prefix(prefix: str, variable: str) -> None:
    if prefix and (not prefix.endswith("/") or prefix.startswith("/")):
        raise SkyhubError(f"{variable}: prefix {prefix!r} must be empty or like 'path/' (no leading '/')")


def aws_datasets(datasets: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(bucket, prefix) of the datasets served by AWS S3 (endpoint_url empty), validated, de-duplicated."""
    out: list[tuple[str, str]] = []
    for i, ds in enumerate(datasets):
        if ds.get("endpoint_url"):
            continue
        bucket, prefix = str(ds.get("bucket", "")), str(ds.get("prefix", "") or "")
        _check_bucket(bucket, f"dataset_mount_datasets[{i}].bucket")
        _check_prefix(prefix, f"dataset_mount_datasets[{i}].prefix")
        if (bucket, prefix) not in out:
            out.append((bucket, prefix))
    return out


def check_backup_bucket(datasets: Iterable[Mapping[str, Any]], backup_bucket: str) -> None:
    """A backup bucket that is also a dataset bucket would make the datasets writable: refuse it."""
    for i, ds in enumerate(datasets):
        if backup_bucket and str(ds.get("bucket", "")) == backup_bucket:
            raise SkyhubError(
                f"backups_s3_bucket: {backup_bucket!r} is also the bucket of dataset_mount_datasets[{i}] "
                f"({ds.get('name', '?')}); the instance would get write access to the dataset. "
                "Use a separate bucket for backups."
            )


def _list_statement(sid: str, bucket: str, prefixes: list[str], extra: tuple[str, ...] = ()) -> dict:
    stmt: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(("s3:ListBucket", *extra)),
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    if "" not in prefixes:
        stmt["Condition"] = {"StringLike": {"s3:prefix": sorted(p + "*" for p in prefixes)}}
    return stmt


def _object_statement(sid: str, bucket: str, prefixes: list[str], actions: tuple[str, ...]) -> dict:
    resources = (
        [f"arn:aws:s3:::{bucket}/*"] if "" in prefixes else [f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes]
    )
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": sorted(resources)}


def _sid(kind: str, bucket: str) -> str:
    return kind + "".join(part.capitalize() for part in re.split(r"[^a-z0-9]+", bucket))


def render_instance_policy(
    datasets: Iterable[Mapping[str, Any]],
    backups_enabled: bool = False,
    backup_bucket: str = "",
    backup_prefix: str = "",
    backup_endpoint: str = "",
) -> dict[str, Any]:
    """The instance role's policy document (deterministic: same input, same JSON)."""
    datasets = list(datasets)
    by_bucket: dict[str, list[str]] = {}
    for bucket, prefix in aws_datasets(datasets):
        by_bucket.setdefault(bucket, []).append(prefix)
    statements: list[dict[str, Any]] = []
    for bucket in sorted(by_bucket):
        statements.append(_list_statement(_sid("DatasetList", bucket), bucket, by_bucket[bucket]))
        statements.append(
            _object_statement(_sid("DatasetRead", bucket), bucket, by_bucket[bucket], READ_ACTIONS)
        )
    if backups_enabled and not backup_endpoint:
        _check_bucket(backup_bucket, "backups_s3_bucket")
        _check_prefix(backup_prefix, "backups_s3_prefix")
        check_backup_bucket(datasets, backup_bucket)
        prefixes = [backup_prefix]
        statements.append(
            _list_statement(
                _sid("BackupList", backup_bucket), backup_bucket, prefixes, ("s3:GetBucketLocation",)
            )
        )
        statements.append(
            _object_statement(_sid("BackupWrite", backup_bucket), backup_bucket, prefixes, WRITE_ACTIONS)
        )
    elif backups_enabled:
        check_backup_bucket(datasets, backup_bucket)
    if not statements:
        # IAM refuses an empty Statement list; an explicit deny-nothing keeps the role valid and useless.
        statements.append({"Sid": "NothingGranted", "Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def allowed_pairs(policy: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (action, resource) an Allow statement grants — for tests and `skyhub aws policy --explain`."""
    pairs: set[tuple[str, str]] = set()
    for stmt in policy.get("Statement", []):
        if stmt.get("Effect") != "Allow":
            continue
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
        pairs |= {(a, r) for a in actions for r in resources}
    return pairs
