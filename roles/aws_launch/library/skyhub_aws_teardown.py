#!/usr/bin/python
"""Ansible module: remove a skyhub AWS deployment found by its tags (skyhub.aws.teardown)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: skyhub_aws_teardown
short_description: Remove a deployment created by playbooks/aws.yml, keeping the home volume unless told
description:
  - Finds resources by the tag skyhub:deployment=<deployment> (instance, Elastic IP, volumes, security group,
    IAM role and instance profile) plus the named alarms and budget, removes them and reports each.
  - Runs on the controller with the skyhub virtualenv (boto3).
options:
  deployment: {description: Deployment name (aws_launch_name)., type: str, required: true}
  region: {description: AWS region., type: str, required: true}
  endpoint_url: {description: API endpoint ("" = AWS)., type: str, default: ""}
  alarm_names: {description: CloudWatch alarms to delete., type: list, elements: str, default: []}
  budget_name: {description: Budget to delete ("" = none)., type: str, default: ""}
  delete_home: {description: Also delete the home volume., type: bool, default: false}
"""

RETURN = r"""
removed: {description: What was removed., type: list, returned: always}
kept: {description: What was kept (the home volume unless delete_home)., type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from botocore.exceptions import BotoCoreError, ClientError

    from skyhub.aws import teardown

    HAS_SKYHUB = True
except ImportError:  # pragma: no cover - reported to the user below
    HAS_SKYHUB = False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "deployment": {"type": "str", "required": True},
            "region": {"type": "str", "required": True},
            "endpoint_url": {"type": "str", "default": ""},
            "alarm_names": {"type": "list", "elements": "str", "default": []},
            "budget_name": {"type": "str", "default": ""},
            "delete_home": {"type": "bool", "default": False},
        },
        supports_check_mode=False,
    )
    if not HAS_SKYHUB:
        module.fail_json(msg="the skyhub package (and boto3) must be importable by the controller's Python")
    p = module.params
    try:
        report = teardown.destroy(
            p["deployment"],
            p["region"],
            p["endpoint_url"],
            p["alarm_names"],
            p["budget_name"],
            p["delete_home"],
        )
    except (BotoCoreError, ClientError) as exc:
        module.fail_json(msg=f"teardown of {p['deployment']} failed: {exc}")
    module.exit_json(changed=bool(report.removed), removed=report.removed, kept=report.kept)


if __name__ == "__main__":
    main()
