"""Controller-side harness commands: the Docker engine and the locally built base images."""

from __future__ import annotations

import argparse
import os
import subprocess

from skyhub import baseimage, engine, vendor
from skyhub.errors import SkyhubError


def _engine(args: argparse.Namespace) -> int:
    state = engine.ensure_engine()
    if state != "running" or args.verbose:
        print(f"skyhub: docker engine {state}")
    return 0


def _vendor(args: argparse.Namespace) -> int:
    print(vendor.vendor_path(args.item))
    return 0


def _base_image(args: argparse.Namespace) -> int:
    engine.ensure_engine()
    names = args.names or sorted(baseimage.BASES)
    for name in names:
        ref = baseimage.build(baseimage.BASES[name], force=args.force)
        if args.print_ref:
            print(ref)
    return 0


# Debian packages the test tiers need on the controller, by tier (installed only when missing).
HOST_PACKAGES: dict[str, tuple[str, ...]] = {
    # xfsprogs: the project-quota walk is tested on a real XFS filesystem on a loop device (it skips without)
    "integration": ("s3fs", "fuse", "curl", "xfsprogs"),
    "demo": ("packer", "curl"),
    # Debian's browser, driven by Playwright (its own browser download is not reachable here). A font
    # comes with it: libfontconfig1 -> fontconfig-config depends on fonts-dejavu-core.
    "browser": ("chromium",),
    # the image tier: Packer (Debian's 1.6.6) builds the image; the browser test runs against it; pebble
    # (Let's Encrypt's test ACME server, with pebble-challtestsrv for DNS) issues an instance's certificate
    "image": ("packer", "curl", "chromium", "pebble"),
}


def _missing_packages(names: tuple[str, ...]) -> list[str]:
    missing = []
    for name in names:
        res = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in res.stdout:
            missing.append(name)
    return missing


def _host_deps(args: argparse.Namespace) -> int:
    wanted = tuple(dict.fromkeys(p for tier in args.tiers for p in HOST_PACKAGES.get(tier, ())))
    missing = _missing_packages(wanted)
    if not missing:
        return 0
    if os.geteuid() != 0:
        raise SkyhubError(
            f"missing Debian packages {' '.join(missing)}: run `sudo apt-get install {' '.join(missing)}`"
        )
    print(f"skyhub: installing {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("host-deps", help="install the Debian packages a test tier needs, if missing")
    p.add_argument("tiers", nargs="+", choices=sorted(HOST_PACKAGES), metavar="TIER")
    p.set_defaults(func=_host_deps)

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

    p = sub.add_parser("vendor", help="print the path of a vendored upstream release (SKYHUB_VENDOR_DIR)")
    p.add_argument("item", choices=sorted(vendor.ITEMS), metavar="ITEM", help=", ".join(sorted(vendor.ITEMS)))
    p.set_defaults(func=_vendor)
