"""skyhub-quota run for real (the host's python3, as installed on an instance) on this machine, whose
kernel cannot enforce quotas: the report says so with the reason and the fix, and usage is right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import make_hub_db
from quota_check import check_quota_report

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "src" / "skyhub" / "quota" / "tool.py"
PLUGIN = ROOT / "plugin"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"


class LocalHost:
    """The few testinfra Host methods check_quota_report uses, for this machine."""

    class Result:
        def __init__(self, res: subprocess.CompletedProcess) -> None:
            self.rc, self.stdout, self.stderr = res.returncode, res.stdout, res.stderr

    def run(self, command: str) -> LocalHost.Result:
        return self.Result(subprocess.run(command, shell=True, capture_output=True, text=True, check=False))


@pytest.fixture
def host_layout(tmp_path: Path) -> dict[str, Any]:
    home = tmp_path / "home"
    for user, mib in (("alice", 9), ("bob", 2), ("carol", 0)):
        (home / user / "work").mkdir(parents=True)
        if mib:
            (home / user / "work" / "data.bin").write_bytes(os.urandom(mib * 1024 * 1024))
        (home / user / "notes.txt").write_text("hello\n" * 100)
    os.link(home / "bob" / "work" / "data.bin", home / "bob" / "hardlink.bin")  # counted once, like du
    make_hub_db(tmp_path / "hub.sqlite", {"alice": [], "bob": ["astro"], "carol": []})
    # the hub's limits as the skyhub TLJH plugin computes them (its own code, without TLJH installed)
    code = (
        f"import json, sys; sys.path.insert(0, {str(PLUGIN)!r}); from tljh_skyhub.limits import limits_for; "
        "print(json.dumps(limits_for({'limits': {'memory': '2G', 'cpu': 1}, "
        "'skyhub': {'limits': {'groups': {'astro': {'mem_limit': '8G'}}}}}, json.load(sys.stdin)['users'])))"
    )
    cfg = {
        "home_root": str(home),
        "default_size": "10M",
        "group_sizes": {"astro": "1G"},
        "warn_percent": 80,
        "hub_db": str(tmp_path / "hub.sqlite"),
        "limits_command": [sys.executable, "-c", code],
        "backup_state_file": str(tmp_path / "backup-state.json"),
        "state_file": str(tmp_path / "state.json"),
        "projid_file": str(tmp_path / "projid"),
        "projects_file": str(tmp_path / "projects"),
    }
    (tmp_path / "quotas.json").write_text(json.dumps(cfg))
    return {"config": str(tmp_path / "quotas.json"), "home": home}


def quota(layout: dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(TOOL), "--config", layout["config"], *args], capture_output=True, text=True, check=False
    )


def test_report_is_honest_and_usage_correct(host_layout: dict[str, Any]) -> None:
    cmd = f"{PYTHON} {TOOL} --config {host_layout['config']} report --json"
    report = check_quota_report(LocalHost(), cmd)
    assert report["enforced"] is False  # this kernel has no quota support
    rows = {u["user"]: u for u in report["users"]}
    assert rows["alice"]["warn"] is True and rows["bob"]["warn"] is False  # 9M of 10M vs 2M of 1G
    assert rows["bob"]["quota"] == 1024**3 and rows["bob"]["source"] == "group:astro"
    assert rows["bob"]["mem_limit"] == "8G" and rows["alice"]["mem_limit"] == "2G"
    table = quota(host_layout, "report").stdout
    assert "NOT ENFORCED" in table and "Fix:" in table and "limits are NOT enforced" in table


def test_set_and_apply_on_this_kernel(host_layout: dict[str, Any]) -> None:
    res = quota(host_layout, "set", "carol", "5G")
    assert res.returncode == 3 and "NOT ENFORCED" in res.stderr
    res = quota(host_layout, "apply")
    assert res.returncode == 0 and "NOT ENFORCED" in res.stderr
    assert (host_layout["home"] / "alice" / "QUOTA-WARNING.txt").exists()
    assert not (host_layout["home"] / "bob" / "QUOTA-WARNING.txt").exists()
    res = quota(host_layout, "check")
    assert res.returncode == 3 and "Why:" in res.stdout
