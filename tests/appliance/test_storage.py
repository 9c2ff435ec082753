"""User storage on the appliance: every new home gets its quota without a manual step, the report is honest
(usage right, enforcement unavailable on this kernel and said so), warnings reach the user, and backups to
the S3 twin restore one user byte for byte without touching anyone else."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hub import HubUser, run_code

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "storage"))
from quota_check import check_quota_report  # shared with the host integration test

HOME_ROOT = "/srv/skyhub/home"
MIB = 1024**2
UNITS = {"K": 1024, "M": MIB, "G": 1024**3, "T": 1024**4}


def _ensure_running(user: HubUser) -> None:
    """The appliance culls servers idle for 60 s; start the server again if the culler took it."""
    if not user.model().get("servers"):
        user.start()


def _report(host) -> dict:
    return check_quota_report(host, command="skyhub-quota report --json")


def _row(report: dict, name: str) -> dict:
    rows = {r["user"]: r for r in report["users"]}
    assert name in rows, f"{name} not in the quota report: {sorted(rows)}"
    return rows[name]


def _size(text: str) -> int:
    """ "200M" / "10G" / "1.5T" (the roles' binary units) in bytes."""
    return int(float(text[:-1]) * UNITS[text[-1].upper()])


def _default_quota(host) -> int:
    """quotas_default_size as the quotas role wrote it on this target (Molecule: 200M; the image: 10G)."""
    return _size(json.loads(host.file("/etc/skyhub/quotas.json").content_string)["default_size"])


def _hub_limits(host) -> tuple[int, float]:
    """Memory (bytes) and CPU limits of the hub's config on this target (tljh_spawner_mem/cpu_limit)."""
    cfg = yaml.safe_load(host.file("/opt/tljh/config/config.yaml").content_string)
    return _size(str(cfg["limits"]["memory"])), float(cfg["limits"]["cpu"])


def _sha(host, path: str) -> str:
    return host.check_output(f"sha256sum {path}").split()[0]


def _tree(host, path: str) -> str:
    """Names, sizes, modes, owners, mtimes and contents of everything below path, as one digest."""
    return host.check_output(
        f"cd {path} && find . -printf '%p %s %m %U %T@\\n' | sort && find . -type f -print0 | sort -z"
        " | xargs -0 -r sha256sum"
    )


@pytest.fixture(scope="module")
def quota_user(new_user, host):
    user = new_user("quota")
    user.start()
    return user


@pytest.fixture(scope="module")
def other_user(new_user):
    """A second user with a file of their own, server stopped (a home at rest)."""
    user = new_user("other")
    user.start()
    user.write_file("mine.txt", "other user's notes\n")
    user.stop()
    return user


def test_new_home_gets_its_quota_without_a_manual_step(quota_user, host):
    home = f"{HOME_ROOT}/{quota_user.name}"
    assert host.file(home).is_directory  # made by the hub's pre_spawn_hook
    # the path unit runs `skyhub-quota apply` when a home appears (the safety-net timer is 15 min)
    deadline = time.monotonic() + 30
    while True:
        row = _row(_report(host), quota_user.name)
        if row["project_id"] is not None or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert row["project_id"] is not None, "no project id 30 s after the home appeared: path unit not working"
    assert row["quota"] == _default_quota(host) and row["source"] == "default"
    assert f"{row['project_id']}:{home}" in host.file("/etc/projects").content_string.splitlines()
    assert f"skyhub-{quota_user.name}:{row['project_id']}" in host.file("/etc/projid").content_string
    assert host.service("skyhub-quota-apply.path").is_enabled
    assert host.service("skyhub-quota-apply.path").is_running


def test_report_says_quotas_are_not_enforced_on_this_kernel_and_why(host):
    report = _report(host)
    fstype = host.check_output(f"findmnt -n -o FSTYPE -T {HOME_ROOT}").strip()
    assert fstype != "xfs", "the test host's homes are not on XFS; this check assumes so"
    assert report["enforced"] is False
    enf = report["enforcement"]
    assert fstype in enf["why"] and "prjquota" in enf["fix"] and enf["what"]
    check = host.run("skyhub-quota check")
    assert check.rc == 3 and "NOT ENFORCED" in check.stdout and "Fix:" in check.stdout
    text = host.check_output("skyhub-quota report")
    assert text.startswith("Quotas: NOT ENFORCED") and "limits are NOT enforced" in text


def test_usage_grows_by_what_the_user_writes_from_their_kernel(quota_user, host):
    _ensure_running(quota_user)
    run_code(quota_user, "print('warm')")  # kernel start-up files are not part of the measurement
    before = _row(_report(host), quota_user.name)["used"]
    out = run_code(
        quota_user,
        "import os\n"
        "with open(os.path.expanduser('~/three-mib.bin'), 'wb') as f:\n"
        "    f.write(os.urandom(3 * 1024 * 1024)); f.flush(); os.fsync(f.fileno())\n"
        "print(os.path.getsize(os.path.expanduser('~/three-mib.bin')))\n",
    )
    assert out.strip() == str(3 * MIB)
    after = _row(_report(host), quota_user.name)["used"]  # also checked against du by check_quota_report
    assert after - before == pytest.approx(3 * MIB, abs=256 * 1024)


def test_memory_and_cpu_in_the_report_match_the_users_container(quota_user, host):
    _ensure_running(quota_user)
    row = _row(_report(host), quota_user.name)
    hc = json.loads(host.check_output(f"docker inspect jupyter-{quota_user.name}"))[0]["HostConfig"]
    mem_limit, cpu_limit = _hub_limits(host)
    assert _size(str(row["mem_limit"])) == hc["Memory"] == mem_limit
    cpus = hc["NanoCpus"] / 1e9 if hc.get("NanoCpus") else hc["CpuQuota"] / hc["CpuPeriod"]
    assert float(row["cpu_limit"]) == pytest.approx(cpus) == pytest.approx(cpu_limit)


def test_user_over_the_warning_threshold_is_flagged_and_told(quota_user, other_user, host):
    used = _row(_report(host), quota_user.name)["used"]
    small_kib = int(used / 0.95) // 1024  # ~95 % full, above quotas_warn_percent (90)
    result = host.run(f"skyhub-quota set {quota_user.name} {small_kib}K")
    assert result.rc == 3 and "recorded but" in result.stderr and "NOT ENFORCED" in result.stderr
    report = _report(host)
    row = _row(report, quota_user.name)
    assert row["quota"] == small_kib * 1024 and row["source"] == "set"
    assert row["percent"] >= report["warn_percent"] == 90 and row["warn"] is True
    assert _row(report, other_user.name)["warn"] is False  # a small home under 200M: the flag is per user
    assert not host.file(f"{HOME_ROOT}/{other_user.name}/QUOTA-WARNING.txt").exists

    _ensure_running(quota_user)
    notice = run_code(quota_user, "import os; print(open(os.path.expanduser('~/QUOTA-WARNING.txt')).read())")
    assert "full" in notice and "No space left on device" in notice

    # back to a roomy quota: the notice goes away again
    host.run(f"skyhub-quota set {quota_user.name} 200M")
    gone = run_code(quota_user, "import os; print(os.path.exists(os.path.expanduser('~/QUOTA-WARNING.txt')))")
    assert gone.strip() == "False"
    assert _row(_report(host), quota_user.name)["warn"] is False


@pytest.fixture(scope="module")
def backups_on(host) -> None:
    """Backups are configured on this target (the Molecule appliance sets them; the local demo image
    leaves them off, as site.yml does until backups_enabled and a repository are set)."""
    config = json.loads(host.file("/etc/skyhub/backup.json").content_string)
    if not config["repository"]:
        pytest.skip("no backup repository on this target (the local image leaves backups off)")


def test_backup_timer_is_enabled_and_scheduled(backups_on, host):
    timer = host.service("skyhub-backup.timer")
    assert timer.is_enabled and timer.is_running
    assert "skyhub-backup.service" in host.check_output("systemctl list-timers --all skyhub-backup.timer")
    assert host.file("/etc/skyhub/backup.password").mode == 0o600


@pytest.fixture(scope="module")
def backed_up(backups_on, quota_user, other_user, host):
    """One real backup run to the S3 twin with both users' homes in it; returns what was saved."""
    _ensure_running(quota_user)
    run_code(
        quota_user,
        "import os\n"
        "open(os.path.expanduser('~/results.txt'), 'w').write('measured: 42.0 +- 0.1\\n' * 1000)\n",
    )
    saved = {
        "sha": _sha(host, f"{HOME_ROOT}/{quota_user.name}/results.txt"),
        "other_tree": _tree(host, f"{HOME_ROOT}/{other_user.name}"),
    }
    run = host.run("skyhub-backup run")
    assert run.rc == 0, f"backup failed: {run.stdout}\n{run.stderr}"
    saved["run"] = run.stdout
    return saved


def test_backup_runs_against_the_s3_twin(backed_up, quota_user, other_user, host):
    assert "backup ok" in backed_up["run"]
    # the bucket and the repository exist in the twin because the backup made them (restic init)
    listing = host.check_output(
        'python3 -c "import urllib.request; print(urllib.request.urlopen('
        "'http://127.0.0.1:9000/skyhub-backups?list-type=2&prefix=appliance/').read().decode())\""
    )
    assert "<Key>appliance/config</Key>" in listing
    status = host.run("skyhub-backup status")
    assert status.rc == 0 and "last success:" in status.stdout
    state = json.loads(host.check_output("skyhub-backup status --json"))
    assert state["last_status"] == "ok" and state["snapshot_size"] > 3 * MIB  # the 3 MiB file is in it
    assert datetime.fromisoformat(state["last_success"]).year >= 2024
    assert {quota_user.name, other_user.name} <= set(state["users"])
    report = _report(host)
    assert report["backup"]["last_success"] == state["last_success"]
    assert _row(report, quota_user.name)["last_backup"] == state["last_success"]
    assert f"last success {state['last_success']}" in host.check_output("skyhub-quota report")


def test_hub_database_is_in_the_snapshot(backed_up, quota_user, host):
    snaps = json.loads(host.check_output("skyhub-backup list --json"))
    assert "/var/lib/skyhub/backup/hub-db/jupyterhub.sqlite" in max(snaps, key=lambda s: s["time"])["paths"]
    out = "/root/restored-hub.sqlite"
    host.run(f"rm -f {out}")
    assert host.run(f"skyhub-backup restore-hub-db --to {out}").rc == 0
    names = host.check_output(f"sqlite3 {out} 'SELECT name FROM users'").split()
    assert quota_user.name in names and "admin" in names


def test_one_user_restore_brings_back_their_file_and_touches_no_one_else(
    backed_up, quota_user, other_user, host
):
    home = f"{HOME_ROOT}/{quota_user.name}"
    _ensure_running(quota_user)
    run_code(
        quota_user,
        "import os\n"
        "open(os.path.expanduser('~/results.txt'), 'w').write('oops, overwritten\\n')\n"
        "open(os.path.expanduser('~/after-backup.txt'), 'w').write('new\\n')\n",
    )
    assert _sha(host, f"{home}/results.txt") != backed_up["sha"]
    quota_user.stop()  # docs/storage.md: stop the user's server first

    result = host.run(f"skyhub-backup restore {quota_user.name}")
    assert result.rc == 0, result.stderr
    assert _sha(host, f"{home}/results.txt") == backed_up["sha"]
    assert not host.file(f"{home}/after-backup.txt").exists
    kept = host.check_output(f"ls -d {HOME_ROOT}/.skyhub-before-restore/{quota_user.name}-*").split()
    assert kept and host.file(f"{kept[-1]}/after-backup.txt").content_string == "new\n"
    assert host.file(home).uid == 1000
    assert _tree(host, f"{HOME_ROOT}/{other_user.name}") == backed_up["other_tree"]

    # and the user sees it from their own server
    quota_user.start()
    digest = run_code(
        quota_user,
        "import hashlib, os\n"
        "print(hashlib.sha256(open(os.path.expanduser('~/results.txt'), 'rb').read()).hexdigest())\n",
    )
    assert digest.strip() == backed_up["sha"]
    assert hashlib.sha256(b"measured: 42.0 +- 0.1\n" * 1000).hexdigest() == backed_up["sha"]
