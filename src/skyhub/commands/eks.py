"""`skyhub eks plan`: what each hub setting becomes on EKS (Zero to JupyterHub), and what is not carried."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from skyhub.eks import Z2JH_CHART_VERSION, values
from skyhub.eks.inventory import load_vars
from skyhub.errors import SkyhubError


def _short(value: Any, width: int = 48) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(rendered: values.Rendered) -> str:
    rows = [("STATUS", "HUB SETTING", "VM VALUE", "EKS (Z2JH values)", "EKS VALUE")]
    for e in rendered.report:
        rows.append((e.status, e.setting, _short(e.hub_value), e.eks_key or "-", _short(e.eks_value)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    loud = rendered.entries(values.NOT_CARRIED)
    changed = rendered.entries(values.CHANGED)
    lines.append("")
    lines.append(f"Zero to JupyterHub chart {Z2JH_CHART_VERSION}")
    if changed:
        lines.append(f"CHANGED MEANING ({len(changed)}):")
        lines += [f"  ~ {e.setting}: {e.note}" for e in changed]
    if loud:
        lines.append(f"!!! NOT CARRIED TO EKS ({len(loud)}) — these settings have no equivalent:")
        lines += [f"  ! {e.setting} = {_short(e.hub_value)}: {e.note}" for e in loud]
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> int:
    hub_vars = load_vars(args.inventory)
    try:
        rendered = values.render(hub_vars)
    except (ValueError, KeyError, TypeError) as exc:
        raise SkyhubError(f"cannot render EKS values from {args.inventory}: {exc}") from exc
    if args.values:
        with open(args.values, "w") as fh:
            yaml.safe_dump(rendered.values, fh, sort_keys=False)
    print(format_report(rendered))
    sys.stdout.flush()
    if args.strict and rendered.entries(values.NOT_CARRIED):
        return 3
    return 0


def _token(args: argparse.Namespace) -> int:
    """kubectl exec credential plugin output (kubeconfig `exec`), so no aws CLI is needed."""
    from skyhub.eks.infra import eks_token

    token = eks_token(args.cluster, args.region)
    print(
        json.dumps(
            {
                "kind": "ExecCredential",
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "spec": {},
                "status": {"token": token},
            }
        )
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    eks = subparsers.add_parser("eks", help="scale out to EKS with Zero to JupyterHub")
    sub = eks.add_subparsers(dest="eks_command", required=True, metavar="ACTION")
    plan = sub.add_parser("plan", help="parity report: each hub setting and what it becomes on EKS")
    plan.add_argument("-i", "--inventory", required=True, help="inventory directory or vars file")
    plan.add_argument("--values", help="also write the rendered Z2JH values to this file")
    plan.add_argument("--strict", action="store_true", help="exit 3 when a setting is not carried")
    plan.set_defaults(func=_plan)
    token = sub.add_parser("token", help="EKS bearer token for kubectl (used by the generated kubeconfig)")
    token.add_argument("--cluster", required=True)
    token.add_argument("--region", required=True)
    token.set_defaults(func=_token)
