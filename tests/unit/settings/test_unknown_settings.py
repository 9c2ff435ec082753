"""playbooks/site.yml's first check: inventory variables no role knows, with the closest known name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
SITE = ROOT / "playbooks" / "site.yml"


def _site_task(name_start: str) -> dict:
    play = yaml.safe_load(SITE.read_text())[0]
    return next(t for t in play["pre_tasks"] if t["name"].startswith(name_start))


def _site_check_args() -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The extra known names, renamed and set-by-playbook maps exactly as site.yml passes them."""
    expr = _site_task("Preflight | every inventory variable")["vars"]["_skyhub_unknown_settings"]
    args = re.search(r"skyhub_unknown_settings\(playbook_dir ~ '/../roles',(.*)\) \}\}", expr, re.S)
    assert args, expr
    return yaml.safe_load("[" + args.group(1) + "]")


def test_known_settings_come_from_every_role_spec(settings_filters):
    known = settings_filters.known_settings(ROLES)
    assert known["tljh_spawner_mem_limit"] == "tljh"
    assert known["base_home_root"] == "base"
    assert known["aws_launch_ami_id"] == "aws_launch"  # roles outside site.yml count too (shared inventories)
    assert "tljh_home_root" not in known  # one home root: base_home_root


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tljh_spawner_mem_limt", "not a setting of the tljh role (did you mean tljh_spawner_mem_limit?)"),
        ("quotas_default_sise", "not a setting of the quotas role (did you mean quotas_default_size?)"),
        ("s3_twin_prot", "not a setting of the s3_twin role (did you mean s3_twin_port?)"),
        # a typo in the prefix is not prefixed by a role, but is a near miss of a known name
        ("tjlh_spawner_mem_limit", "not a setting of any role (did you mean tljh_spawner_mem_limit?)"),
        (
            "docker_frobnicate",
            "not a setting of the docker role (no known setting is close; the docker role's",
        ),
    ],
)
def test_a_misspelt_setting_is_reported_with_the_closest_known_name(settings_filters, name, expected):
    messages = settings_filters.unknown_settings({name: 1, "ansible_host": "x"}, ROLES)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{name} is {expected}"), messages


def test_names_not_shaped_like_settings_are_left_alone(settings_filters):
    names = [
        "ansible_host",
        "ansible_user",
        "inventory_hostname",
        "instance_id",  # aws_ec2 inventory facts
        "placement",
        "molecule_yml",
        "packer_build_name",
        "_tljh_prefix",  # private role variables
        "__tljh_result",
        "group_names",
    ]
    assert settings_filters.unknown_settings(names, ROLES) == []


def test_renamed_and_playbook_derived_variables_are_refused_with_what_to_do(settings_filters):
    extra, renamed, derived = _site_check_args()
    messages = settings_filters.unknown_settings(
        ["tljh_home_root", "idle_shutdown_hub_api_url", "skyhub_hosts", "skyhub_s3_twin"],
        ROLES,
        extra,
        renamed,
        derived,
    )
    assert messages == [
        "idle_shutdown_hub_api_url is set by the playbook (derived from tljh_spawner_network_subnet; change "
        "that instead): remove it from the inventory",
        "tljh_home_root was replaced by base_home_root: rename it in the inventory",
    ]
    # control: the playbook's own settings are known, and a near miss of one is caught
    assert settings_filters.unknown_settings(["skyhub_s3twin"], ROLES, extra) == [
        "skyhub_s3twin is not a setting of any role (did you mean skyhub_s3_twin?)"
    ]


def _inventory_var_names() -> dict[str, set[str]]:
    """Every variable the repository's inventories and Molecule scenarios set, also the commented examples."""
    out: dict[str, set[str]] = {}

    def walk_hosts(node, into: set[str]) -> None:
        if not isinstance(node, dict):
            return
        into.update((node.get("vars") or {}).keys())
        for host_vars in (node.get("hosts") or {}).values():
            into.update((host_vars or {}).keys())
        for child in (node.get("children") or {}).values():
            walk_hosts(child, into)

    for path in sorted(ROOT.glob("inventories/**/*.yml")):
        if path.name == "aws_ec2.yml":
            continue
        data = yaml.safe_load(path.read_text()) or {}
        names: set[str] = set()
        if "group_vars" in path.parts or "host_vars" in path.parts:
            names.update(data)
            # settings shown commented out, for the operator to switch on
            names.update(re.findall(r"(?m)^#\s*([a-z][a-z0-9_]+):\s", path.read_text()))
        else:
            for group in data.values():
                walk_hosts(group, names)
        out[str(path.relative_to(ROOT))] = names
    for path in [ROOT / ".config/molecule/config.yml", *sorted(ROOT.glob("molecule/*/molecule.yml"))]:
        data = yaml.safe_load(path.read_text()) or {}
        group_vars = ((data.get("provisioner") or {}).get("inventory") or {}).get("group_vars") or {}
        out[str(path.relative_to(ROOT))] = {k for v in group_vars.values() for k in (v or {})}
    return out


def test_every_inventory_and_scenario_of_the_repository_passes_the_check(settings_filters):
    extra, renamed, derived = _site_check_args()
    found = _inventory_var_names()
    assert "tljh_admin_users" in found["inventories/local/group_vars/all.yml"]  # the walk did read them
    assert "idle_shutdown_enabled" in found["molecule/appliance/molecule.yml"]
    problems = {
        where: settings_filters.unknown_settings(names, ROLES, extra, renamed, derived)
        for where, names in found.items()
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_demo_image_inputs_are_known_settings(settings_filters):
    """skyhub demo's generated vars file (build/demo/image-vars.yml) sets these keys."""
    source = (ROOT / "src" / "skyhub" / "demo.py").read_text()
    block = source[source.index("def image_inputs") :]
    keys = set(re.findall(r'^\s+"([a-z][a-z0-9_]+)":', block[: block.index("vars_file =")], re.M))
    assert keys, "no keys found in skyhub.demo.image_inputs"
    assert settings_filters.unknown_settings(keys, ROLES) == []


def test_site_preflights_every_role_it_runs_in_the_same_order():
    play = yaml.safe_load(SITE.read_text())[0]
    roles = [r["role"] for r in play["roles"]]
    listed = _site_task("Preflight | every role's settings")["vars"]["_skyhub_site_roles"]
    assert listed == roles
    assert all((ROLES / r / "tasks" / "preflight.yml").is_file() for r in roles)
