#!/usr/bin/python3
"""Write the seccomp profile of user servers: Docker's own default profile, plus one rule.

The rule: no ioctl FS_IOC_FSSETXATTR. With it a file's owner can change the file's XFS project id, and so move
a new file out of their home's quota project and write past the quota (docs/security.md). Everything else is
Docker's default, taken from Debian's package of the engine's source (golang-github-docker-docker-dev, the
same version as docker.io when it is installed), never copied into skyhub.

How the rule is made: Docker's default allows ioctl unconditionally, and libseccomp lets an unconditional
allow win over a conditional refusal, so ioctl leaves the allow list and comes back as 32 allow rules, one per
bit of the request number: "bit i differs from FS_IOC_FSSETXATTR's bit i". Their union is "the low 32 bits
differ", so every other request passes, and FS_IOC_FSSETXATTR gets the profile's default action (EPERM) even
with bits set above the 32 the kernel reads (a "not equal" rule would let 0x1_401c5820 through).

Usage: skyhub-seccomp-profile --out /etc/skyhub/seccomp-user-servers.json
Prints "changed" or "unchanged"; exit 1 with the reason on any error (the file is then left as it was).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FS_IOC_FSSETXATTR = 0x401C5820
PACKAGE = "golang-github-docker-docker-dev"
MEMBER_SUFFIX = "/github.com/docker/docker/profiles/seccomp/default.json"


class ProfileError(Exception):
    pass


def with_rule(default: dict, request: int = FS_IOC_FSSETXATTR) -> dict:
    """Docker's default profile with ioctl `request` refused (see the module's docstring)."""
    profile = copy.deepcopy(default)
    if profile.get("defaultAction") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"):
        raise ProfileError(
            f"the default profile's defaultAction is {profile.get('defaultAction')!r}, not a refusal"
        )
    for rule in profile.get("syscalls", []):
        unconditional = not rule.get("args") and not rule.get("includes") and not rule.get("excludes")
        if "ioctl" in rule.get("names", []) and rule.get("action") == "SCMP_ACT_ALLOW" and unconditional:
            rule["names"] = [name for name in rule["names"] if name != "ioctl"]
            break
    else:
        raise ProfileError("the default profile has no unconditional ioctl rule: its format changed")
    for bit in range(32):
        mask = 1 << bit
        profile["syscalls"].append(
            {
                "names": ["ioctl"],
                "action": "SCMP_ACT_ALLOW",
                "args": [
                    {"index": 1, "value": mask, "valueTwo": ~request & mask, "op": "SCMP_CMP_MASKED_EQ"}
                ],
            }
        )
    return profile


def default_from_deb(deb: Path) -> dict:
    """Docker's default.json from the package file."""
    tar_bytes = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(MEMBER_SUFFIX):
                return json.load(tar.extractfile(member))
    raise ProfileError(f"{deb.name} holds no {MEMBER_SUFFIX.lstrip('/')}")


def engine_version() -> str | None:
    """The source version of the installed docker.io (a binary rebuild, 20.10.24+dfsg1-1+deb12u1+b6, comes
    from source 20.10.24+dfsg1-1+deb12u1: the version the source's other packages carry)."""
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${source:Version}", "docker.io"], capture_output=True, text=True, check=False
    )
    return res.stdout.strip() if res.returncode == 0 and res.stdout.strip() else None


def download(cache: Path) -> Path:
    """Debian's package of the engine's source: the installed docker.io's source version when there is one,
    else the version apt would install."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    version = engine_version()
    pattern = f"{PACKAGE}_{version.replace(':', '%3a')}_*.deb" if version else f"{PACKAGE}_*.deb"
    have = sorted(cache.glob(pattern))
    if have:
        return have[-1]
    wanted = f"{PACKAGE}={version}" if version else PACKAGE
    res = subprocess.run(["apt-get", "download", "-q", wanted], cwd=cache, capture_output=True, text=True)
    if res.returncode != 0:
        raise ProfileError(f"apt-get download {wanted} failed: {res.stderr.strip()[-500:]}")
    have = sorted(cache.glob(pattern))
    if not have:
        raise ProfileError(f"apt-get download {wanted} left no {pattern} in {cache}")
    return have[-1]


def write_if_changed(out: Path, profile: dict) -> bool:
    text = json.dumps(profile, indent=1, sort_keys=True) + "\n"
    if out.is_file() and out.read_text() == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyhub-seccomp-profile", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="the profile to write")
    parser.add_argument("--cache", type=Path, default=Path("/var/cache/skyhub/seccomp"), help="package cache")
    parser.add_argument("--deb", type=Path, help="use this package file instead of downloading one")
    args = parser.parse_args(argv)
    try:
        deb = args.deb or download(args.cache)
        changed = write_if_changed(args.out, with_rule(default_from_deb(deb)))
    except (
        ProfileError,
        OSError,
        subprocess.CalledProcessError,
        json.JSONDecodeError,
        tarfile.TarError,
    ) as exc:
        print(f"skyhub-seccomp-profile: error: {exc}", file=sys.stderr)
        return 1
    print("changed" if changed else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
