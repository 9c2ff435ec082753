"""skyhub-quota with login names that need escaping, and its warning notice against a hostile home."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from skyhub import safehome
from skyhub.quota import tool

MOUNTINFO_EXT4 = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
LOGINS = ["Ann.Lee@example.org", "o'brien", "jürgen", "x" * 45]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (notices are written as uid 1000)")


def hub_db(path: str, users: dict[str, list[str]]) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"
        "CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT UNIQUE);"
        "CREATE TABLE user_group_map (user_id INTEGER, group_id INTEGER);"
    )
    for name, groups in users.items():
        uid = con.execute("INSERT INTO users (name) VALUES (?)", (name,)).lastrowid
        for group in groups:
            con.execute("INSERT OR IGNORE INTO groups (name) VALUES (?)", (group,))
            gid = con.execute("SELECT id FROM groups WHERE name = ?", (group,)).fetchone()[0]
            con.execute("INSERT INTO user_group_map VALUES (?, ?)", (uid, gid))
    con.commit()
    con.close()


def run(host: dict[str, Any], *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    mi = host["root"] / "mountinfo"
    mi.write_text(MOUNTINFO_EXT4)
    rc = tool.main(["--config", host["config"], "--mountinfo", str(mi), *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def named_host(quota_host: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(quota_host["cfg"], user_sizes={"Ann.Lee@example.org": "4M"}, group_sizes={"astro": "3M"})
    Path(quota_host["config"]).write_text(json.dumps(cfg))
    for login in LOGINS:
        (quota_host["home"] / safehome.home_dir_name(login)).mkdir()
    hub_db(cfg["hub_db"], {"alice": [], "bob": [], "Ann.Lee@example.org": [], "o'brien": ["astro"],
                           "jürgen": [], "x" * 45: []})  # fmt: skip
    (quota_host["home"] / "-2dstray").mkdir()  # a home of no hub user (the login "-stray")
    quota_host["cfg"] = cfg
    return quota_host


def test_report_shows_login_names_and_sizes_follow_them(
    named_host: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(named_host, "report", "--json", capsys=capsys)
    rows = {r["user"]: r for r in json.loads(out)["users"]}
    assert set(rows) == {"alice", "bob", *LOGINS, "-stray"}
    ann = rows["Ann.Lee@example.org"]
    assert ann["home_dir"] == "-41nn-2e-4cee-40example-2eorg" and ann["home"].endswith("/" + ann["home_dir"])
    assert (ann["quota"], ann["source"]) == (4 * 1024**2, "user")  # user_sizes keyed by login name
    assert (rows["o'brien"]["quota"], rows["o'brien"]["source"]) == (3 * 1024**2, "group:astro")
    assert rows["-stray"]["known_to_hub"] is False and rows["alice"]["known_to_hub"] is True
    assert any("-2dstray belongs to no hub user" in p for p in json.loads(out)["problems"])

    rc, out, _ = run(named_host, "report", capsys=capsys)
    assert rc == 0
    line = next(line for line in out.splitlines() if line.startswith("jürgen"))
    assert "j-c3-bcrgen" in line
    assert "-stray (not in the hub)" in out and "PROBLEM: home -2dstray belongs to no hub user" in out


def test_set_takes_the_login_name(named_host: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(named_host, "set", "jürgen", "7M", capsys=capsys)
    assert rc == tool.EXIT_NOT_ENFORCED and "recorded but" in err
    rc, out, _ = run(named_host, "report", "--json", capsys=capsys)
    row = next(r for r in json.loads(out)["users"] if r["user"] == "jürgen")
    assert (row["quota"], row["source"]) == (7 * 1024**2, "set")
    projid = Path(named_host["cfg"]["projid_file"]).read_text()
    assert f"skyhub-j-c3-bcrgen:{row['project_id']}" in projid  # projects are per home directory
    # the escaped name is not a login name: it names a different (unknown) user, never jürgen's home
    rc, _, err = run(named_host, "set", "j-c3-bcrgen", "1M", capsys=capsys)
    assert rc == 2 and "unknown user 'j-c3-bcrgen'" in err


@needs_root
def test_notice_symlink_to_a_root_file_is_replaced_not_followed(
    named_host: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    home = named_host["home"] / safehome.home_dir_name("jürgen")
    os.chown(home, 1000, 100)
    (home / "big.bin").write_bytes(b"\1" * (960 * 1024))  # 94% of the 1M default
    canary = named_host["root"] / "secret"
    canary.write_text("root only\n")
    os.chmod(canary, 0o600)
    notice = home / tool.NOTICE_NAME
    notice.symlink_to(canary)

    def intact() -> bool:
        st = canary.lstat()
        return (st.st_uid, stat.S_IMODE(st.st_mode), canary.read_text()) == (0, 0o600, "root only\n")

    run(named_host, "apply", capsys=capsys)
    assert intact()
    assert not notice.is_symlink() and "94% full" in notice.read_text() and notice.stat().st_uid == 1000
    # back under the threshold: the notice goes, and a link planted in its place is removed, not followed
    (home / "big.bin").unlink()
    notice.unlink()
    notice.symlink_to(canary)
    run(named_host, "apply", capsys=capsys)
    assert intact() and not notice.is_symlink() and not notice.exists()
    # control: the tool's old notice code (write + chown by path as root) changes the canary
    notice.symlink_to(canary)
    notice.write_text("Your home directory is 94% full")
    os.chown(notice, 1000, 100)
    assert not intact()
