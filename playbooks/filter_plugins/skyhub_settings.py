"""Filters for the playbooks: find inventory variables that no role knows (playbooks/site.yml's first check).

A setting is known when a role declares it in its meta/argument_specs.yml (any entry point), or when the
playbook itself reads it (`extra_known`). A variable is checked when its name starts with a role's name and
"_" (the house style's prefix for public role variables), or when it is a near miss of a known name, so a
typo in the prefix is caught too. Everything else (ansible_*, inventory plugin facts, private _role_ vars) is
left alone. The rules live here so tests/unit/settings tests them directly.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# A name this close to a known setting (difflib ratio) is taken as a misspelling of it.
NEAR_MISS = 0.88
# How close a suggestion must be to be offered at all.
SUGGEST = 0.6


def known_settings(roles_dir: str | Path) -> dict[str, str]:
    """{variable: role} for every option of every entry point in roles/*/meta/argument_specs.yml."""
    out: dict[str, str] = {}
    for spec_file in sorted(Path(roles_dir).glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        data = yaml.safe_load(spec_file.read_text()) or {}
        for entry in (data.get("argument_specs") or {}).values():
            for name in (entry or {}).get("options") or {}:
                out.setdefault(str(name), role)
    return out


def role_names(roles_dir: str | Path) -> list[str]:
    """Every role directory (longest first, so s3_twin_x is matched to s3_twin before a shorter prefix)."""
    names = [p.name for p in Path(roles_dir).iterdir() if p.is_dir() and (p / "tasks").is_dir()]
    return sorted(names, key=lambda n: (-len(n), n))


def _role_of(name: str, roles: Iterable[str]) -> str | None:
    return next((r for r in roles if name.startswith(r + "_")), None)


def closest(name: str, known: Iterable[str], cutoff: float = SUGGEST) -> str | None:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return match[0] if match else None


def unknown_settings(
    variables: Mapping[str, Any] | Iterable[str],
    roles_dir: str | Path,
    extra_known: Iterable[str] = (),
    renamed: Mapping[str, str] | None = None,
    set_by_playbook: Mapping[str, str] | None = None,
) -> list[str]:
    """One message per inventory variable no role (nor the playbook) reads, naming the closest known name.

    `renamed` maps old names to their replacement; `set_by_playbook` maps names the playbook derives (and so
    overrides) to the reason. Both are reported too: the inventory's value would be ignored.
    """
    renamed = dict(renamed or {})
    set_by_playbook = dict(set_by_playbook or {})
    known = {**known_settings(roles_dir), **dict.fromkeys(extra_known, "playbook")}
    roles = role_names(roles_dir)
    messages: list[str] = []
    for name in sorted(str(n) for n in variables):
        if name in renamed:
            messages.append(f"{name} was replaced by {renamed[name]}: rename it in the inventory")
            continue
        if name in set_by_playbook:
            messages.append(
                f"{name} is set by the playbook ({set_by_playbook[name]}): remove it from the inventory"
            )
            continue
        if name in known or name.startswith("_"):
            continue
        role = _role_of(name, roles)
        near = closest(name, known, NEAR_MISS)
        if role is None and near is None:
            continue  # not named like a setting: ansible_*, inventory plugin facts, ...
        own = [k for k, r in known.items() if r == role]
        suggestion = near or closest(name, own) or closest(name, known)
        where = f"the {role} role" if role else "any role"
        hint = f"did you mean {suggestion}?" if suggestion else "no known setting is close"
        if not suggestion and role:
            hint += f"; the {role} role's settings are in docs/variables.md"
        messages.append(f"{name} is not a setting of {where} ({hint})")
    return messages


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"skyhub_unknown_settings": unknown_settings}
