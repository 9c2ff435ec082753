"""The roles install skyhub-quota/skyhub-backup from src/ through symlinks in roles/*/files: the image content
key must change when a tool's source changes (it does, because the key reads files through the symlinks)."""

from __future__ import annotations

import shutil
from pathlib import Path

from skyhub.build import image

REPO = Path(__file__).resolve().parents[3]


def test_roles_ship_the_tools_through_symlinks_into_src() -> None:
    for role, name, target in (
        ("quotas", "skyhub_quota.py", "src/skyhub/quota/tool.py"),
        ("backups", "skyhub_backup.py", "src/skyhub/backup/tool.py"),
        ("quotas", "skyhub_safehome.py", "src/skyhub/safehome.py"),
        ("backups", "skyhub_safehome.py", "src/skyhub/safehome.py"),
    ):
        link = REPO / "roles" / role / "files" / name
        assert link.is_symlink() and link.resolve() == (REPO / target).resolve()


def test_image_key_follows_the_tool_sources(tmp_path: Path) -> None:
    for sub in ("quota", "backup"):
        (tmp_path / "src/skyhub" / sub).mkdir(parents=True)
        shutil.copy(REPO / f"src/skyhub/{sub}/tool.py", tmp_path / f"src/skyhub/{sub}/tool.py")
    shutil.copy(REPO / "src/skyhub/safehome.py", tmp_path / "src/skyhub/safehome.py")
    for role in ("quotas", "backups"):
        shutil.copytree(REPO / "roles" / role, tmp_path / "roles" / role, symlinks=True)
    key = image.content_key(tmp_path, {})
    tool = tmp_path / "src/skyhub/quota/tool.py"
    tool.write_text(tool.read_text() + "\n# changed\n")
    changed = image.content_key(tmp_path, {})
    assert changed != key
    backup = tmp_path / "src/skyhub/backup/tool.py"
    backup.write_text(backup.read_text() + "\n# changed\n")
    changed_again = image.content_key(tmp_path, {})
    assert changed_again != changed
    safehome = tmp_path / "src/skyhub/safehome.py"
    safehome.write_text(safehome.read_text() + "\n# changed\n")
    assert image.content_key(tmp_path, {}) != changed_again
