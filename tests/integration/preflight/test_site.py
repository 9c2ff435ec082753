"""playbooks/site.yml: an inventory variable no role knows stops the play with the closest known name, and a
bad setting of the last role stops it before the first role changes anything (every preflight runs first).

The failing cases run in one ansible-playbook, the whole site.yml (no tags): `docker diff` shows that nothing
changed. The control (good settings pass every check) is the run that configures the idle-shutdown service.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from preflight_helpers import ROOT, run_batch

pytestmark = pytest.mark.integration

SITE = ROOT / "playbooks" / "site.yml"
CASES = {
    # host: (variables, what the failure message must say)
    "typo": (
        {"tljh_spawner_mem_limt": "2G"},
        "tljh_spawner_mem_limt is not a setting of the tljh role (did you mean tljh_spawner_mem_limit?)",
    ),
    "renamed": ({"tljh_home_root": "/srv/homes"}, "tljh_home_root was replaced by base_home_root"),
    "derived": (
        {"idle_shutdown_hub_api_url": "http://10.0.0.1:15001/hub/api"},
        "idle_shutdown_hub_api_url is set by the playbook (derived from tljh_spawner_network_subnet",
    ),
    # tljh runs last: without the early preflights, base and docker would already have changed the host
    "late-rule": ({"tljh_spawner_mem_limit": "0G"}, 'tljh_spawner_mem_limit is "0G"'),
    "late-type": ({"tljh_spawner_cpu_limit": "two"}, "tljh_spawner_cpu_limit"),  # from the argument specs
}


@pytest.fixture(scope="module")
def site_batch(target_container, tmp_path_factory):
    cases = {host: ("hub", variables) for host, (variables, _) in CASES.items()}
    return run_batch(target_container, SITE, cases, tmp_path_factory.mktemp("site"))


@pytest.mark.parametrize("host", list(CASES))
def test_site_stops_before_any_change(site_batch, host):
    says = CASES[host][1]
    result = site_batch.hosts[host]
    assert result.failed, f"{host} passed every check"
    assert says in result.message, result.message
    assert result.changed == 0


def test_no_case_changed_the_host(site_batch):
    assert site_batch.changed == [], f"the host changed: {site_batch.changed}"


def test_control_good_settings_pass_every_check_and_the_hub_url_follows_the_subnet(fresh_container, tmp_path):
    """The cases above fail for the reason they name: with good settings every check passes (the last is the
    tljh role's), and the idle-shutdown service is configured with the hub URL derived from
    tljh_spawner_network_subnet (its gateway, where the hub listens)."""
    cases = {"control": ("hub", {"tljh_spawner_network_subnet": "10.50.0.0/16"})}
    run = run_batch(fresh_container, SITE, cases, tmp_path, ("--tags", "idle_shutdown_configure"))
    assert run.rc == 0, run.hosts["control"].message + run.stderr[-2000:]
    tasks = [t["task"]["name"] for p in run.raw["plays"] for t in p["tasks"] if "control" in t["hosts"]]
    assert "tljh : Preflight | homes and the skeleton are separate absolute directories" in tasks
    conf = subprocess.run(
        ["docker", "exec", fresh_container, "cat", "/etc/skyhub/idle-shutdown.json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(conf.stdout)["hub_api_url"] == "http://10.50.0.1:15001/hub/api"
