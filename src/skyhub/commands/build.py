"""`skyhub build`: the hub image through Packer (local twin or AMI)."""

from __future__ import annotations

import argparse

from skyhub.build import image


def _build(args: argparse.Namespace) -> int:
    req = image.BuildRequest(
        target=args.target, variables=image.parse_variables(args.var or []), force=args.force
    )
    image.build(req)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="build the hub image with Packer: --target local (Docker twin) or aws (AMI)",
        description="Build the hub image from packer/ and playbooks/site.yml; see docs/packer.md.",
    )
    p.add_argument("--target", choices=["local", "aws"], default="local")
    p.add_argument("--var", action="append", metavar="NAME=VALUE", help="a Packer variable (repeatable)")
    p.add_argument("--force", action="store_true", help="rebuild even if the local image is up to date")
    p.set_defaults(func=_build)
