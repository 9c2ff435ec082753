"""The instance role's policy: exactly the dataset reads and the backup prefix, from the shared variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyhub.aws.network import expected_permissions, hub_rules
from skyhub.aws.policy import allowed_pairs, render_instance_policy
from skyhub.cli import main
from skyhub.errors import SkyhubError

HST = {"name": "hst", "bucket": "stpubdata", "prefix": "hst/public/", "endpoint_url": "", "anonymous": True}
SURVEY = {"name": "survey", "bucket": "example-edu-survey", "prefix": "", "endpoint_url": ""}
TWIN = {"name": "twin", "bucket": "local-twin", "prefix": "", "endpoint_url": "http://127.0.0.1:9000"}


def test_datasets_are_read_only_and_scoped_to_their_prefix() -> None:
    doc = render_instance_policy([HST, SURVEY, TWIN])
    assert allowed_pairs(doc) == {
        ("s3:ListBucket", "arn:aws:s3:::stpubdata"),
        ("s3:GetObject", "arn:aws:s3:::stpubdata/hst/public/*"),
        ("s3:ListBucket", "arn:aws:s3:::example-edu-survey"),
        ("s3:GetObject", "arn:aws:s3:::example-edu-survey/*"),
    }
    listing = next(s for s in doc["Statement"] if s["Resource"] == "arn:aws:s3:::stpubdata")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["hst/public/*"]}}


def test_backup_prefix_is_read_write_and_nothing_else() -> None:
    doc = render_instance_policy([HST], True, "example-backups", "skyhub/")
    backup = {p for p in allowed_pairs(doc) if "example-backups" in p[1]}
    assert backup == {
        ("s3:ListBucket", "arn:aws:s3:::example-backups"),
        ("s3:GetBucketLocation", "arn:aws:s3:::example-backups"),
        ("s3:GetObject", "arn:aws:s3:::example-backups/skyhub/*"),
        ("s3:PutObject", "arn:aws:s3:::example-backups/skyhub/*"),
        ("s3:DeleteObject", "arn:aws:s3:::example-backups/skyhub/*"),
    }
    assert not any(a.startswith(("iam:", "ec2:", "s3:*")) for a, _ in allowed_pairs(doc))


def test_backups_disabled_or_elsewhere_get_no_grant() -> None:
    assert allowed_pairs(render_instance_policy([HST], False, "example-backups", "skyhub/")) == allowed_pairs(
        render_instance_policy([HST])
    )
    off_aws = render_instance_policy([HST], True, "minio-backups", "skyhub/", "http://127.0.0.1:9000")
    assert not any("minio-backups" in r for _, r in allowed_pairs(off_aws))


def test_nothing_to_grant_is_a_valid_deny() -> None:
    doc = render_instance_policy([TWIN])
    assert allowed_pairs(doc) == set()
    assert doc["Statement"] == [
        {"Sid": "NothingGranted", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    ]


def test_same_input_same_json() -> None:
    a = json.dumps(render_instance_policy([HST, SURVEY], True, "b-backups", "x/"))
    b = json.dumps(render_instance_policy([SURVEY, HST, HST], True, "b-backups", "x/"))
    assert a == b


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ([HST, SURVEY], True, "example-edu-survey", "skyhub/"),
            "backups_s3_bucket: 'example-edu-survey' is also",
        ),
        (([{**HST, "bucket": "Bad_Bucket"}],), "dataset_mount_datasets[0].bucket"),
        (([{**HST, "prefix": "hst"}],), "dataset_mount_datasets[0].prefix"),
        (([HST], True, "ok-bucket", "/abs/"), "backups_s3_prefix"),
    ],
)
def test_bad_inputs_name_the_variable(args: tuple, message: str) -> None:
    with pytest.raises(SkyhubError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render_instance_policy(*args)


def test_security_group_rules() -> None:
    rules = hub_rules(["0.0.0.0/0"], ["203.0.113.7/32", "2001:db8::/64"])
    assert rules == [
        {"proto": "tcp", "ports": [80, 443], "cidr_ip": ["0.0.0.0/0"], "rule_desc": "skyhub web"},
        {"proto": "tcp", "ports": [22], "cidr_ip": ["203.0.113.7/32"], "rule_desc": "skyhub admin ssh"},
        {"proto": "tcp", "ports": [22], "cidr_ipv6": ["2001:db8::/64"], "rule_desc": "skyhub admin ssh"},
    ]
    assert hub_rules(["0.0.0.0/0"], []) == rules[:1]  # no SSH at all by default
    assert (22, "0.0.0.0/0") not in expected_permissions(["0.0.0.0/0"], ["203.0.113.7/32"])


def test_cli_prints_the_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        "dataset_mount_datasets:\n  - {name: hst, bucket: stpubdata, prefix: hst/public/, endpoint_url: ''}\n"
    )
    assert main(["aws", "policy", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert allowed_pairs(doc) == {
        ("s3:ListBucket", "arn:aws:s3:::stpubdata"),
        ("s3:GetObject", "arn:aws:s3:::stpubdata/hst/public/*"),
    }
    assert main(["aws", "policy", str(tmp_path / "missing")]) == 2
