"""Filters for aws_launch: the instance role's policy, rendered by skyhub.aws.policy."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from skyhub.aws import network, policy
from skyhub.errors import SkyhubError


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def skyhub_aws_instance_policy(
    datasets: list[dict[str, Any]],
    backups_enabled: bool = False,
    backup_bucket: str = "",
    backup_prefix: str = "",
    backup_endpoint: str = "",
) -> dict[str, Any]:
    try:
        return policy.render_instance_policy(
            _plain(datasets),
            bool(backups_enabled),
            str(backup_bucket),
            str(backup_prefix),
            str(backup_endpoint),
        )
    except SkyhubError as exc:
        raise AnsibleFilterError(f"aws_launch: {exc}") from exc


def skyhub_aws_dataset_buckets_equal(datasets: list[dict[str, Any]], bucket: str) -> list[str]:
    """Names of datasets whose bucket is `bucket` (the backup bucket must not be one of them)."""
    return [str(d.get("name", "?")) for d in _plain(datasets) if bucket and d.get("bucket") == bucket]


def skyhub_aws_sg_rules(web_cidrs: list[str], ssh_cidrs: list[str]) -> list[dict[str, Any]]:
    return network.hub_rules(_plain(web_cidrs), _plain(ssh_cidrs))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "skyhub_aws_instance_policy": skyhub_aws_instance_policy,
            "skyhub_aws_dataset_buckets_equal": skyhub_aws_dataset_buckets_equal,
            "skyhub_aws_sg_rules": skyhub_aws_sg_rules,
        }
