"""One-path restores and backups against what a hostile user plants in their home (DESIGN.md decision 8):
real restic, a moto S3 server over HTTP, homes owned by the container uid like on the appliance.

Each attack has a control: the naive root-side restore (copy the restored file to the home path as root)
does change the canary, so an unchanged canary means skyhub-backup refused to follow the user's link."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CREDENTIALS, make_hub_db

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (skyhub-backup runs as root)"),
]

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "src" / "skyhub" / "backup" / "tool.py"
PYTHON = "/usr/bin/python3"  # the host's stdlib python, as on the instance (and runnable by uid 1000)
UID, GID = 1000, 100


def backup(env: dict[str, Any], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [PYTHON, str(TOOL), "--config", env["config"], *args], capture_output=True, text=True, timeout=600
    )
    if check:
        assert res.returncode == 0, f"skyhub-backup {args} failed:\n{res.stdout}\n{res.stderr}"
    return res


def chown_tree(path: Path) -> None:
    os.chown(path, UID, GID, follow_symlinks=False)
    for p in path.rglob("*"):
        os.chown(p, UID, GID, follow_symlinks=False)


def make_home(home_root: Path, name: str) -> Path:
    home = home_root / name
    (home / "notebooks").mkdir(parents=True)
    (home / "notebooks" / "analysis.ipynb").write_text(json.dumps({"cells": [], "owner": name}))
    (home / "notebooks" / "plot.py").write_text("print('plot')\n")
    (home / "data.txt").write_text("measurements\n")
    (home / "link").symlink_to("notebooks/analysis.ipynb")
    chown_tree(home)
    os.chmod(home, 0o750)
    return home


@pytest.fixture
def env(storage_backup_env: dict[str, Any]) -> dict[str, Any]:
    env = storage_backup_env
    cfg = dict(env["cfg"], container_uid=UID, container_gid=GID)
    Path(env["config"]).write_text(json.dumps(cfg))
    env["cfg"] = cfg
    os.chmod(env["root"], 0o755)
    os.chmod(env["home"], 0o755)
    return env


@pytest.fixture
def canary(env: dict[str, Any]) -> Path:
    """A root-only file outside every home (stands for /etc/shadow)."""
    secret = env["root"] / "etc" / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    return secret


def intact(path: Path) -> bool:
    st = path.lstat()
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), path.read_text()) == (0, 0, 0o600, "root only\n")


def naive_root_restore(env: dict[str, Any], home: Path, rel: str) -> None:
    """The control: what a root-side restore by path would do (restic restore + copy as root)."""
    stage = env["root"] / "naive"
    cfg = env["cfg"]
    renv = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    renv.update(CREDENTIALS, RESTIC_REPOSITORY=cfg["repository"], RESTIC_PASSWORD_FILE=cfg["password_file"])
    subprocess.run(
        [cfg["restic"], "restore", "latest", "--target", str(stage), "--include", str(home / rel)],
        env=renv,
        check=True,
        capture_output=True,
    )
    shutil.copyfile(stage / str(home / rel).lstrip("/"), home / rel)  # follows links at home/rel


def test_restore_one_file_and_one_directory_only(env: dict[str, Any]) -> None:
    alice = make_home(env["home"], "alice")
    bob = make_home(env["home"], "bob")
    make_hub_db(Path(env["cfg"]["hub_db"]), {"alice": [], "bob": []})
    odd = alice / "odd [1] *$HOME?.txt"  # glob characters and $ in a name: matched exactly, nothing else
    odd.write_text("odd\n")
    (alice / "odd 1 x.txt").write_text("neighbour\n")
    chown_tree(alice)
    backup(env, "run")
    odd.unlink()
    (alice / "odd 1 x.txt").write_text("neighbour, later\n")
    backup(env, "restore", "alice", "--path", odd.name)
    assert odd.read_text() == "odd\n" and (alice / "odd 1 x.txt").read_text() == "neighbour, later\n"
    (alice / "notebooks" / "analysis.ipynb").write_text("broken by the user")
    (alice / "notebooks" / "new.ipynb").write_text("later work")
    (alice / "data.txt").write_text("changed later\n")
    (bob / "data.txt").write_text("bob's later work\n")

    out = backup(env, "restore", "--user", "alice", "--path", "notebooks/analysis.ipynb").stdout
    assert "restored notebooks/analysis.ipynb" in out and "before-restore" in out
    restored = alice / "notebooks" / "analysis.ipynb"
    assert json.loads(restored.read_text())["owner"] == "alice"
    assert (restored.stat().st_uid, restored.stat().st_gid) == (UID, GID)
    kept = [p for p in (alice / "notebooks").iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and kept[0].read_text() == "broken by the user"
    # the rest of the home and the other user are untouched
    assert (alice / "notebooks" / "new.ipynb").read_text() == "later work"
    assert (alice / "data.txt").read_text() == "changed later\n"
    assert (bob / "data.txt").read_text() == "bob's later work\n"

    # a deleted directory comes back whole (files, modes, the relative link inside the home stays a link)
    shutil.rmtree(alice / "notebooks")
    backup(env, "restore", "alice", "--path", "notebooks")
    assert (alice / "notebooks" / "plot.py").read_text() == "print('plot')\n"
    assert (alice / "notebooks" / "analysis.ipynb").stat().st_uid == UID
    assert not list(env["home"].glob(".skyhub-restore-*"))  # the staging directory is gone

    # bad paths and missing entries are clear errors, not tracebacks
    for bad, msg in (("../bob/data.txt", "not a path inside a home"), ("/etc/passwd", "not a path inside")):
        res = backup(env, "restore", "alice", "--path", bad, check=False)
        assert res.returncode == 2 and msg in res.stderr and "Traceback" not in res.stderr
    res = backup(env, "restore", "alice", "--path", "nope.txt", check=False)
    assert res.returncode == 1 and "has no file or directory nope.txt" in res.stderr
    assert "Traceback" not in res.stderr


def test_symlink_at_the_restore_path_is_not_written_through(env: dict[str, Any], canary: Path) -> None:
    alice = make_home(env["home"], "alice")
    backup(env, "run")
    target = alice / "notebooks" / "analysis.ipynb"
    target.unlink()
    target.symlink_to(canary)  # the user points the path at a root file
    os.chown(target, UID, GID, follow_symlinks=False)

    backup(env, "restore", "alice", "--path", "notebooks/analysis.ipynb")
    assert intact(canary)
    assert not target.is_symlink() and json.loads(target.read_text())["owner"] == "alice"
    kept = [p for p in (alice / "notebooks").iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and kept[0].is_symlink()  # the user's link is kept aside, as a link

    # control: restoring by path as root writes through the link into the root file
    target.unlink()
    target.symlink_to(canary)
    naive_root_restore(env, alice, "notebooks/analysis.ipynb")
    assert not intact(canary)


def test_symlink_on_a_parent_directory_is_not_followed(env: dict[str, Any], canary: Path) -> None:
    alice = make_home(env["home"], "alice")
    backup(env, "run")
    outside = env["root"] / "etc" / "rootdir"  # a root directory the user wants written into
    outside.mkdir(mode=0o755)
    (outside / "analysis.ipynb").write_text("root only\n")
    os.chmod(outside / "analysis.ipynb", 0o600)
    shutil.rmtree(alice / "notebooks")
    (alice / "notebooks").symlink_to(outside)
    os.chown(alice / "notebooks", UID, GID, follow_symlinks=False)

    res = backup(env, "restore", "alice", "--path", "notebooks/analysis.ipynb", check=False)
    assert res.returncode == 1 and "is not a directory" in res.stderr and "Traceback" not in res.stderr
    assert intact(outside / "analysis.ipynb") and sorted(p.name for p in outside.iterdir()) == [
        "analysis.ipynb"
    ]
    assert intact(canary)

    # control: a root copy by path follows the parent link into the root directory
    naive_root_restore(env, alice, "notebooks/analysis.ipynb")
    assert not intact(outside / "analysis.ipynb")


def test_names_that_need_escaping_and_list_per_user(env: dict[str, Any]) -> None:
    from skyhub import safehome

    logins = ["Ann.Lee@example.org", "o'brien", "jürgen", "x" * 45]
    for login in logins:
        make_home(env["home"], safehome.home_dir_name(login))
    make_hub_db(Path(env["cfg"]["hub_db"]), {login: [] for login in logins})
    juergen = env["home"] / safehome.home_dir_name("jürgen")
    cfg = env["cfg"]
    renv = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    renv.update(CREDENTIALS, RESTIC_REPOSITORY=cfg["repository"], RESTIC_PASSWORD_FILE=cfg["password_file"])
    backup(env, "run")
    # an older snapshot of jürgen's home, as an earlier day's run would have made (one per day is kept)
    (juergen / "data.txt").write_text("older\n")
    subprocess.run(
        [cfg["restic"], "backup", "--tag", "skyhub", "--host", "skyhub", "--time", "2026-10-01 03:00:00",
         str(juergen)],
        env=renv, capture_output=True, check=True,
    )  # fmt: skip

    listing = backup(env, "list").stdout
    assert all(login in listing for login in logins)  # login names, not escaped ones
    latest = max(json.loads(backup(env, "list", "--json").stdout), key=lambda s: s["time"])
    assert sorted(latest["users"]) == sorted(logins)
    rows = json.loads(backup(env, "list", "--user", "jürgen", "--json").stdout)
    assert len(rows) == 2 and all(r["files"] == 3 for r in rows)  # data.txt + the two notebooks
    assert rows[0]["time"].startswith("2026-10-01") and rows[0]["time"] < rows[1]["time"]
    assert rows[1]["size"] - rows[0]["size"] == len("measurements\n") - len("older\n")
    text = backup(env, "list", "--user", "jürgen").stdout
    assert "2 snapshot(s) hold jürgen's home (j-c3-bcrgen)" in text

    home = env["home"] / safehome.home_dir_name("Ann.Lee@example.org")
    (home / "data.txt").unlink()
    backup(env, "restore", "Ann.Lee@example.org", "--path", "data.txt")
    assert (home / "data.txt").read_text() == "measurements\n"
    res = backup(env, "list", "--user", "nobody", check=False)
    assert res.returncode == 0 and "0 snapshot(s)" in res.stdout


def test_whole_home_restore_is_refused_into_the_homes(env: dict[str, Any]) -> None:
    make_home(env["home"], "alice")
    backup(env, "run")
    res = backup(env, "restore", "alice", "--to", str(env["home"] / "alice" / "x"), check=False)
    assert res.returncode == 2 and "inside the home root" in res.stderr
    assert not (env["home"] / "alice" / "x").exists()


def test_sparse_and_huge_files_fifos_and_links(env: dict[str, Any]) -> None:
    bob = make_home(env["home"], "bob")
    with open(bob / "sparse.img", "wb") as fh:
        fh.truncate(256 << 20)  # 256 MiB that occupy nothing
    (bob / "big.bin").write_bytes(os.urandom(3 << 20))  # over the 2M limit below
    os.mkfifo(bob / "pipe")  # a backup that opened it would hang
    (bob / "shadow").symlink_to("/etc/shadow")
    chown_tree(bob)
    cfg = dict(env["cfg"], max_file_size="2M")
    Path(env["config"]).write_text(json.dumps(cfg))

    out = backup(env, "run").stdout
    assert "left out" in out and "sparse.img" in out and "big.bin" in out
    state = json.loads(Path(cfg["state_file"]).read_text())
    assert sorted(state["left_out"]["bob"]) == ["big.bin", "sparse.img"]
    renv = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    renv.update(CREDENTIALS, RESTIC_REPOSITORY=cfg["repository"], RESTIC_PASSWORD_FILE=cfg["password_file"])
    ls = subprocess.run(
        [cfg["restic"], "ls", "--json", "latest", str(bob)],
        env=renv,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    nodes = {n["name"]: n for n in map(json.loads, ls.splitlines()) if n.get("struct_type") == "node"}
    assert "sparse.img" not in nodes and "big.bin" not in nodes
    assert nodes["shadow"]["type"] == "symlink" and nodes["pipe"]["type"] == "fifo"
    assert nodes["data.txt"]["type"] == "file"

    # control: without the exclusions restic reads the sparse file (every byte of its size)
    subprocess.run(
        [cfg["restic"], "backup", "--tag", "control", str(bob)], env=renv, capture_output=True, check=True
    )
    ls = subprocess.run(
        [cfg["restic"], "ls", "--json", "--tag", "control", "latest", str(bob)],
        env=renv,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"name":"sparse.img"' in ls.replace(" ", "")
