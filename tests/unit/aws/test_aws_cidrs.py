"""The security group's CIDRs are parsed as networks: every spelling of "the world" is recognised, a CIDR with
host bits set or one that is not a network is refused naming the variable and the value."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from skyhub.aws.network import cidr_problems, expected_permissions, hub_rules, is_world, world_families
from skyhub.errors import SkyhubError

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "skyhub_aws_filters", ROOT / "roles/aws_launch/filter_plugins/skyhub_aws.py"
)
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)


@pytest.mark.parametrize(
    ("cidrs", "families"),
    [
        (["0.0.0.0/0"], ["0.0.0.0/0"]),
        (["0.0.0.0/00"], ["0.0.0.0/0"]),
        (["0.0.0.0/0.0.0.0"], ["0.0.0.0/0"]),  # netmask form
        (["::/0"], ["::/0"]),
        (["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/0"]),  # both halves
        (["128.0.0.0/1", "198.51.100.0/24", "0.0.0.0/1"], ["0.0.0.0/0"]),
        (["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"], ["0.0.0.0/0"]),
        (["::/1", "8000::/1", "203.0.113.7/32"], ["::/0"]),
        (["0.0.0.0/00", "::/0"], ["0.0.0.0/0", "::/0"]),
    ],
)
def test_every_spelling_of_the_world_is_the_world(cidrs, families):
    assert world_families(cidrs) == families
    assert is_world(cidrs)
    assert filters.skyhub_aws_cidr_world(cidrs) == families


@pytest.mark.parametrize(
    "cidrs",
    [
        [],
        ["0.0.0.0/1"],  # half the internet is a lot, but not all of it
        ["0.0.0.0/1", "128.0.0.0/2"],
        ["198.51.100.0/24", "2001:db8::/32"],
        ["::/1"],
        ["::ffff:0.0.0.0/96"],  # IPv4-mapped IPv6 is not the IPv4 internet
    ],
)
def test_networks_short_of_the_world_are_not_the_world(cidrs):
    assert world_families(cidrs) == []
    assert not is_world(cidrs)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("203.0.113.7/24", "host bits set (the network is 203.0.113.0/24; one address is 203.0.113.7/32)"),
        ("2001:db8::1/64", "host bits set (the network is 2001:db8::/64; one address is 2001:db8::1/128)"),
        ("web", "is not a CIDR; write a network with its prefix length"),
        (
            "203.0.113.7",
            "is not a CIDR; write a network with its prefix length",
        ),  # no prefix: refused, not /32
        ("300.1.1.1/32", "is not a CIDR"),
        ("0.0.0.0/33", "is not a CIDR"),
        (" 0.0.0.0/0", "is not a CIDR"),
        ("", "is not a CIDR"),
        (22, "is not a CIDR"),
    ],
)
def test_a_bad_cidr_is_refused_naming_the_variable_and_the_value(value, says):
    (problem,) = cidr_problems(["198.51.100.0/24", value], "aws_launch_web_cidrs")
    assert problem.startswith(f"aws_launch_web_cidrs: {str(value)!r} ")
    assert says in problem
    assert filters.skyhub_aws_cidr_problems([value], "aws_launch_ssh_cidrs")[0].startswith(
        "aws_launch_ssh_cidrs: "
    )
    with pytest.raises(SkyhubError, match="aws_launch_web_cidrs"):
        hub_rules([value], [])


def test_good_cidrs_have_no_problems_and_a_string_is_not_a_list():
    assert (
        cidr_problems(["0.0.0.0/00", "::/0", "203.0.113.7/32", "2001:db8::/64"], "aws_launch_web_cidrs") == []
    )
    (problem,) = cidr_problems("0.0.0.0/0", "aws_launch_web_cidrs")
    assert "aws_launch_web_cidrs must be a list of CIDRs" in problem


def test_the_world_in_ssh_is_refused_by_its_network_not_its_spelling():
    """The preflight's SSH rule asks the filter: a string comparison let `0.0.0.0/00` and the halves by."""
    for spelling in (["0.0.0.0/00"], ["0.0.0.0/1", "128.0.0.0/1"], ["::/0"]):
        assert filters.skyhub_aws_cidr_world(spelling), spelling
    assert filters.skyhub_aws_cidr_world(["203.0.113.7/32", "bad"]) == []  # bad entries: reported elsewhere


def test_rules_open_443_and_80_to_the_web_cidrs_and_ssh_only_when_asked():
    rules = hub_rules(["0.0.0.0/00", "::/0"], [])
    assert rules == [
        {"proto": "tcp", "ports": [80, 443], "cidr_ip": ["0.0.0.0/0"], "rule_desc": "skyhub web"},
        {"proto": "tcp", "ports": [80, 443], "cidr_ipv6": ["::/0"], "rule_desc": "skyhub web"},
    ]  # written in the normal form AWS accepts; no port 22 rule at all
    assert not any(22 in r["ports"] for r in rules)
    ssh = hub_rules(["198.51.100.0/24"], ["203.0.113.7/32"])
    assert {
        "proto": "tcp",
        "ports": [22],
        "cidr_ip": ["203.0.113.7/32"],
        "rule_desc": "skyhub admin ssh",
    } in ssh
    assert expected_permissions(["0.0.0.0/00"], []) == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0")}
