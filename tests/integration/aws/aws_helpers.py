"""Run the AWS playbooks against the moto server and read what they left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import requests

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
INVENTORY = Path(__file__).resolve().parent / "inventory"
REGION = "us-east-1"
DEPLOYMENT = "skyhub-it"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def run_playbook(
    playbook: str, extra: dict[str, Any], tmp_path: Path, *args: str
) -> subprocess.CompletedProcess:
    extra_file = tmp_path / f"extra-{playbook}.json"
    extra_file.write_text(json.dumps(extra))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }
    cmd = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(INVENTORY),
        f"playbooks/{playbook}",
        "-e",
        f"@{extra_file}",
        *args,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def recap(out: str) -> dict[str, int]:
    m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert m, out
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()), strict=True))


def tagged_resources(endpoint: str) -> dict[str, list[str]]:
    """Everything carrying skyhub:deployment=<DEPLOYMENT>, per kind (plus the budget and alarms by name)."""
    ec2, iam = client("ec2", endpoint), client("iam", endpoint)
    flt = [{"Name": "tag:skyhub:deployment", "Values": [DEPLOYMENT]}]
    live = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    roles = [
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        if {"Key": "skyhub:deployment", "Value": DEPLOYMENT}
        in iam.list_role_tags(RoleName=r["RoleName"])["Tags"]
    ]
    return {
        "instances": [
            i["InstanceId"]
            for r in ec2.describe_instances(Filters=flt + live)["Reservations"]
            for i in r["Instances"]
        ],
        "volumes": [v["VolumeId"] for v in ec2.describe_volumes(Filters=flt)["Volumes"]],
        "addresses": [a["AllocationId"] for a in ec2.describe_addresses(Filters=flt)["Addresses"]],
        "security_groups": [
            g["GroupId"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]
        ],
        "roles": roles,
        "instance_profiles": [
            p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]
        ],
        "alarms": [a["AlarmName"] for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]],
        "budgets": [
            b["BudgetName"]
            for b in client("budgets", endpoint).describe_budgets(AccountId="123456789012").get("Budgets", [])
        ],
    }


def moto_budget_subscribers(endpoint: str) -> list[tuple[tuple[str, float], list[dict[str, str]]]]:
    """Budget notifications with their subscribers, from moto's state dump: moto stores subscribers but does
    not implement DescribeSubscribersForNotification."""
    state = requests.get(f"{endpoint}/moto-api/data.json", timeout=10).json()
    return [
        ((n["details"]["NotificationType"], float(n["details"]["Threshold"])), n["subscribers"])
        for n in state["budgets"]["Notification"]
    ]
