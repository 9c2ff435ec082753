"""skyhub-backup against a real restic and a moto S3 server over HTTP: back up, damage two homes, restore one
user only, restore the hub database, retention, a backup while a user writes, failure is loud."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import CREDENTIALS, make_hub_db

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "src" / "skyhub" / "backup" / "tool.py"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"  # the host's stdlib python


def backup(env: dict[str, Any], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [PYTHON, str(TOOL), "--config", env["config"], *args], capture_output=True, text=True, timeout=600
    )
    if check:
        assert res.returncode == 0, f"skyhub-backup {args} failed:\n{res.stdout}\n{res.stderr}"
    return res


def tree(path: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under path (plus symlink targets)."""
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        if p.is_symlink():
            out[rel] = "->" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def populate(home: Path) -> None:
    for user in ("alice", "bob"):
        d = home / user
        (d / "notebooks").mkdir(parents=True)
        (d / "notebooks" / "analysis.ipynb").write_text(json.dumps({"cells": [], "user": user}))
        (d / "data.bin").write_bytes(os.urandom(300_000))
        (d / ".bashrc").write_text("export SKY=1\n")
        (d / "link").symlink_to("notebooks/analysis.ipynb")


def test_restore_one_user_leaves_others_untouched(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    home: Path = env["home"]
    populate(home)
    make_hub_db(Path(env["cfg"]["hub_db"]), {"alice": ["astro"], "bob": []})
    out = backup(env, "run").stdout
    assert "backup ok" in out
    alice_before = tree(home / "alice")

    # damage both homes: change, delete, add
    (home / "alice" / "data.bin").write_bytes(b"overwritten")
    (home / "alice" / "notebooks" / "analysis.ipynb").unlink()
    (home / "alice" / "new.txt").write_text("after the backup")
    (home / "bob" / "data.bin").unlink()
    (home / "bob" / "bob-new.txt").write_text("bob's later work")
    bob_after = tree(home / "bob")

    out = backup(env, "restore", "alice").stdout
    assert "restored alice's home" in out
    assert tree(home / "alice") == alice_before  # byte-identical, later file gone
    assert tree(home / "bob") == bob_after  # bob's changes untouched
    kept = list((home / ".skyhub-before-restore").iterdir())
    assert len(kept) == 1 and (kept[0] / "new.txt").read_text() == "after the backup"

    # --to restores elsewhere without touching the live home
    (home / "alice" / "scratch").write_text("x")
    target = env["root"] / "restored"
    backup(env, "restore", "alice", "--to", str(target))
    assert tree(target / "alice") == alice_before
    assert (home / "alice" / "scratch").exists()


def test_hub_db_restores_and_users_come_back(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    populate(env["home"])
    db = Path(env["cfg"]["hub_db"])
    make_hub_db(db, {"alice": ["astro"], "bob": ["astro"], "carol": []})
    backup(env, "run")
    con = sqlite3.connect(db)
    con.execute("DELETE FROM user_group_map")
    con.execute("DELETE FROM users")
    con.commit()
    con.close()
    db.unlink()  # the instance lost its database entirely

    out = backup(env, "restore-hub-db").stdout
    assert "restart jupyterhub" in out
    con = sqlite3.connect(db)
    assert sorted(r[0] for r in con.execute("SELECT name FROM users")) == ["alice", "bob", "carol"]
    members = con.execute(
        "SELECT u.name FROM users u JOIN user_group_map m ON m.user_id = u.id "
        "JOIN groups g ON g.id = m.group_id WHERE g.name = 'astro' ORDER BY u.name"
    ).fetchall()
    assert [m[0] for m in members] == ["alice", "bob"]
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_status_list_and_state(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    populate(env["home"])
    assert backup(env, "status", check=False).returncode == 1  # never ran
    backup(env, "run")
    status = json.loads(backup(env, "status", "--json").stdout)
    assert status["last_status"] == "ok" and status["last_success"]
    assert status["users"] == ["alice", "bob"]
    assert status["snapshot_size"] >= 600_000 and status["repository_size"] > 0
    listing = backup(env, "list").stdout
    assert "alice, bob" in listing and "1 snapshot(s)" in listing


def _restic(env: dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    cfg = env["cfg"]
    renv = {k: v for k, v in os.environ.items() if k not in ("AWS_CA_BUNDLE",)}
    renv.update(CREDENTIALS, RESTIC_REPOSITORY=cfg["repository"], RESTIC_PASSWORD_FILE=cfg["password_file"])
    return subprocess.run([cfg["restic"], *args], env=renv, capture_output=True, text=True, check=True)


def test_retention_prunes_as_configured(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    populate(env["home"])
    backup(env, "run")  # creates the repository
    for day in range(1, 10):  # nine older daily snapshots, as the timer would have made
        (env["home"] / "alice" / "day.txt").write_text(str(day))
        _restic(
            env, "backup", "--tag", "skyhub", "--host", "skyhub", "--time",
            f"2026-10-{day:02d} 03:00:00", str(env["home"] / "alice"),
        )  # fmt: skip
    cfg = dict(env["cfg"], keep_daily=3, keep_weekly=2, keep_monthly=1)
    Path(env["config"]).write_text(json.dumps(cfg))
    backup(env, "run")
    snaps = json.loads(_restic(env, "snapshots", "--json").stdout)
    days = sorted(s["time"][:10] for s in snaps)
    # daily 3: today (two runs -> the latest), 10-09, 10-08; weekly 2: today's week, the week of 10-08
    # (already kept); monthly 1: today's month. Everything else is forgotten and pruned.
    assert len(snaps) == 3, days
    assert days[:2] == ["2026-10-08", "2026-10-09"]


def test_backup_while_a_user_writes(storage_backup_env: dict[str, Any]) -> None:
    env = storage_backup_env
    populate(env["home"])
    db = Path(env["cfg"]["hub_db"])
    make_hub_db(db, {"alice": []})
    stop = threading.Event()

    def writer() -> None:
        n = 0
        with open(env["home"] / "alice" / "growing.log", "ab") as fh:
            while not stop.is_set():
                fh.write(os.urandom(4096))
                fh.flush()
                con = sqlite3.connect(db)
                con.execute("UPDATE users SET last_activity = ? WHERE name = 'alice'", (str(n),))
                con.commit()
                con.close()
                n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        res = backup(env, "run", check=False)
    finally:
        stop.set()
        thread.join()
    assert res.returncode == 0, res.stderr
    status = json.loads(backup(env, "status", "--json").stdout)
    assert status["last_status"] == "ok"
    target = env["root"] / "check"
    backup(env, "restore-hub-db", "--to", str(target / "hub.sqlite"))
    con = sqlite3.connect(target / "hub.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_unreachable_repository_fails_loudly(storage_backup_env: dict[str, Any], tmp_path: Path) -> None:
    env = storage_backup_env
    populate(env["home"])
    cfg = dict(env["cfg"], repository="s3:http://127.0.0.1:9/nowhere/skyhub", connect_timeout=2)
    Path(env["config"]).write_text(json.dumps(cfg))
    res = backup(env, "run", check=False)
    assert res.returncode == 1
    assert "BACKUP FAILED" in res.stderr and "unreachable" in res.stderr and "127.0.0.1:9" in res.stderr
    assert "Traceback" not in res.stderr
    status = json.loads(backup(env, "status", "--json", check=False).stdout)
    assert status["last_status"] == "failed" and "unreachable" in status["last_error"]
