"""`make load`'s harness, small: one step of 8 simulated users on an instance of the image (astro and minimal
in turn; sign in, spawn, a cell reading /data/hst, a saved file, idle, stop). Nobody meets an error and the
report is complete; its timings go to build/load-small.json and build/load-small.png and are not asserted
(they depend on what else the machine runs)."""

from __future__ import annotations

import json
import sys

import pytest
from image_helpers import REPO, in_instance, wait_hub

sys.path.insert(0, str(REPO / "tests" / "appliance"))
import loadlib

pytestmark = pytest.mark.integration
USERS = 8


@pytest.fixture(scope="module")
def small(instances, tmp_path_factory) -> tuple[str, dict]:
    # plain HTTP inside this machine, as `make load` measures it (TLS is not what is measured here; the
    # harness's client speaks to the instance's address over the test network only)
    settings = tmp_path_factory.mktemp("load") / "instance-settings.json"
    settings.write_text('{"https": {"enabled": false}}')
    settings.chmod(0o644)
    name = instances("load", "-v", f"{settings}:/etc/skyhub/instance-settings.json:ro")
    wait_hub(name, https=False)
    target = loadlib.Target.of_container(name)
    settings = loadlib.Settings(
        steps=[USERS], images=["astro", "minimal"], arrival_interval_s=1.0, idle_s=5.0, budget_s=900
    )
    report = loadlib.ramp(target, settings)
    out = REPO / "build" / "load-small.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    loadlib.plot(report, out.with_suffix(".png"))
    return name, report


def test_eight_users_at_once_meet_no_error(small):
    _, report = small
    (step,) = report["steps"]
    assert step["errors"] == [], step["errors"]
    assert step["ok"] == USERS
    assert step["hub_log_errors"] == [], step["hub_log_errors"]
    assert {r["image"] for r in step["user_runs"]} == {"astro", "minimal"}


def test_the_report_is_complete(small):
    _, report = small
    assert loadlib.check_report(report) == []
    (step,) = report["steps"]
    assert step["spawn_s"]["p95"] is not None
    assert step["hub"]["hub_rss_mib_peak"] > 0


def test_every_saved_file_is_in_its_users_home(small):
    name, report = small
    for run in report["steps"][0]["user_runs"]:
        user = run["name"]
        text = in_instance(name, f"cat /srv/skyhub/home/{user}/load-{user}.txt")
        assert text.startswith(f"saved by {user} at "), text
