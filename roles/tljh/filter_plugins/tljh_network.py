"""Filters for the tljh role: the user servers' Docker network (tljh_spawner_network_subnet).

The preflight (tasks/preflight.yml) asks one question per assert, so its message names the rule broken; the
hub's address (the network's first host, where the hub listens) is derived here too, for the role and for
playbooks/site.yml (the idle-shutdown service's hub URL). Unit-tested in tests/unit/settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

# RFC 1918: the networks a user subnet may come from.
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Docker refuses smaller networks for a bridge with a gateway; larger ones waste address space.
PREFIXES = range(16, 29)


def _network(value: Any) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) and "/" in str(value) else None


def tljh_subnet_valid(value: Any) -> bool:
    """An IPv4 network in CIDR form, host bits zero (172.29.0.0/24, not 172.29.0.1/24), /16 to /28."""
    net = _network(value)
    return net is not None and net.prefixlen in PREFIXES


def tljh_subnet_private(value: Any) -> bool:
    """Inside one of the RFC 1918 private ranges."""
    net = _network(value)
    return net is not None and any(net.subnet_of(p) for p in PRIVATE)


def tljh_subnet_overlaps(value: Any, others: Iterable[Any]) -> list[str]:
    """The networks of `others` (CIDRs) that share an address with the subnet."""
    net = _network(value)
    if net is None:
        return []
    out = []
    for other in others:
        try:
            o = ipaddress.ip_network(str(other), strict=False)
        except ValueError:
            out.append(str(other))  # not a network: reported so the preflight names it
            continue
        if o.version == 4 and net.overlaps(o):
            out.append(str(other))
    return out


def tljh_subnet_gateway(value: Any) -> str:
    """The network's first host address: Docker's gateway of the bridge, where the hub listens."""
    net = _network(value)
    if net is None:
        raise ValueError(
            f"tljh_spawner_network_subnet must be an IPv4 network like 172.29.0.0/24 (got {value!r})"
        )
    return str(net.network_address + 1)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "tljh_subnet_valid": tljh_subnet_valid,
            "tljh_subnet_private": tljh_subnet_private,
            "tljh_subnet_overlaps": tljh_subnet_overlaps,
            "tljh_subnet_gateway": tljh_subnet_gateway,
        }
