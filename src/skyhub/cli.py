"""The `skyhub` command. Each area registers its own subcommands (see COMMAND_MODULES)."""

from __future__ import annotations

import argparse
import importlib
import sys

from skyhub.errors import SkyhubError

# Modules that define `register(subparsers)`; each adds its subcommands with set_defaults(func=...).
COMMAND_MODULES: tuple[str, ...] = (
    "skyhub.commands.harness",
    "skyhub.commands.dataset",
    "skyhub.commands.eks",
    "skyhub.commands.build",
    "skyhub.commands.aws",
    "skyhub.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyhub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SkyhubError as exc:
        print(f"skyhub: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("skyhub: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
