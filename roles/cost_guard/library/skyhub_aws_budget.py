#!/usr/bin/python
"""Ansible module: a monthly AWS cost budget with notifications (skyhub.aws.budget; no upstream module)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: skyhub_aws_budget
short_description: Ensure a monthly AWS cost budget notifying at thresholds of actual/forecasted spend
description:
  - Thin wrapper over C(skyhub.aws.budget) (boto3). Runs on the controller with the skyhub virtualenv.
options:
  name: {description: Budget name., type: str, required: true}
  endpoint_url: {description: API endpoint ("" = AWS)., type: str, default: ""}
  limit_usd: {description: Monthly limit in USD., type: float, required: true}
  actual_thresholds: {description: Percentages of actual spend., type: list, elements: float, default: []}
  forecast_thresholds: {description: Percentages of forecast., type: list, elements: float, default: []}
  emails: {description: E-mail subscribers., type: list, elements: str, default: []}
  sns_topic_arn: {description: SNS subscriber ("" = none)., type: str, default: ""}
  state: {description: present or absent., type: str, choices: [present, absent], default: present}
"""

RETURN = r"""
actions: {description: What changed., type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from botocore.exceptions import BotoCoreError, ClientError

    from skyhub.aws import budget
    from skyhub.aws.clients import account_id, client
    from skyhub.errors import SkyhubError

    HAS_SKYHUB = True
except ImportError:  # pragma: no cover - reported to the user below
    HAS_SKYHUB = False

BUDGETS_REGION = "us-east-1"  # the Budgets API is global and served from us-east-1


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "endpoint_url": {"type": "str", "default": ""},
            "limit_usd": {"type": "float", "required": True},
            "actual_thresholds": {"type": "list", "elements": "float", "default": []},
            "forecast_thresholds": {"type": "list", "elements": "float", "default": []},
            "emails": {"type": "list", "elements": "str", "default": []},
            "sns_topic_arn": {"type": "str", "default": ""},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=False,
    )
    if not HAS_SKYHUB:
        module.fail_json(msg="the skyhub package (and boto3) must be importable by the controller's Python")
    p = module.params
    try:
        api = client("budgets", BUDGETS_REGION, p["endpoint_url"])
        account = account_id(BUDGETS_REGION, p["endpoint_url"])
        if p["state"] == "absent":
            gone = budget.delete_budget(api, account, p["name"])
            module.exit_json(changed=gone, actions=[f"deleted budget {p['name']}"] if gone else [])
        spec = budget.BudgetSpec(
            name=p["name"],
            limit_usd=p["limit_usd"],
            actual_thresholds=p["actual_thresholds"],
            forecast_thresholds=p["forecast_thresholds"],
            emails=p["emails"],
            sns_topic_arn=p["sns_topic_arn"],
        )
        actions, warnings = budget.ensure_budget(api, account, spec)
    except SkyhubError as exc:
        module.fail_json(msg=f"cost_guard: {exc}")
    except (BotoCoreError, ClientError) as exc:
        module.fail_json(msg=f"cost_guard: budget {p['name']}: {exc}")
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=bool(actions), actions=actions)


if __name__ == "__main__":
    main()
