"""Disaster recovery with a real restic and a moto S3 server over HTTP: an instance is backed up, destroyed
(homes, hub database, TLJH's config, passwords and quota settings all gone), and a replacement with the same
backup settings gets everything back with one command, `skyhub-backup restore --all`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import make_hub_db
from test_storage_backup import backup, populate, tree

pytestmark = pytest.mark.integration


def state_paths(root: Path) -> dict[str, Path]:
    return {
        "config": root / "opt" / "tljh" / "config" / "config.yaml",
        "passwords": root / "state" / "passwords.dbm",
        "quota": root / "quota" / "state.json",
    }


def with_state_files(env: dict[str, Any]) -> dict[str, Path]:
    """The 'host' gets TLJH's config, a passwords database and quota overrides, listed as state_files."""
    paths = state_paths(env["root"])
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    paths["config"].write_text("users:\n  admin: [admin]\nskyhub:\n  limits:\n    memory: 2G\n")
    paths["passwords"].write_bytes(b"alice\x00$2b$12$" + os.urandom(40))
    paths["passwords"].chmod(0o600)
    paths["quota"].write_text(json.dumps({"overrides": {"alice": "20G"}, "highest_project_id": 2002}))
    cfg = dict(env["cfg"])
    cfg["state_files"] = [
        str(paths["config"]),
        str(env["root"] / "state" / "passwords.dbm*"),
        str(paths["quota"]),
    ]
    cfg["hub_service"] = ""  # no systemd here: the unit test of the stop/start is the appliance's
    Path(env["config"]).write_text(json.dumps(cfg))
    return paths


def instance(env: dict[str, Any], paths: dict[str, Path]) -> dict[str, Any]:
    """Everything a user or the operator would miss: files, owners, modes, hub users, state file bytes."""
    home: Path = env["home"]
    db = Path(env["cfg"]["hub_db"])
    users: list[str] = []
    if db.exists():
        con = sqlite3.connect(db)
        users = [r[0] for r in con.execute("SELECT name FROM users ORDER BY name")]
        con.close()
    homes = {
        h.name: {"files": tree(h), "owner": (h.stat().st_uid, h.stat().st_gid)}
        for h in sorted(home.iterdir())
        if not h.name.startswith(".")
    }
    files = {
        name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) if p.exists() else None
        for name, p in paths.items()
    }
    return {"homes": homes, "users": users, "files": files}


def destroy(env: dict[str, Any], paths: dict[str, Path]) -> None:
    """The instance is lost: a new one has only what its converge writes (backup.json, password, env)."""
    for entry in env["home"].iterdir():
        shutil.rmtree(entry)
    for path in (*paths.values(), Path(env["cfg"]["hub_db"])):
        path.unlink()
    shutil.rmtree(env["cfg"]["work_dir"], ignore_errors=True)
    shutil.rmtree(env["cfg"]["cache_dir"], ignore_errors=True)


def test_restore_all_brings_back_a_lost_instance(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    paths = with_state_files(env)
    populate(env["home"])
    os.chown(env["home"] / "alice", 1000, 100)
    make_hub_db(Path(env["cfg"]["hub_db"]), {"alice": ["astro"], "bob": []})
    assert "backup ok" in backup(env, "run").stdout
    before = instance(env, paths)
    assert before["users"] == ["alice", "bob"] and set(before["homes"]) == {"alice", "bob"}

    destroy(env, paths)
    lost = instance(env, paths)
    # control: the comparison below sees a lost instance as different, in every part
    assert lost["homes"] == {} and lost["users"] == [] and all(v is None for v in lost["files"].values())

    out = backup(env, "restore", "--all").stdout
    assert "restored 2 home(s), the hub database and 3 state file(s)" in out, out
    assert "recovery point" in out
    assert instance(env, paths) == before  # bytes, owners, modes, hub users
    # the restore staging is gone and nothing else appeared in the home root
    assert sorted(p.name for p in env["home"].iterdir()) == ["alice", "bob"]


def test_restore_all_keeps_what_was_there(storage_backup_env: dict[str, Any]) -> None:
    """On an instance that already has homes and a database, nothing is deleted: it is kept aside."""
    env = storage_backup_env
    paths = with_state_files(env)
    populate(env["home"])
    make_hub_db(Path(env["cfg"]["hub_db"]), {"alice": [], "bob": []})
    backup(env, "run")
    (env["home"] / "alice" / "later.txt").write_text("written after the backup")
    paths["config"].write_text("users:\n  admin: [someone-else]\n")

    out = backup(env, "restore", "--all").stdout
    assert not (env["home"] / "alice" / "later.txt").exists()
    kept = list((env["home"] / ".skyhub-before-restore").iterdir())
    assert sorted(k.name.split("-")[0] for k in kept) == ["alice", "bob"]
    assert (next(k for k in kept if k.name.startswith("alice")) / "later.txt").exists()
    aside = list(paths["config"].parent.glob("config.yaml.before-restore-*"))
    assert len(aside) == 1 and "someone-else" in aside[0].read_text()
    assert "kept" in out


def test_restore_all_refuses_mixed_arguments(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    res = backup(env, "restore", "--all", "alice", check=False)
    assert res.returncode == 2
    assert "restore --all takes no user" in res.stderr
    res = backup(env, "restore", "--all", "--snapshot", "deadbeef", check=False)
    assert res.returncode != 0 and "Traceback" not in res.stderr
