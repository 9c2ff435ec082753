"""Read a hub inventory's variables: a vars file, or an inventory directory's group_vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from skyhub.errors import SkyhubError

# group_vars applied in this order (later wins), the way Ansible orders all < child groups.
GROUP_ORDER = ("all", "hub")


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SkyhubError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SkyhubError(f"{path} must hold a mapping of variables (got {type(data).__name__})")
    return data


def _group_files(group_vars: Path, group: str) -> list[Path]:
    files = [group_vars / f"{group}{ext}" for ext in (".yml", ".yaml")]
    folder = group_vars / group
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml"))
    return [p for p in files if p.is_file()]


def load_vars(path: str | Path) -> dict[str, Any]:
    """Variables of a vars file, or of an inventory directory (group_vars/all then group_vars/hub)."""
    path = Path(path)
    if path.is_file():
        return _load_yaml(path)
    if not path.is_dir():
        raise SkyhubError(f"{path} is neither a vars file nor an inventory directory")
    group_vars = path / "group_vars"
    if not group_vars.is_dir():
        raise SkyhubError(f"{path} has no group_vars/ directory: give an inventory directory or a vars file")
    merged: dict[str, Any] = {}
    for group in GROUP_ORDER:
        for file in _group_files(group_vars, group):
            merged.update(_load_yaml(file))
    return merged
