"""`skyhub build`: the hub image through Packer (local twin or AMI)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skyhub import baseimage
from skyhub.build import image, publish, science_cache


def _build(args: argparse.Namespace) -> int:
    req = image.BuildRequest(
        target=args.target,
        variables=image.parse_variables(args.var or []),
        force=args.force,
        publish=publish.PublishOptions(
            public=args.public,
            regions=args.regions,
            deprecate_at=args.deprecate_at,
            allow_dirty=args.allow_dirty,
        ),
        validate_only=args.validate_only,
    )
    image.build(req)
    return 0


def _science_images(args: argparse.Namespace) -> int:
    base = args.base or baseimage.BASES["python"].ref()
    print(science_cache.ensure(base, Path(args.cache_dir)))
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
    ami = p.add_argument_group("publishing the AMI (--target aws; docs/publishing.md)")
    ami.add_argument(
        "--public",
        action="store_true",
        help="launch permission for everyone in every region; the image is not encrypted (AWS cannot share "
        "an encrypted AMI publicly) and gets a deprecation date (default: 365 days)",
    )
    ami.add_argument(
        "--regions",
        metavar="A,B,...",
        help="regions of the AMI: built in the first (for --public: the dataset's region, us-east-1 for "
        "stpubdata), copied to the others (default: aws_region, us-east-1)",
    )
    ami.add_argument(
        "--deprecate-at",
        metavar="DATE",
        help="deprecation date, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC (at most 2 years ahead for --public)",
    )
    ami.add_argument(
        "--allow-dirty",
        action="store_true",
        help="publish from a tree with uncommitted changes (tagged skyhub:git-dirty=true)",
    )
    p.add_argument(
        "--validate-only",
        action="store_true",
        help="check the settings and run `packer validate`; build nothing (needs no AWS credentials)",
    )
    p.set_defaults(func=_build)

    s = subparsers.add_parser(
        "science-images",
        help="build the science images once on this machine and save them as a keyed archive",
        description=(
            "Build images/<name> for science_images_list with the role's Dockerfiles and content keys and "
            "`docker save` them to CACHE_DIR/science-images-<key>.tar (reused while the keys are the same). "
            "Give the path to the science_images role as science_images_prebuilt_archive. Prints the path."
        ),
    )
    s.add_argument("--base", help="base image reference (default: the local python base, skyhub base-image)")
    s.add_argument("--cache-dir", default=str(image.REPO / "build" / "cache"), help="where archives live")
    s.set_defaults(func=_science_images)
