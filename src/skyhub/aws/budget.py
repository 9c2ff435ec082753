"""A monthly cost budget with notifications at thresholds of actual and forecasted spend (ensure/delete).

There is no amazon.aws/community.aws module for AWS Budgets, hence this small boto3 layer. AWS Budgets is a
soft cap: spend data is refreshed a few times a day, so a notification can arrive hours after a threshold
was crossed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from skyhub.errors import SkyhubError


@dataclass
class BudgetSpec:
    name: str
    limit_usd: float
    actual_thresholds: list[float] = field(default_factory=list)
    forecast_thresholds: list[float] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    sns_topic_arn: str = ""

    def validate(self) -> None:
        if not self.emails and not self.sns_topic_arn:
            raise SkyhubError(
                "cost_guard_notify_emails / cost_guard_notify_sns_topic_arn: a budget needs a notification "
                "target (an email address or an SNS topic ARN)"
            )
        if self.limit_usd <= 0:
            raise SkyhubError("cost_guard_budget_limit_usd must be a positive amount of USD")
        if not (self.actual_thresholds or self.forecast_thresholds):
            raise SkyhubError("cost_guard_budget_actual_thresholds / _forecast_thresholds: give at least one")


def notifications(spec: BudgetSpec) -> list[dict[str, Any]]:
    out = []
    for kind, values in (("ACTUAL", spec.actual_thresholds), ("FORECASTED", spec.forecast_thresholds)):
        for value in sorted(set(values)):
            out.append(
                {
                    "NotificationType": kind,
                    "ComparisonOperator": "GREATER_THAN",
                    "Threshold": float(value),
                    "ThresholdType": "PERCENTAGE",
                }
            )
    return out


def subscribers(spec: BudgetSpec) -> list[dict[str, str]]:
    subs = [{"SubscriptionType": "EMAIL", "Address": a} for a in spec.emails]
    if spec.sns_topic_arn:
        subs.append({"SubscriptionType": "SNS", "Address": spec.sns_topic_arn})
    return subs


def _key(n: dict[str, Any]) -> tuple[str, float]:
    return (n["NotificationType"], float(n["Threshold"]))


def _budget_body(spec: BudgetSpec) -> dict[str, Any]:
    return {
        "BudgetName": spec.name,
        "BudgetLimit": {"Amount": str(Decimal(str(spec.limit_usd)).normalize()), "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }


def _describe(client: Any, account: str, name: str) -> dict[str, Any] | None:
    try:
        return client.describe_budget(AccountId=account, BudgetName=name)["Budget"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NotFoundException", "NotFound"):
            return None
        raise


def _existing_subscribers(client: Any, account: str, name: str, notif: dict) -> list[dict] | None:
    """The notification's subscribers, or None when the endpoint does not implement the call (moto)."""
    try:
        resp = client.describe_subscribers_for_notification(
            AccountId=account, BudgetName=name, Notification=notif
        )
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            return None
        raise
    return [{"SubscriptionType": s["SubscriptionType"], "Address": s["Address"]} for s in resp["Subscribers"]]


def _sync_subscribers(client: Any, account: str, spec: BudgetSpec, notif: dict, actions: list[str]) -> bool:
    """Returns False when subscribers could not be read (then they are left as they are)."""
    have = _existing_subscribers(client, account, spec.name, notif)
    if have is None:
        return False
    want = subscribers(spec)
    for sub in [s for s in want if s not in have]:
        client.create_subscriber(AccountId=account, BudgetName=spec.name, Notification=notif, Subscriber=sub)
        actions.append(f"subscribed {sub['Address']} to {_key(notif)}")
    for sub in [s for s in have if s not in want]:
        client.delete_subscriber(AccountId=account, BudgetName=spec.name, Notification=notif, Subscriber=sub)
        actions.append(f"unsubscribed {sub['Address']} from {_key(notif)}")
    return True


def ensure_budget(client: Any, account: str, spec: BudgetSpec) -> tuple[list[str], list[str]]:
    """Create or update the budget to match `spec`. Returns (actions taken, warnings)."""
    spec.validate()
    actions: list[str] = []
    warnings: list[str] = []
    want = notifications(spec)
    current = _describe(client, account, spec.name)
    if current is None:
        client.create_budget(
            AccountId=account,
            Budget=_budget_body(spec),
            NotificationsWithSubscribers=[
                {"Notification": n, "Subscribers": subscribers(spec)} for n in want
            ],
        )
        return [f"created budget {spec.name}"], warnings
    if Decimal(current["BudgetLimit"]["Amount"]) != Decimal(str(spec.limit_usd)):
        client.update_budget(AccountId=account, NewBudget=_budget_body(spec))
        actions.append(f"limit {current['BudgetLimit']['Amount']} -> {spec.limit_usd} USD")
    have = client.describe_notifications_for_budget(AccountId=account, BudgetName=spec.name)["Notifications"]
    have_keys = {_key(n): n for n in have}
    want_keys = {_key(n): n for n in want}
    for key in sorted(set(have_keys) - set(want_keys)):
        client.delete_notification(AccountId=account, BudgetName=spec.name, Notification=have_keys[key])
        actions.append(f"removed notification {key}")
    for key in sorted(set(want_keys) - set(have_keys)):
        client.create_notification(
            AccountId=account,
            BudgetName=spec.name,
            Notification=want_keys[key],
            Subscribers=subscribers(spec),
        )
        actions.append(f"added notification {key}")
    for key in sorted(set(want_keys) & set(have_keys)):
        if not _sync_subscribers(client, account, spec, have_keys[key], actions):
            warnings.append(
                "this endpoint cannot list budget subscribers; existing subscribers were not compared"
            )
            break
    return actions, warnings


def delete_budget(client: Any, account: str, name: str) -> bool:
    if _describe(client, account, name) is None:
        return False
    client.delete_budget(AccountId=account, BudgetName=name)
    return True
