"""Remove what playbooks/aws.yml created for one deployment, found by its `skyhub:deployment` tag.

The home volume (tag `skyhub:volume=home`) is kept unless asked: it holds the users' files and outlives
instances. Returns a report of what was removed and what was kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from skyhub.aws.budget import delete_budget
from skyhub.aws.clients import account_id, client

DEPLOYMENT_TAG = "skyhub:deployment"
VOLUME_TAG = "skyhub:volume"


@dataclass
class Report:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _tag_filter(deployment: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [deployment]}]


def _alarms(cw: Any, names: list[str], report: Report) -> None:
    existing = [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]] if names else []
    if existing:
        cw.delete_alarms(AlarmNames=existing)
        report.removed += [f"alarm {n}" for n in existing]


def _instances(ec2: Any, deployment: str, report: Report) -> None:
    filters = [
        *_tag_filter(deployment),
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ]
    ids = [
        i["InstanceId"]
        for r in ec2.describe_instances(Filters=filters)["Reservations"]
        for i in r["Instances"]
    ]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
        ec2.get_waiter("instance_terminated").wait(
            InstanceIds=ids, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
        report.removed += [f"instance {i}" for i in ids]


def _addresses(ec2: Any, deployment: str, report: Report) -> None:
    for addr in ec2.describe_addresses(Filters=_tag_filter(deployment))["Addresses"]:
        if addr.get("AssociationId"):
            ec2.disassociate_address(AssociationId=addr["AssociationId"])
        ec2.release_address(AllocationId=addr["AllocationId"])
        report.removed.append(f"elastic ip {addr.get('PublicIp', addr['AllocationId'])}")


def _security_groups(ec2: Any, deployment: str, report: Report) -> None:
    for sg in ec2.describe_security_groups(Filters=_tag_filter(deployment))["SecurityGroups"]:
        ec2.delete_security_group(GroupId=sg["GroupId"])
        report.removed.append(f"security group {sg['GroupId']} ({sg['GroupName']})")


def _tagged_roles(iam: Any, deployment: str) -> list[str]:
    names = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
            if {"Key": DEPLOYMENT_TAG, "Value": deployment} in tags:
                names.append(role["RoleName"])
    return names


def _roles(iam: Any, deployment: str, report: Report) -> None:
    for name in _tagged_roles(iam, deployment):
        for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=name
            )
            iam.delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
            report.removed.append(f"instance profile {profile['InstanceProfileName']}")
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
        report.removed.append(f"iam role {name}")


def _volumes(ec2: Any, deployment: str, delete_home: bool, report: Report) -> None:
    for vol in ec2.describe_volumes(Filters=_tag_filter(deployment))["Volumes"]:
        tags = {t["Key"]: t["Value"] for t in vol.get("Tags", [])}
        label = f"volume {vol['VolumeId']} ({tags.get(VOLUME_TAG, 'other')}, {vol['Size']} GiB)"
        if tags.get(VOLUME_TAG) == "home" and not delete_home:
            report.kept.append(label)
            continue
        if vol["State"] == "in-use":
            ec2.detach_volume(VolumeId=vol["VolumeId"])
            ec2.get_waiter("volume_available").wait(VolumeIds=[vol["VolumeId"]])
        ec2.delete_volume(VolumeId=vol["VolumeId"])
        report.removed.append(label)


def destroy(
    deployment: str,
    region: str,
    endpoint_url: str = "",
    alarm_names: list[str] | None = None,
    budget_name: str = "",
    delete_home: bool = False,
) -> Report:
    report = Report()
    ec2 = client("ec2", region, endpoint_url)
    _alarms(client("cloudwatch", region, endpoint_url), alarm_names or [], report)
    if budget_name:
        try:
            budgets = client("budgets", "us-east-1", endpoint_url)
            if delete_budget(budgets, account_id(region, endpoint_url), budget_name):
                report.removed.append(f"budget {budget_name}")
        except ClientError as exc:  # a missing budgets permission must not leave the instance running
            report.kept.append(f"budget {budget_name} (not removed: {exc.response['Error']['Code']})")
    _instances(ec2, deployment, report)
    _addresses(ec2, deployment, report)
    _volumes(ec2, deployment, delete_home, report)
    _security_groups(ec2, deployment, report)
    _roles(client("iam", region, endpoint_url), deployment, report)
    return report
