#!/usr/bin/env python3
"""Write the Kubernetes manifests that restore each user's home from the VM's restic backups into EKS.

    scripts/migrate_to_eks.py -i inventories/<yours> --users users.txt > restore.yaml
    kubectl apply -f restore.yaml      # after creating the skyhub-restic secret, see docs/migrate-to-eks.md

users.txt: one user per line, optionally followed by their groups ("carol astro-staff astro-students").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from skyhub.eks.inventory import load_vars
from skyhub.eks.migrate import restore_manifests


def read_users(path: Path) -> dict[str, list[str]]:
    users = {}
    for line in path.read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if parts:
            users[parts[0]] = parts[1:]
    return users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-i", "--inventory", required=True, help="inventory directory or vars file of the hub"
    )
    parser.add_argument(
        "--users", required=True, type=Path, help="file: one user per line, then their groups"
    )
    parser.add_argument("--snapshot", default="latest", help="restic snapshot id (default: latest)")
    args = parser.parse_args(argv)
    try:
        docs = restore_manifests(load_vars(args.inventory), read_users(args.users), args.snapshot)
    except ValueError as exc:
        print(f"migrate_to_eks: {exc}", file=sys.stderr)
        return 2
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
