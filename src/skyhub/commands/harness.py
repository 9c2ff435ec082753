"""Controller-side harness commands: the Docker engine and the locally built base images."""

from __future__ import annotations

import argparse

from skyhub import baseimage, engine


def _engine(args: argparse.Namespace) -> int:
    state = engine.ensure_engine()
    if state != "running" or args.verbose:
        print(f"skyhub: docker engine {state}")
    return 0


def _base_image(args: argparse.Namespace) -> int:
    engine.ensure_engine()
    names = args.names or sorted(baseimage.BASES)
    for name in names:
        ref = baseimage.build(baseimage.BASES[name], force=args.force)
        if args.print_ref:
            print(ref)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="ensure a working Docker engine (install/start it if needed)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=_engine)

    p = sub.add_parser("base-image", help="build the local base images if their content key changed")
    p.add_argument(
        "names",
        nargs="*",
        choices=[*sorted(baseimage.BASES), []],
        metavar="NAME",
        help=f"which bases ({', '.join(sorted(baseimage.BASES))}); default all",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    p.add_argument("--print-ref", action="store_true", help="print the image reference(s)")
    p.set_defaults(func=_base_image)
