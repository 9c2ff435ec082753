"""The monitoring role's preflight: bad settings stop the play before any change, with a message naming the
variable. One ansible-playbook run, one local "host" per case (connection local, preflight tag only: nothing
but assertions runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]

CASES: dict[str, tuple[dict, str | None]] = {
    "good": (
        {"monitoring_enabled": True, "monitoring_alert_webhook_urls": ["https://hooks.example.org/x"]},
        None,
    ),
    "port_clash": ({"monitoring_alertmanager_port": 9090}, "three different ports"),
    "bad_duration": ({"monitoring_dataset_down_for": "5 minutes"}, "monitoring_dataset_down_for must be"),
    "bad_span": (
        {"monitoring_collect_every": "30 seconds"},
        "monitoring_collect_every must be a systemd time span",
    ),
    "schedule_unknown": ({"backups_schedule": "Mon *-*-* 03:00"}, "set monitoring_backup_interval"),
    "email_no_relay": ({"monitoring_alert_email_to": ["ops@example.org"]}, "monitoring_smtp_smarthost"),
    "bad_webhook": (
        {"monitoring_alert_webhook_urls": ["hooks.example.org"]},
        "monitoring_alert_webhook_urls must be",
    ),
    "bad_percent": ({"monitoring_disk_percent": 120}, "monitoring_disk_percent must be a percentage"),
    "relative_mount": ({"monitoring_disk_mountpoints": ["srv/home"]}, "monitoring_disk_mountpoints"),
}


def test_bad_settings_stop_in_preflight_naming_the_variable(tmp_path: Path) -> None:
    inventory = {
        "all": {
            "hosts": {
                name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **extra}
                for name, (extra, _) in CASES.items()
            }
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [{role: monitoring}]\n")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    res = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventory.yml", "play.yml",
         "--tags", "monitoring_preflight"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    out = json.loads(res.stdout[res.stdout.index("{") :])
    stats = out["stats"]
    messages: dict[str, str] = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed"):
                    messages[host] = result.get("msg", "")
                    for item in result.get("results", []):
                        if item.get("failed"):
                            messages[host] = item.get("msg", "")
    for name, (_, expected) in CASES.items():
        if expected is None:
            assert stats[name]["failures"] == 0, messages.get(name)
        else:
            assert stats[name]["failures"] == 1, f"{name}: passed preflight"
            assert expected in messages[name], f"{name}: {messages[name]}"
            assert stats[name]["changed"] == 0
