"""`skyhub demo up|down`: the Packer-built local image booted as a local instance (docs/demo.md)."""

from __future__ import annotations

import argparse


def _up(args: argparse.Namespace) -> int:
    from skyhub import demo

    demo.up()
    return 0


def _down(args: argparse.Namespace) -> int:
    from skyhub import demo

    demo.down()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="the local demo: up (build + boot the image) or down")
    sub = p.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    up = sub.add_parser("up", help="build the image (cached) and start the demo instance; prints the URL")
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="remove the demo instance and its volumes (images stay cached)")
    down.set_defaults(func=_down)
