"""The user servers' network: the tljh preflight's subnet rules and the hub address derived from it."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("subnet", "valid"),
    [
        ("172.29.0.0/24", True),
        ("172.29.0.128/25", True),  # a valid network that does not end in .0
        ("10.200.0.0/16", True),
        ("192.168.7.16/28", True),
        ("172.29.0.1/24", False),  # host bits set: Docker refuses it
        ("172.29.5.0/16", False),
        ("172.29.0.0/15", False),  # larger than /16
        ("172.29.0.0/29", False),  # too small for a hub and servers
        ("172.29.0.0", False),  # no prefix
        ("fd00::/64", False),
        ("lots", False),
        ("", False),
    ],
)
def test_subnet_shape(network_filters, subnet, valid):
    assert network_filters.tljh_subnet_valid(subnet) is valid


@pytest.mark.parametrize(
    ("subnet", "private"),
    [
        ("10.0.0.0/16", True),
        ("172.16.0.0/16", True),
        ("172.31.255.0/24", True),
        ("192.168.0.0/24", True),
        ("172.32.0.0/24", False),  # just outside 172.16.0.0/12
        ("8.8.8.0/24", False),
        ("100.64.0.0/16", False),  # carrier-grade NAT space is not RFC 1918
        ("169.254.0.0/16", False),
        ("not-a-net", False),
    ],
)
def test_subnet_is_private_only_inside_rfc1918(network_filters, subnet, private):
    assert network_filters.tljh_subnet_private(subnet) is private


def test_overlap_with_reserved_networks(network_filters):
    reserved = ["172.31.0.0/16"]
    assert network_filters.tljh_subnet_overlaps("172.31.8.0/24", reserved) == ["172.31.0.0/16"]
    assert network_filters.tljh_subnet_overlaps("172.30.0.0/16", reserved) == []
    assert network_filters.tljh_subnet_overlaps("172.29.0.0/24", reserved) == []
    # a subnet larger than a reserved one overlaps it too
    assert network_filters.tljh_subnet_overlaps("10.0.0.0/16", ["10.0.3.0/24"]) == ["10.0.3.0/24"]
    # an entry that is not a network is returned, so the preflight names it
    assert network_filters.tljh_subnet_overlaps("172.29.0.0/24", ["vpc"]) == ["vpc"]
    assert network_filters.tljh_subnet_overlaps("172.29.0.0/24", ["fd00::/8"]) == []


def test_the_role_default_passes_every_rule(network_filters):
    defaults = yaml.safe_load((ROOT / "roles/tljh/defaults/main.yml").read_text())
    subnet, reserved = defaults["tljh_spawner_network_subnet"], defaults["tljh_spawner_network_reserved"]
    assert reserved == ["172.31.0.0/16"]
    assert network_filters.tljh_subnet_valid(subnet)
    assert network_filters.tljh_subnet_private(subnet)
    assert network_filters.tljh_subnet_overlaps(subnet, reserved) == []


@pytest.mark.parametrize(
    ("subnet", "gateway"),
    [("172.29.0.0/24", "172.29.0.1"), ("10.50.0.0/16", "10.50.0.1"), ("192.168.7.16/28", "192.168.7.17")],
)
def test_gateway_is_the_first_host(network_filters, subnet, gateway):
    assert network_filters.tljh_subnet_gateway(subnet) == gateway


def test_gateway_of_a_bad_subnet_names_the_variable(network_filters):
    with pytest.raises(ValueError, match="tljh_spawner_network_subnet"):
        network_filters.tljh_subnet_gateway("172.29.0.1/24")


def _render(expr: str, network_filters, **variables) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(network_filters.FilterModule().filters())
    return env.from_string(expr).render(**variables)


def test_site_derives_the_idle_shutdown_hub_url_from_the_tljh_subnet(network_filters):
    play = yaml.safe_load((ROOT / "playbooks/site.yml").read_text())[0]
    expr = play["vars"]["idle_shutdown_hub_api_url"]
    assert "172.29" not in expr  # derived, not hard-coded
    url = _render(expr, network_filters, tljh_spawner_network_subnet="10.50.0.0/16")
    assert url == "http://10.50.0.1:15001/hub/api"
    default = yaml.safe_load((ROOT / "roles/tljh/defaults/main.yml").read_text())[
        "tljh_spawner_network_subnet"
    ]
    assert (
        _render(expr, network_filters, tljh_spawner_network_subnet=default)
        == "http://172.29.0.1:15001/hub/api"
    )


def test_the_tljh_role_uses_the_same_hub_address(network_filters):
    expr = yaml.safe_load((ROOT / "roles/tljh/vars/main.yml").read_text())["_tljh_hub_ip"]
    assert _render(expr, network_filters, tljh_spawner_network_subnet="10.50.0.0/16") == "10.50.0.1"
