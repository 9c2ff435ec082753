"""`skyhub aws policy`: show the instance role's IAM policy for an inventory's dataset/backup settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from skyhub.aws.policy import render_instance_policy
from skyhub.errors import SkyhubError


def _load_vars(inventory: Path) -> dict:
    files = [inventory] if inventory.is_file() else sorted((inventory / "group_vars").glob("**/*.yml"))
    if not files:
        raise SkyhubError(
            f"{inventory}: no group_vars/*.yml found (give an inventory directory or a vars file)"
        )
    merged: dict = {}
    for path in files:
        merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def _policy(args: argparse.Namespace) -> int:
    v = _load_vars(Path(args.inventory))
    doc = render_instance_policy(
        v.get("dataset_mount_datasets", []),
        bool(v.get("backups_enabled", False)),
        str(v.get("backups_s3_bucket", "")),
        str(v.get("backups_s3_prefix", "skyhub/")),
        str(v.get("backups_s3_endpoint", "")),
    )
    print(json.dumps(doc, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    aws = subparsers.add_parser("aws", help="AWS deployment helpers (see docs/aws.md)")
    sub = aws.add_subparsers(dest="aws_command", required=True, metavar="SUBCOMMAND")
    pol = sub.add_parser("policy", help="print the instance role's IAM policy rendered from an inventory")
    pol.add_argument("inventory", help="inventory directory (reads group_vars/*.yml) or a vars file")
    pol.set_defaults(func=_policy)
