"""Security group rules of the hub instance, as amazon.aws.ec2_security_group `rules` entries."""

from __future__ import annotations

from typing import Any

WORLD = ("0.0.0.0/0", "::/0")


def _rules(ports: list[int], cidrs: list[str], label: str) -> list[dict[str, Any]]:
    v4 = sorted(c for c in cidrs if ":" not in c)
    v6 = sorted(c for c in cidrs if ":" in c)
    out: list[dict[str, Any]] = []
    for key, values in (("cidr_ip", v4), ("cidr_ipv6", v6)):
        if values:
            out.append({"proto": "tcp", "ports": ports, key: values, "rule_desc": label})
    return out


def hub_rules(web_cidrs: list[str], ssh_cidrs: list[str]) -> list[dict[str, Any]]:
    """80 and 443 from `web_cidrs`; 22 from `ssh_cidrs` only (none when empty)."""
    return _rules([80, 443], list(web_cidrs), "skyhub web") + _rules(
        [22], list(ssh_cidrs), "skyhub admin ssh"
    )


def expected_permissions(web_cidrs: list[str], ssh_cidrs: list[str]) -> set[tuple[int, str]]:
    """(port, cidr) pairs the group must allow — what a test compares describe_security_groups against."""
    return {(p, c) for p in (80, 443) for c in web_cidrs} | {(22, c) for c in ssh_cidrs}
