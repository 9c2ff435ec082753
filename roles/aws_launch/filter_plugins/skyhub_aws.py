"""Filters for aws_launch: the instance role's policy (skyhub.aws.policy), the security group's CIDRs parsed
as networks (skyhub.aws.network) and the hub settings carried in user-data (skyhub.aws.user_data)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from skyhub.aws import network, policy, user_data
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
    try:
        return network.hub_rules(_plain(web_cidrs), _plain(ssh_cidrs))
    except SkyhubError as exc:
        raise AnsibleFilterError(f"aws_launch: {exc}") from exc


def skyhub_aws_cidr_problems(cidrs: Any, variable: str) -> list[str]:
    """One message per entry of `cidrs` that is not a network in CIDR form (each names `variable`)."""
    return network.cidr_problems(_plain(cidrs), str(variable))


def skyhub_aws_cidr_world(cidrs: Any) -> list[str]:
    """ "0.0.0.0/0" and/or "::/0" when the CIDRs together reach every address of that family (parsed, so
    0.0.0.0/00 and 0.0.0.0/1 + 128.0.0.0/1 count); entries that are not CIDRs are ignored (the preflight
    reports them first)."""
    good = [c for c in _plain(cidrs) if not network.cidr_problems([c], "-")]
    return network.world_families(good)


def skyhub_aws_hub_settings(role_vars: dict[str, Any]) -> dict[str, Any]:
    """user-data's hub settings (the `skyhub:` mapping) from the tljh_* variables."""
    try:
        return user_data.hub_settings(_plain(role_vars))
    except ValueError as exc:
        raise AnsibleFilterError(f"aws_launch: tljh_authenticator: {exc}") from exc


def skyhub_aws_secret_keys(settings: dict[str, Any]) -> list[str]:
    """Dotted paths of the secrets in the settings (non-empty client secrets, password hashes, tokens)."""
    return user_data.secret_keys(_plain(settings))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "skyhub_aws_instance_policy": skyhub_aws_instance_policy,
            "skyhub_aws_dataset_buckets_equal": skyhub_aws_dataset_buckets_equal,
            "skyhub_aws_sg_rules": skyhub_aws_sg_rules,
            "skyhub_aws_cidr_problems": skyhub_aws_cidr_problems,
            "skyhub_aws_cidr_world": skyhub_aws_cidr_world,
            "skyhub_aws_hub_settings": skyhub_aws_hub_settings,
            "skyhub_aws_secret_keys": skyhub_aws_secret_keys,
        }
