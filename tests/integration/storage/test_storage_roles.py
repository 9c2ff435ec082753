"""The quotas and backups roles as site.yml runs them, on a fresh systemd container of the test-host image:
with no storage settings at all they converge (backups installed but off) and a second run changes nothing;
bad settings stop in preflight, naming the variable, before anything on the host changed (`docker diff`),
without printing the password."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_OWN = re.compile(r"^/(root/\.ansible|tmp|root|run)(/|$)")
SYSTEMD_FLAGS = [
    "--cgroupns=host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--stop-signal",
    "SIGRTMIN+3",
]


def _host_image() -> str:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/skyhub"), "base-image", "host", "--print-ref"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def plain_host():
    """A fresh systemd host: no storage settings, no hub."""
    name = f"skyhub-storage-roles-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, *SYSTEMD_FLAGS, _host_image(), "/sbin/init"],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True
        ).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _play(host: str, tmp_path: Path, variables: dict, roles: tuple[str, ...] = ("quotas", "backups")):
    playbook = tmp_path / "play.yml"
    listed = "".join(f"\n    - role: {role}" for role in roles)
    playbook.write_text(
        textwrap.dedent(
            """\
            ---
            - name: Storage roles as in site.yml
              hosts: all
              become: true
              gather_facts: true
              roles:"""
        )
        + listed
        + "\n"
    )
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{host},", "-c", "community.docker.docker"]
    proc = subprocess.run(
        [*cmd, "-e", f"@{extra}", str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _changed_paths(host: str) -> list[str]:
    diff = subprocess.run(["docker", "diff", host], capture_output=True, text=True, check=True)
    paths = [line.split(maxsplit=1)[1] for line in diff.stdout.splitlines() if line.strip()]
    return [p for p in paths if not ANSIBLE_OWN.match(p)]


def _exec(host: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", host, *cmd], capture_output=True, text=True)


SECRET = "not-printed-7f3a"  # a password that must never appear in the output
BAD = [  # (role, settings, text the message must contain)
    ("backups", {"backups_enabled": True, "backups_s3_bucket": "ok-bucket"}, "backups_password"),
    ("backups", {"backups_enabled": True, "backups_password": SECRET}, "backups_s3_bucket"),
    (
        "backups",
        {"backups_enabled": True, "backups_s3_bucket": "Bad_Bucket", "backups_password": SECRET},
        'backups_s3_bucket to a valid S3 bucket name (lower case, 3-63 characters; got "Bad_Bucket")',
    ),
    (
        "backups",
        {"backups_enabled": True, "backups_s3_bucket": "ok-bucket", "backups_password": "short"},
        "backups_password to a secret of at least 8",
    ),
    (
        "backups",
        {
            "backups_enabled": True,
            "backups_s3_bucket": "ok-bucket",
            "backups_password": SECRET,
            "backups_aws_access_key_id": "AKIDONLY",
        },
        "backups_aws_secret_access_key",
    ),
    (
        "backups",
        {"backups_keep_daily": 0, "backups_keep_weekly": 0, "backups_keep_monthly": 0},
        "backups_keep_daily",
    ),
    ("backups", {"backups_max_file_size": "ten gigs"}, "backups_max_file_size must be a whole number"),
    (
        "backups",
        {"backups_timeout": "forever"},
        'backups_timeout a systemd time span like "6h" (got "forever")',
    ),
    ("quotas", {"tljh_container_uid": 0}, "the container user, which must not be root"),
    ("quotas", {"quotas_default_size": "5 lots"}, "quotas_default_size"),
    ("quotas", {"quotas_warn_percent": 150}, "quotas_warn_percent must be 1..100 (got 150)"),
    ("quotas", {"quotas_format_device": True}, "quotas_format_device needs quotas_device"),
    ("quotas", {"quotas_apply_every": "often"}, "quotas_apply_every must be a systemd time span"),
]


@pytest.mark.parametrize(("role", "variables", "named"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_storage_settings_stop_before_any_change(plain_host, tmp_path, role, variables, named):
    # runs first (module order), before the converge below; systemd's own boot-time writes are the baseline
    before = set(_changed_paths(plain_host))
    rc, out = _play(plain_host, tmp_path, variables, roles=(role,))
    assert rc != 0, out[-2000:]
    assert named in out, out[-2000:]
    assert SECRET not in out
    assert set(_changed_paths(plain_host)) - before == set(), "preflight failed but the host changed"


def test_plain_host_without_storage_settings_converges_with_backups_off(plain_host, tmp_path):
    rc, out = _play(plain_host, tmp_path, {})
    assert rc == 0, out[-3000:]
    rc, out = _play(plain_host, tmp_path, {})
    assert rc == 0 and re.search(r"changed=0\s", out), out[-3000:]  # idempotent
    assert _exec(plain_host, "systemctl", "is-enabled", "skyhub-backup.timer").stdout.strip() == "disabled"
    assert _exec(plain_host, "systemctl", "is-enabled", "skyhub-quota-apply.path").stdout.strip() == "enabled"
    assert _exec(plain_host, "test", "-e", "/etc/skyhub/backup.password").returncode != 0  # no empty secret
    # the tools are there and honest: backups are not configured, quotas not enforced here (overlay)
    status = _exec(plain_host, "skyhub-backup", "status")
    assert status.returncode == 2 and "no repository set (backups_s3_bucket" in status.stderr
    report = json.loads(_exec(plain_host, "skyhub-quota", "report", "--json").stdout)
    assert report["enforced"] is False and report["enforcement"]["fix"]


def test_installed_tools_write_the_notice_as_the_user(plain_host, tmp_path):
    """The deployed skyhub-quota (system python3 + /usr/local/lib/skyhub/skyhub_safehome.py) against a home
    whose QUOTA-WARNING.txt is a symlink to /etc/shadow: the notice replaces the link, shadow is unchanged."""
    rc, out = _play(plain_host, tmp_path, {})
    assert rc == 0, out[-3000:]
    lib = _exec(plain_host, "stat", "-c", "%U %a", "/usr/local/lib/skyhub/skyhub_safehome.py").stdout.split()
    assert lib == ["root", "644"]
    shadow = "stat -c '%U %G %a %s %Y' /etc/shadow; sha256sum /etc/shadow"
    before = _exec(plain_host, "sh", "-c", shadow).stdout
    home = "/srv/skyhub/home/-41nn-2e-4cee"  # the hub's home of the login name "Ann.Lee"
    setup = (
        f"mkdir -p {home} && head -c 1000000 /dev/urandom > {home}/big.bin && "
        f"ln -s /etc/shadow {home}/QUOTA-WARNING.txt && chown -R 1000:100 {home}"
    )
    assert _exec(plain_host, "sh", "-c", setup).returncode == 0
    res = _exec(plain_host, "skyhub-quota", "set", "Ann.Lee", "1M")
    assert res.returncode == 3, res.stdout + res.stderr  # recorded; not enforced on this overlay host
    assert _exec(plain_host, "sh", "-c", shadow).stdout == before
    notice = _exec(plain_host, "stat", "-c", "%F %u", f"{home}/QUOTA-WARNING.txt").stdout.strip()
    assert notice == "regular file 1000"
    report = json.loads(_exec(plain_host, "skyhub-quota", "report", "--json").stdout)
    row = next(r for r in report["users"] if r["home_dir"] == "-41nn-2e-4cee")
    assert row["user"] == "Ann.Lee" and row["warn"] is True
