"""Fixtures for the storage integration tests: restic (Debian package, installed when missing), a moto S3
server over HTTP on 127.0.0.1, and a skyhub-backup settings file pointing at it in a temporary prefix."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyhub.netutil import free_port, wait_port

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# The subset of JupyterHub's schema the quota and backup tools read (users, groups, memberships).
HUB_SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(255) UNIQUE, admin BOOLEAN,
                    created DATETIME, last_activity DATETIME, cookie_id VARCHAR(255), state TEXT);
CREATE TABLE groups (id INTEGER PRIMARY KEY, name VARCHAR(255) UNIQUE, properties TEXT);
CREATE TABLE user_group_map (user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
                             group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,
                             PRIMARY KEY (user_id, group_id));
"""


def make_hub_db(path: Path, users: dict[str, list[str]]) -> None:
    """A hub database with these users and their groups."""
    con = sqlite3.connect(path)
    con.executescript(HUB_SCHEMA)
    for name, groups in users.items():
        cur = con.execute("INSERT INTO users (name, admin, cookie_id) VALUES (?, 0, ?)", (name, name + "-c"))
        for group in groups:
            con.execute("INSERT OR IGNORE INTO groups (name, properties) VALUES (?, '{}')", (group,))
            gid = con.execute("SELECT id FROM groups WHERE name = ?", (group,)).fetchone()[0]
            con.execute("INSERT INTO user_group_map VALUES (?, ?)", (cur.lastrowid, gid))
    con.commit()
    con.close()


@pytest.fixture(scope="session")
def storage_restic() -> str:
    """restic from Debian (the package the backups role installs), installed here when missing."""
    if not shutil.which("restic"):
        if os.geteuid() != 0:
            pytest.fail("restic is missing: apt-get install restic (the storage tests need Debian's restic)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "restic"], check=True, env=env, capture_output=True)
    return shutil.which("restic") or "restic"


@pytest.fixture(scope="session")
def storage_moto() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def storage_backup_env(
    tmp_path: Path, storage_moto: str, storage_restic: str, request: pytest.FixtureRequest
) -> dict[str, Any]:
    """A temporary 'host': homes, hub DB, password/env files and a backup.json; each test its own bucket."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "etc").mkdir()
    password = tmp_path / "etc" / "backup.password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    env_file = tmp_path / "etc" / "backup.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in CREDENTIALS.items()))
    env_file.chmod(0o600)
    bucket = "skyhub-backup-" + request.node.name.lower().replace("_", "-")[:40].rstrip("-")
    cfg = {
        "repository": f"s3:{storage_moto}/{bucket}/skyhub",
        "password_file": str(password),
        "env_file": str(env_file),
        "region": "us-east-1",
        "home_root": str(home),
        "hub_db": str(tmp_path / "state" / "jupyterhub.sqlite"),
        "work_dir": str(tmp_path / "work"),
        "state_file": str(tmp_path / "work" / "state.json"),
        "cache_dir": str(tmp_path / "cache"),
        "host": "skyhub",
        "keep_daily": 7,
        "keep_weekly": 4,
        "keep_monthly": 6,
        "restic": storage_restic,
        "quota_tool": "skyhub-quota-not-installed",
    }
    config = tmp_path / "etc" / "backup.json"
    config.write_text(json.dumps(cfg))
    (tmp_path / "state").mkdir()
    return {"cfg": cfg, "config": str(config), "home": home, "root": tmp_path}
