#!/usr/bin/env python3
"""requirements.yml against the collections the Ansible content uses and the pinned `ansible` bundle provides.

Fails (naming the collection and the fix) when a collection used in roles/, playbooks/, molecule/,
inventories/ or packer/ is not listed in requirements.yml, when a listed collection is not in the bundle,
or when a listed version is not the bundle's. Run by `make lint`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONTENT = ("roles", "playbooks", "molecule", "inventories", "packer")
BUILTIN = {"ansible.builtin", "ansible.legacy"}
# A module or plugin named by its FQCN: a task key (`community.docker.docker_image:`) or a plugin setting.
_AS_KEY = re.compile(r"^\s*(?:-\s+)?([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:", re.MULTILINE)
_ANYWHERE = re.compile(r"\b([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+\b")


def bundle(site: Path) -> dict[str, str]:
    """{namespace.name: version} of the collections in the installed ansible bundle."""
    out = {}
    for manifest in site.glob("ansible_collections/*/*/MANIFEST.json"):
        info = json.loads(manifest.read_text())["collection_info"]
        out[f"{info['namespace']}.{info['name']}"] = info["version"]
    return out


def used(repo: Path, known: set[str]) -> dict[str, str]:
    """{collection: first file using it}: task keys with any collection, other mentions of known ones."""
    found: dict[str, str] = {}
    for top in CONTENT:
        for path in sorted((repo / top).rglob("*")):
            if path.suffix not in {".yml", ".yaml", ".j2", ".hcl"} or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            # inventories' keys are host names (hub.example.org:), not modules
            names = set() if top == "inventories" else {f"{a}.{b}" for a, b in _AS_KEY.findall(text)}
            names |= {f"{a}.{b}" for a, b in _ANYWHERE.findall(text)} & known
            for name in sorted(names - BUILTIN):
                found.setdefault(name, path.relative_to(repo).as_posix())
    return found


def problems(listed: dict[str, str], provided: dict[str, str], in_use: dict[str, str]) -> list[str]:
    out = []
    for name, where in sorted(in_use.items()):
        if name not in listed:
            out.append(f"{name} is used ({where}) but not listed in requirements.yml: add it with version "
                       f"{provided.get(name, '<the version the ansible bundle ships>')}")  # fmt: skip
    for name, version in sorted(listed.items()):
        if name not in provided:
            out.append(f"{name} in requirements.yml is not in the pinned ansible bundle: remove it, or pin "
                       "a bundle that ships it (requirements.txt, then `make lock`)")  # fmt: skip
        elif version != provided[name]:
            out.append(f"{name} is listed as {version} in requirements.yml, the pinned ansible bundle ships "
                       f"{provided[name]}: set version: \"{provided[name]}\"")  # fmt: skip
    return out


def main() -> int:
    site = Path(yaml.__file__).resolve().parents[1]  # the venv's site-packages
    provided = bundle(site)
    if not provided:
        print(f"check_collections: no ansible collections under {site}; run `make setup`", file=sys.stderr)
        return 1
    data = yaml.safe_load((REPO / "requirements.yml").read_text()) or {}
    listed = {c["name"]: str(c.get("version", "")) for c in data.get("collections", [])}
    bad = problems(listed, provided, used(REPO, set(provided)))
    for msg in bad:
        print(f"check_collections: {msg}", file=sys.stderr)
    if not bad:
        print(f"check_collections: {len(listed)} collections listed, all from the pinned bundle")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
