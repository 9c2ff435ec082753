"""playbooks/aws.yml and aws-destroy.yml run for real (ansible-playbook) against a moto server over HTTP."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from aws_helpers import (
    DEPLOYMENT,
    ROOT,
    VENV_BIN,
    client,
    moto_budget_subscribers,
    recap,
    run_playbook,
    tagged_resources,
)

from skyhub.aws.policy import allowed_pairs

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
SECRET = "it-secret-5f0c1d"  # tljh_oidc_client_secret in the test inventory


def _instance(endpoint: str) -> dict:
    ec2 = client("ec2", endpoint)
    flt = [{"Name": "tag:skyhub:deployment", "Values": [DEPLOYMENT]}]
    (res,) = ec2.describe_instances(Filters=flt)["Reservations"]
    (inst,) = res["Instances"]
    return inst


def _check_instance(endpoint: str, ami: str) -> dict:
    inst = _instance(endpoint)
    assert inst["ImageId"] == ami and inst["InstanceType"] == "t3.large"
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert inst["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert inst["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert inst["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{DEPLOYMENT}-instance")
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags == {
        "Name": DEPLOYMENT,
        "project": "skyhub",
        "owner": "astro-it",
        "skyhub:deployment": DEPLOYMENT,
    }
    return inst


def _user_data(endpoint: str, inst: dict) -> dict:
    """The instance's user-data as EC2 hands it to cloud-init (DescribeInstanceAttribute userData)."""
    attr = client("ec2", endpoint).describe_instance_attribute(
        InstanceId=inst["InstanceId"], Attribute="userData"
    )
    text = base64.b64decode(attr["UserData"]["Value"]).decode()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def _check_user_data(endpoint: str, inst: dict) -> None:
    """The inventory's hub settings (test inventory: OIDC, two admins, HTTPS) are in the `skyhub:` mapping
    skyhub-first-boot reads, under the keys it takes."""
    data = _user_data(endpoint, inst)
    assert data["skyhub"] == {
        "authenticator": "oidc",
        "admins": ["ann", "bob"],
        "oidc": {
            "client_id": "skyhub-it",
            "client_secret": SECRET,
            "authorize_url": "https://login.example.org/oauth2/authorize",
            "token_url": "https://login.example.org/oauth2/token",
            "userdata_url": "https://login.example.org/oauth2/userinfo",
            "username_claim": "preferred_username",  # the tljh role's defaults come along
            "scopes": ["openid", "profile", "email"],
            "allowed_users": [],
            "allowed_groups": ["astro"],
            "groups_claim": "groups",
        },
        "https": {"domains": ["hub.example.org"], "email": "ops@example.org"},
    }
    (facts,) = [f for f in data["write_files"] if f["path"] == "/etc/skyhub/instance-settings.json"]
    assert json.loads(facts["content"])["deployment"] == DEPLOYMENT


def _check_security_group(endpoint: str, inst: dict) -> None:
    ec2 = client("ec2", endpoint)
    (sg,) = ec2.describe_security_groups(GroupIds=[g["GroupId"] for g in inst["SecurityGroups"]])[
        "SecurityGroups"
    ]
    got = set()
    for perm in sg["IpPermissions"]:
        assert perm["IpProtocol"] == "tcp" and perm["FromPort"] == perm["ToPort"]
        got |= {(perm["FromPort"], r["CidrIp"]) for r in perm.get("IpRanges", [])}
        got |= {(perm["FromPort"], r["CidrIpv6"]) for r in perm.get("Ipv6Ranges", [])}
    assert got == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0"), (22, "203.0.113.7/32"), (22, "2001:db8::/64")}


def _check_iam(endpoint: str) -> None:
    iam = client("iam", endpoint)
    role = f"{DEPLOYMENT}-instance"
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["skyhub-s3"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    doc = iam.get_role_policy(RoleName=role, PolicyName="skyhub-s3")["PolicyDocument"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    assert allowed_pairs(doc) == {
        ("s3:ListBucket", "arn:aws:s3:::stpubdata"),
        ("s3:GetObject", "arn:aws:s3:::stpubdata/hst/public/*"),
        ("s3:ListBucket", "arn:aws:s3:::example-edu-survey"),
        ("s3:GetObject", "arn:aws:s3:::example-edu-survey/*"),
        ("s3:ListBucket", "arn:aws:s3:::example-skyhub-backups"),
        ("s3:GetBucketLocation", "arn:aws:s3:::example-skyhub-backups"),
        ("s3:GetObject", "arn:aws:s3:::example-skyhub-backups/skyhub/*"),
        ("s3:PutObject", "arn:aws:s3:::example-skyhub-backups/skyhub/*"),
        ("s3:DeleteObject", "arn:aws:s3:::example-skyhub-backups/skyhub/*"),
    }  # the local twin (own endpoint) gets nothing
    conditions = {
        s["Resource"]: s.get("Condition") for s in doc["Statement"] if "s3:ListBucket" in s["Action"]
    }
    assert conditions["arn:aws:s3:::stpubdata"] == {"StringLike": {"s3:prefix": ["hst/public/*"]}}
    assert conditions["arn:aws:s3:::example-skyhub-backups"] == {"StringLike": {"s3:prefix": ["skyhub/*"]}}
    assert conditions["arn:aws:s3:::example-edu-survey"] is None
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def _check_volumes(endpoint: str, inst: dict) -> str:
    ec2 = client("ec2", endpoint)
    flt = [{"Name": "tag:skyhub:volume", "Values": ["home"]}]
    (home,) = ec2.describe_volumes(Filters=flt)["Volumes"]
    assert home["Size"] == 50 and home["VolumeType"] == "gp3" and home["Encrypted"]
    assert home["AvailabilityZone"] == inst["Placement"]["AvailabilityZone"]
    (att,) = home["Attachments"]
    assert (
        att["InstanceId"] == inst["InstanceId"] and att["Device"] == "/dev/sdf" and att["State"] == "attached"
    )
    assert not att.get("DeleteOnTermination", False)  # AttachVolume's default; moto omits the field
    root_ids = [m["Ebs"]["VolumeId"] for m in inst["BlockDeviceMappings"] if m["DeviceName"] != "/dev/sdf"]
    root = ec2.describe_volumes(VolumeIds=root_ids)["Volumes"]
    assert root and all(v["Encrypted"] for v in root)
    (eip,) = ec2.describe_addresses(Filters=[{"Name": "tag:skyhub:deployment", "Values": [DEPLOYMENT]}])[
        "Addresses"
    ]
    assert eip["InstanceId"] == inst["InstanceId"]
    return home["VolumeId"]


def _check_budget(endpoint: str) -> None:
    budgets = client("budgets", endpoint)
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=DEPLOYMENT)["Budget"]
    assert (budget["BudgetType"], budget["TimeUnit"]) == ("COST", "MONTHLY")
    assert float(budget["BudgetLimit"]["Amount"]) == 150 and budget["BudgetLimit"]["Unit"] == "USD"
    notes = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=DEPLOYMENT)[
        "Notifications"
    ]
    assert {(n["NotificationType"], n["Threshold"]) for n in notes} == {
        ("ACTUAL", 50),
        ("ACTUAL", 80),
        ("ACTUAL", 100),
        ("FORECASTED", 100),
    }
    assert {(n["ComparisonOperator"], n["ThresholdType"]) for n in notes} == {("GREATER_THAN", "PERCENTAGE")}
    want = [
        {"SubscriptionType": "EMAIL", "Address": "ops@example.org"},
        {"SubscriptionType": "SNS", "Address": "arn:aws:sns:us-east-1:123456789012:skyhub-cost"},
    ]
    subs = moto_budget_subscribers(endpoint)
    assert len(subs) == 4 and all(s == want for _, s in subs)


def _check_alarm(endpoint: str, inst: dict) -> None:
    (alarm,) = client("cloudwatch", endpoint).describe_alarms(AlarmNames=[f"{DEPLOYMENT}-idle-stop"])[
        "MetricAlarms"
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/EC2",
        "CPUUtilization",
        "Average",
    )
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": inst["InstanceId"]}]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 3
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (300, 6)
    assert alarm["AlarmActions"] == [
        f"arn:aws:swf:us-east-1:{ACCOUNT}:action/actions/AWS_EC2.InstanceId.Stop/1.0"
    ]


def _check_dynamic_inventory(endpoint: str, inst: dict) -> None:
    """inventories/aws/aws_ec2.yml (the file users copy) finds the instance and puts it in the hub group."""
    env = {**os.environ, "AWS_URL": endpoint, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    res = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(ROOT / "inventories/aws/aws_ec2.yml"), "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    inv = json.loads(res.stdout)
    assert inv["hub"]["hosts"] == [inst["InstanceId"]]
    assert inv["skyhub_skyhub_it"]["hosts"] == [inst["InstanceId"]]
    hostvars = inv["_meta"]["hostvars"][inst["InstanceId"]]
    host = hostvars["ansible_host"]
    host = host if isinstance(host, str) else host["__ansible_unsafe"]  # ansible-inventory marks it unsafe
    assert host in (inst.get("PublicIpAddress"), inst["PrivateIpAddress"])


def test_launch_reads_back_is_idempotent_and_tears_down(
    aws_endpoint: str, aws_ami: str, tmp_path: Path
) -> None:
    extra = {"aws_launch_endpoint_url": aws_endpoint, "aws_launch_ami_id": aws_ami}
    first = run_playbook(
        "aws.yml", extra, tmp_path, "-vvv"
    )  # -vvv shows module arguments, user_data included
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] >= 8

    inst = _check_instance(aws_endpoint, aws_ami)
    _check_user_data(aws_endpoint, inst)
    # the instance task is no_log: the client secret in user-data is not in the output (-vvv would show it)
    assert SECRET not in first.stdout + first.stderr
    assert "the output has been hidden" in first.stdout
    _check_security_group(aws_endpoint, inst)
    _check_iam(aws_endpoint)
    home = _check_volumes(aws_endpoint, inst)
    _check_budget(aws_endpoint)
    _check_alarm(aws_endpoint, inst)
    _check_dynamic_inventory(aws_endpoint, inst)

    second = run_playbook("aws.yml", extra, tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout)["changed"] == 0, second.stdout
    assert _instance(aws_endpoint)["InstanceId"] == inst["InstanceId"]

    gone = run_playbook("aws-destroy.yml", extra, tmp_path)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"instance {inst['InstanceId']}" in gone.stdout and "iam role skyhub-it-instance" in gone.stdout
    assert f"kept: volume {home} (home, 50 GiB)" in gone.stdout
    left = tagged_resources(aws_endpoint)
    assert left == {
        "instances": [],
        "volumes": [home],
        "addresses": [],
        "security_groups": [],
        "roles": [],
        "instance_profiles": [],
        "alarms": [],
        "budgets": [],
    }
    (vol,) = client("ec2", aws_endpoint).describe_volumes(VolumeIds=[home])["Volumes"]
    assert vol["State"] == "available"

    # Relaunch: the kept home volume is attached to the new instance (users' files survive replacement).
    again = run_playbook("aws.yml", extra, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    new = _instance_live(aws_endpoint)
    assert new["InstanceId"] != inst["InstanceId"]
    (vol,) = client("ec2", aws_endpoint).describe_volumes(VolumeIds=[home])["Volumes"]
    assert vol["Attachments"][0]["InstanceId"] == new["InstanceId"]

    purge = run_playbook("aws-destroy.yml", {**extra, "aws_launch_destroy_home_volume": True}, tmp_path)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert "kept: nothing" in purge.stdout
    assert not any(tagged_resources(aws_endpoint).values())


def _instance_live(endpoint: str) -> dict:
    flt = [
        {"Name": "tag:skyhub:deployment", "Values": [DEPLOYMENT]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    (res,) = client("ec2", endpoint).describe_instances(Filters=flt)["Reservations"]
    (inst,) = res["Instances"]
    return inst


NOTHING = "Nothing was created."
OPEN_SIGNUP = {"tljh_authenticator": "firstuse", "tljh_firstuse_create_users": True, "tljh_https_domains": []}
BAD_INPUTS = [
    pytest.param(
        {"aws_launch_ssh_cidrs": ["0.0.0.0/0"]},
        ["aws_launch_ssh_cidrs (0.0.0.0/0) covers 0.0.0.0/0", "aws_launch_ssh_allow_anywhere: true", NOTHING],
        id="ssh-from-anywhere",
    ),
    pytest.param(
        {"aws_launch_ssh_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
        ["aws_launch_ssh_cidrs (0.0.0.0/1, 128.0.0.0/1) covers 0.0.0.0/0", NOTHING],
        id="ssh-from-both-halves",
    ),
    pytest.param(
        {"aws_launch_ssh_cidrs": ["203.0.113.7/24"]},
        ["aws_launch_ssh_cidrs: '203.0.113.7/24' is not a CIDR", "the network is 203.0.113.0/24", NOTHING],
        id="ssh-cidr-host-bits",
    ),
    pytest.param(
        {"aws_launch_web_cidrs": ["0.0.0.0/0", "web"]},
        ["aws_launch_web_cidrs: 'web' is not a CIDR", NOTHING],
        id="web-cidr-garbage",
    ),
    pytest.param(
        OPEN_SIGNUP,
        [
            "open sign-up (tljh_authenticator firstuse with tljh_firstuse_create_users: true)",
            "tljh_https_domains",
            "opens to 0.0.0.0/0",
            NOTHING,
        ],
        id="open-signup-world-http",
    ),
    pytest.param(
        {**OPEN_SIGNUP, "aws_launch_web_cidrs": ["0.0.0.0/1", "128.0.0.0/1", "::/0"]},
        ["open sign-up", "opens to 0.0.0.0/0 and ::/0", NOTHING],
        id="open-signup-world-halves-http",
    ),
    pytest.param(
        {"tljh_oidc_token_url": "http://login.example.org/oauth2/token"},
        ['tljh_oidc_token_url is "http://login.example.org/oauth2/token"', "must be https:// URLs"],
        id="oidc-url-not-https",
    ),
    pytest.param(
        {"tljh_spawner_pids_limit": 0},
        ["tljh_spawner_pids_limit a number above 0 (got 0)"],
        id="pids-limit-zero",
    ),
    pytest.param(
        {"tljh_container_uid": 0},
        ["tljh_container_uid / tljh_container_gid not 0 (got 0:100)"],
        id="container-uid-root",
    ),
    pytest.param(
        {"tljh_oidc_client_secert": "x"},
        ["tljh_oidc_client_secert is not a setting of the tljh role (did you mean tljh_oidc_client_secret?)"],
        id="unknown-variable",
    ),
    pytest.param(
        {"cost_guard_notify_emails": [], "cost_guard_notify_sns_topic_arn": ""},
        [
            "the budget has no notification target",
            "cost_guard_notify_emails",
            "cost_guard_notify_sns_topic_arn",
            NOTHING,
        ],
        id="budget-without-target",
    ),
    pytest.param(
        {"aws_launch_instance_type": "t3.enormous"},
        ['aws_launch_instance_type "t3.enormous" is not a valid EC2 instance type name', NOTHING],
        id="bad-instance-type",
    ),
    pytest.param(
        {"backups_s3_bucket": "example-edu-survey"},
        ['backups_s3_bucket "example-edu-survey" is also the bucket of dataset(s) survey', NOTHING],
        id="backup-bucket-is-dataset-bucket",
    ),
]


def _nothing_created(endpoint: str) -> None:
    assert not any(tagged_resources(endpoint).values())
    sgs = client("ec2", endpoint).describe_security_groups()["SecurityGroups"]
    assert {g["GroupName"] for g in sgs} == {"default"}
    assert client("iam", endpoint).list_roles()["Roles"] == []


@pytest.mark.parametrize(("override", "messages"), BAD_INPUTS)
def test_bad_inputs_stop_before_any_api_call(
    aws_endpoint: str, aws_ami: str, tmp_path: Path, override: dict, messages: list[str]
) -> None:
    extra = {"aws_launch_endpoint_url": aws_endpoint, "aws_launch_ami_id": aws_ami, **override}
    res = run_playbook("aws.yml", extra, tmp_path)
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode != 0
    for message in messages:
        assert message in out, out
    assert recap(res.stdout)["failed"] == 1
    _nothing_created(aws_endpoint)


GOOD_PREFLIGHT = [
    pytest.param({**OPEN_SIGNUP, "aws_launch_web_cidrs": ["198.51.100.0/24"]}, id="open-signup-own-network"),
    pytest.param(
        {**OPEN_SIGNUP, "tljh_https_domains": ["hub.example.org"], "aws_launch_web_cidrs": ["0.0.0.0/00"]},
        id="open-signup-https",
    ),
    pytest.param({**OPEN_SIGNUP, "tljh_firstuse_create_users": False}, id="closed-signup-world-http"),
    pytest.param({"aws_launch_ssh_cidrs": ["0.0.0.0/1"]}, id="ssh-half-the-world-is-not-all"),
]


@pytest.mark.parametrize("override", GOOD_PREFLIGHT)
def test_controls_pass_the_preflight(aws_endpoint: str, aws_ami: str, tmp_path: Path, override: dict) -> None:
    """Controls for the refusals above: the same settings one step away pass every check (only the checks
    run: --tags preflight,aws_launch_preflight)."""
    extra = {"aws_launch_endpoint_url": aws_endpoint, "aws_launch_ami_id": aws_ami, **override}
    res = run_playbook("aws.yml", extra, tmp_path, "--tags", "preflight,aws_launch_preflight")
    assert res.returncode == 0, res.stdout + res.stderr
    for check in ("SSH is not open to the world", "no open sign-up on a world-open hub without HTTPS"):
        assert re.search(re.escape(check) + r".*\*+\nok: \[localhost\]", res.stdout), res.stdout
    assert recap(res.stdout)["failed"] == 0 and recap(res.stdout)["ok"] >= 10
    _nothing_created(aws_endpoint)
