"""requirements.yml (issue 13 item 5): checked against the collections used and the pinned ansible bundle."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("check_collections", REPO / "scripts" / "check_collections.py")
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)


def test_the_repository_passes() -> None:
    assert cc.main() == 0


def test_a_used_but_unlisted_collection_is_named(tmp_path: Path) -> None:
    role = tmp_path / "roles" / "r" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text(
        "- name: Make a filesystem\n  community.general.filesystem:\n    fstype: xfs\n"
    )
    inv = tmp_path / "inventories" / "x"
    inv.mkdir(parents=True)
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    hub.example.org:\n")
    in_use = cc.used(tmp_path, {"community.general"})
    assert in_use == {"community.general": "roles/r/tasks/main.yml"}  # the host name is not a collection
    found = cc.problems({}, {"community.general": "11.4.2"}, in_use)
    assert found == [
        "community.general is used (roles/r/tasks/main.yml) but not listed in requirements.yml: add it with "
        "version 11.4.2"
    ]


def test_versions_must_be_the_bundles() -> None:
    found = cc.problems(
        {"community.docker": "4.8.4", "acme.none": "1.0.0"}, {"community.docker": "4.8.5"}, {}
    )
    assert any('set version: "4.8.5"' in p for p in found)
    assert any("acme.none in requirements.yml is not in the pinned ansible bundle" in p for p in found)
