"""The hub instance's security group: CIDRs parsed as networks, "the world" recognised, the rules.

CIDRs are parsed with `ipaddress`, never matched with a regular expression: `0.0.0.0/00`, `0.0.0.0/0.0.0.0`,
`::/0` and the two halves `0.0.0.0/1` + `128.0.0.0/1` all open a port to every address, and a regular
expression listing "0.0.0.0/0" misses all but one of them. A CIDR with host bits set (`203.0.113.7/24`) is
refused rather than silently widened: the operator meant either the host or the network, and only they know.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from skyhub.errors import SkyhubError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WORLD = ("0.0.0.0/0", "::/0")
_FULL = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}


def parse_cidr(value: Any, variable: str) -> Network:
    """One CIDR as a network; a SkyhubError naming `variable` and the value when it is not a network."""
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, str) or "/" not in text:
        raise SkyhubError(
            f"{variable}: {text!r} is not a CIDR; write a network with its prefix length, e.g. "
            f"203.0.113.7/32 for one address or 198.51.100.0/24 for a network"
        )
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        hint = ""
        if "host bits set" in str(exc):
            loose = ipaddress.ip_network(text, strict=False)
            address = text.split("/", 1)[0]
            bits = 32 if loose.version == 4 else 128
            hint = f" (the network is {loose}; one address is {address}/{bits})"
        raise SkyhubError(f"{variable}: {text!r} is not a CIDR: {exc}{hint}") from exc


def parse_cidrs(values: Any, variable: str) -> list[Network]:
    """Every entry of a list of CIDRs as a network (the first bad entry raises, naming the variable)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SkyhubError(f'{variable} must be a list of CIDRs like ["203.0.113.7/32"] (got {values!r})')
    return [parse_cidr(v, variable) for v in values]


def cidr_problems(values: Any, variable: str) -> list[str]:
    """One message per entry of `values` that is not a CIDR (empty: all are)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return [f'{variable} must be a list of CIDRs like ["203.0.113.7/32"] (got {values!r})']
    out = []
    for value in values:
        try:
            parse_cidr(value, variable)
        except SkyhubError as exc:
            out.append(str(exc))
    return out


def world_families(values: Iterable[Any], variable: str = "CIDRs") -> list[str]:
    """The address families the networks together cover entirely ("0.0.0.0/0", "::/0"), however they are
    written: one /0, `0.0.0.0/00`, or pieces that add up to the whole space (`0.0.0.0/1` + `128.0.0.0/1`)."""
    nets = parse_cidrs(values, variable)
    out = []
    for version, full in _FULL.items():
        collapsed = list(ipaddress.collapse_addresses(n for n in nets if n.version == version))
        if collapsed == [full]:
            out.append(str(full))
    return out


def is_world(values: Iterable[Any], variable: str = "CIDRs") -> bool:
    """True when the networks together reach every IPv4 or every IPv6 address."""
    return bool(world_families(values, variable))


def _rules(ports: list[int], nets: list[Network], label: str) -> list[dict[str, Any]]:
    v4 = sorted({str(n) for n in nets if n.version == 4})
    v6 = sorted({str(n) for n in nets if n.version == 6})
    out: list[dict[str, Any]] = []
    for key, values in (("cidr_ip", v4), ("cidr_ipv6", v6)):
        if values:
            out.append({"proto": "tcp", "ports": ports, key: values, "rule_desc": label})
    return out


def hub_rules(web_cidrs: list[str], ssh_cidrs: list[str]) -> list[dict[str, Any]]:
    """443 (and 80, for the redirect to HTTPS and Let's Encrypt's HTTP challenge) from `web_cidrs`; 22 from
    `ssh_cidrs` only (none when empty). CIDRs are written in their normal form (`0.0.0.0/00` -> 0.0.0.0/0)."""
    web = parse_cidrs(web_cidrs, "aws_launch_web_cidrs")
    ssh = parse_cidrs(ssh_cidrs, "aws_launch_ssh_cidrs")
    return _rules([80, 443], web, "skyhub web") + _rules([22], ssh, "skyhub admin ssh")


def expected_permissions(web_cidrs: list[str], ssh_cidrs: list[str]) -> set[tuple[int, str]]:
    """(port, cidr) pairs the group must allow — what a test compares describe_security_groups against."""
    web = [str(n) for n in parse_cidrs(web_cidrs, "aws_launch_web_cidrs")]
    ssh = [str(n) for n in parse_cidrs(ssh_cidrs, "aws_launch_ssh_cidrs")]
    return {(p, c) for p in (80, 443) for c in web} | {(22, c) for c in ssh}
