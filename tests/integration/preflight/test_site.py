"""playbooks/site.yml: an inventory variable no role knows stops the play with the closest known name, and a bad
setting of the last role stops it before the first role changes anything (every preflight runs first)."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.integration

CASES = [
    # variables, what the message must say
    ({"tljh_spawner_mem_limt": "2G"}, "tljh_spawner_mem_limt is not a setting of the tljh role (did you mean "
     "tljh_spawner_mem_limit?)"),
    ({"tljh_home_root": "/srv/homes"}, "tljh_home_root was replaced by base_home_root"),
    ({"idle_shutdown_hub_api_url": "http://10.0.0.1:15001/hub/api"}, "idle_shutdown_hub_api_url is set by the "
     "playbook (derived from tljh_spawner_network_subnet"),
    # tljh runs last: without the early preflights, base and docker would already have changed the host
    ({"tljh_spawner_mem_limit": "0G"}, 'tljh_spawner_mem_limit is "0G"'),
    ({"tljh_spawner_cpu_limit": "two"}, "tljh_spawner_cpu_limit"),  # a type error, from the argument specs
]  # fmt: skip


@pytest.mark.parametrize(("variables", "says"), CASES, ids=[next(iter(c[0])) for c in CASES])
def test_site_stops_before_any_change(run_site, variables, says):
    result = run_site(variables)
    assert result.rc != 0, result.output[-2000:]
    assert says in " ".join(result.output.split()), result.output[-3000:]
    assert result.recap_changed == 0, result.output[-2000:]
    assert result.changed == [], f"the host changed: {result.changed}"


def test_control_good_settings_pass_every_preflight_without_changing_the_host(run_site):
    """The cases above fail for the reason they name: the same play with good settings passes every check."""
    result = run_site({"tljh_spawner_mem_limit": "2G"}, "--tags", "preflight")
    assert result.rc == 0, result.output[-3000:]
    assert "tljh : Preflight | tljh_spawner_mem_limit is at least" in result.output
    assert result.changed == [], f"the host changed: {result.changed}"


def test_idle_shutdown_reaches_the_hub_on_the_gateway_of_the_tljh_subnet(run_site, fresh_container):
    """The URL the idle-shutdown service is configured with follows tljh_spawner_network_subnet."""
    result = run_site(
        {"tljh_spawner_network_subnet": "10.50.0.0/16"},
        "--tags",
        "idle_shutdown_configure",
        container=fresh_container,
    )
    assert result.rc == 0, result.output[-3000:]
    conf = subprocess.run(
        ["docker", "exec", fresh_container, "cat", "/etc/skyhub/idle-shutdown.json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(conf.stdout)["hub_api_url"] == "http://10.50.0.1:15001/hub/api"
