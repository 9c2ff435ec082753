"""skyhub-quota: size parsing, project ids, precedence, report formatting and CLI errors (temp prefixes)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hub_limits import limits_command

from skyhub.quota import tool

MOUNTINFO_EXT4 = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"


def mountinfo(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mountinfo"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10G", 10 * 1024**3), ("20M", 20 * 1024**2), ("20MiB", 20 * 1024**2), ("512k", 512 * 1024),
     ("1.5G", int(1.5 * 1024**3)), ("4096", 4096), (" 2 T ", 2 * 1024**4), ("3GB", 3 * 1024**3)],
)  # fmt: skip
def test_parse_size(text: str, expected: int) -> None:
    assert tool.parse_size(text) == expected


@pytest.mark.parametrize("text", ["5 lots", "", "G", "-1G", "0", "10X", "1e3", "ten gigs"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(tool.QuotaError) as err:
        tool.parse_size(text)
    assert err.value.exit_code == tool.EXIT_USAGE and repr(text) in str(err.value)


def test_format_size() -> None:
    assert tool.format_size(None) == "-"
    assert tool.format_size(512) == "512B"
    assert tool.format_size(20 * 1024**2) == "20.0M"
    assert tool.format_size(int(1.5 * 1024**3)) == "1.5G"


def _pmap(cfg: dict[str, Any], state: dict[str, Any] | None = None) -> tool.ProjectMap:
    return tool.ProjectMap(dict(tool.DEFAULTS, **cfg), state if state is not None else {})


def test_project_ids_stable_and_collision_free(quota_host: dict[str, Any]) -> None:
    cfg = quota_host["cfg"]
    Path(cfg["projid_file"]).write_text("other-app:10001\nscratch:42\n")
    Path(cfg["projects_file"]).write_text("10001:/srv/other\n42:/scratch\n")
    state: dict[str, Any] = {}
    pm = _pmap(cfg, state)
    ids = {u: pm.ensure(u) for u in ("alice", "bob", "carol")}
    assert len(set(ids.values())) == 3 and 10001 not in ids.values() and 42 not in ids.values()
    assert min(ids.values()) > 10001
    # a fresh process reads the same mapping: same ids, and asking again allocates nothing
    pm2 = _pmap(cfg, state)
    assert {u: pm2.ensure(u) for u in ("carol", "alice", "bob")} == ids
    projid = Path(cfg["projid_file"]).read_text()
    assert "other-app:10001" in projid and "scratch:42" in projid  # foreign entries kept
    assert f"skyhub-alice:{ids['alice']}" in projid
    assert f"{ids['bob']}:{cfg['home_root']}/bob" in Path(cfg["projects_file"]).read_text()


def test_project_ids_never_reused(quota_host: dict[str, Any]) -> None:
    cfg = quota_host["cfg"]
    state: dict[str, Any] = {}
    pm = _pmap(cfg, state)
    dave = pm.ensure("dave")
    # someone deletes dave's line by hand; the high-water mark still keeps his id from being handed out
    Path(cfg["projid_file"]).write_text("")
    erin = _pmap(cfg, state).ensure("erin")
    assert erin > dave


def test_size_precedence(quota_host: dict[str, Any]) -> None:
    cfg = dict(tool.DEFAULTS, **quota_host["cfg"])
    assert tool.effective_size(cfg, {}, "alice", []) == (1024**2, "default")
    assert tool.effective_size(cfg, {}, "alice", ["astro", "big"]) == (3 * 1024**2, "group:big")
    assert tool.effective_size(cfg, {}, "bob", ["big"]) == (4 * 1024**2, "user")
    assert tool.effective_size(cfg, {"bob": "500M"}, "bob", ["big"]) == (500 * 1024**2, "set")


def test_detect_enforcement(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    enf = tool.detect_enforcement(str(home), mountinfo(tmp_path, MOUNTINFO_EXT4))
    assert not enf.available and "ext4" in enf.why and "XFS" in enf.fix
    noquota = f"30 22 8:16 / {home} rw,relatime - xfs /dev/sdb rw,attr2,inode64,noquota\n"
    enf = tool.detect_enforcement(str(home), mountinfo(tmp_path, MOUNTINFO_EXT4 + noquota))
    assert not enf.available and "without project quota" in enf.why and "prjquota" in enf.fix
    assert enf.mountpoint == str(home) and enf.device == "/dev/sdb"
    missing = tool.detect_enforcement(str(tmp_path / "nope"), mountinfo(tmp_path, MOUNTINFO_EXT4))
    assert not missing.available and "does not exist" in missing.what


def _run(quota_host: dict[str, Any], *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    mi = mountinfo(quota_host["root"], MOUNTINFO_EXT4)
    rc = tool.main(["--config", quota_host["config"], "--mountinfo", mi, *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_errors(quota_host: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(quota_host, "set", "alice", "5 lots", capsys=capsys)
    assert rc == 2 and "bad size '5 lots'" in err and "Traceback" not in err
    rc, _, err = _run(quota_host, "set", "mallory", "1G", capsys=capsys)
    assert rc == 2 and "unknown user 'mallory'" in err
    # a login name is escaped into one path component: no traversal, just an unknown user
    rc, _, err = _run(quota_host, "set", "../etc", "1G", capsys=capsys)
    assert rc == 2 and "unknown user '../etc'" in err and "home/-2e-2e-2fetc " in err
    rc, _, err = _run(quota_host, "set", "a\x012", "1G", capsys=capsys)
    assert rc == 2 and "bad user name" in err and "ambiguous" in err
    rc = tool.main(["--config", str(quota_host["root"] / "missing.json"), "report"])
    assert rc == 1 and "does not exist" in capsys.readouterr().err


def test_set_without_enforcement_is_honest(
    quota_host: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = _run(quota_host, "set", "alice", "2G", capsys=capsys)
    assert rc == tool.EXIT_NOT_ENFORCED
    assert "recorded but" in err and "NOT ENFORCED" in err and "Why:" in err and "Fix:" in err
    state = json.loads(Path(quota_host["cfg"]["state_file"]).read_text())
    assert state["overrides"] == {"alice": "2G"}
    # a user known only to the hub (no home yet) can be given a size too
    con = sqlite3.connect(quota_host["cfg"]["hub_db"])
    con.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1,'zoe');"
    )
    con.executescript("CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT);")
    con.executescript("CREATE TABLE user_group_map (user_id INTEGER, group_id INTEGER);")
    con.close()
    rc, out, err = _run(quota_host, "set", "zoe", "3G", capsys=capsys)
    assert rc == tool.EXIT_NOT_ENFORCED and "applied when the home appears" in out


def test_report_table_and_json(quota_host: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    home = quota_host["home"]
    (home / "alice" / "big.bin").write_bytes(b"\1" * (960 * 1024))  # 94% of alice's 1M default
    (home / "bob" / "small.bin").write_bytes(b"\1" * 4096)
    quota_host["cfg"]["limits_command"] = limits_command(
        quota_host["root"] / "config.json",
        {"limits": {"memory": "2G", "cpu": 1}, "skyhub": {"limits": {"users": {"bob": {"cpu_limit": 2}}}}},
    )
    Path(quota_host["config"]).write_text(json.dumps(quota_host["cfg"]))
    Path(quota_host["cfg"]["backup_state_file"]).write_text(
        json.dumps({"last_status": "ok", "last_success": "2026-11-25T03:00:00+00:00", "users": ["alice"],
                    "repository_size": 5 * 1024**2})
    )  # fmt: skip
    rc, out, _ = _run(quota_host, "report", capsys=capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("Quotas: NOT ENFORCED") and "limits are NOT enforced" in lines[1]
    assert "last success 2026-11-25T03:00:00+00:00" in lines[2] and "repository 5.0M" in lines[2]
    header = next(line for line in lines if line.startswith("USER"))
    assert header.split() == ["USER", "HOME", "USED", "QUOTA", "USE%", "FROM", "MEM", "CPU", "LAST", "BACKUP"]
    alice = next(line for line in lines if line.startswith("alice"))
    bob = next(line for line in lines if line.startswith("bob"))
    assert "1.0M" in alice and "2G" in alice and "2026-11-25T03:00:00" in alice and "WARN >= 90%" in alice
    assert "4.0M" in bob and "never" in bob and "WARN" not in bob and " 2 " in bob

    rc, out, _ = _run(quota_host, "report", "--json", capsys=capsys)
    data = json.loads(out)
    assert data["enforced"] is False and "ext4" in data["enforcement"]["why"]
    rows = {u["user"]: u for u in data["users"]}
    assert rows["alice"]["used"] >= 960 * 1024 and rows["alice"]["warn"] is True
    assert rows["alice"]["quota"] == 1024**2 and rows["bob"]["quota"] == 4 * 1024**2
    assert rows["bob"]["cpu_limit"] == 2 and rows["bob"]["mem_limit"] == "2G"


def test_apply_manages_notices(quota_host: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    big = quota_host["home"] / "alice" / "big.bin"
    big.write_bytes(b"\1" * (960 * 1024))
    rc, _, err = _run(quota_host, "apply", capsys=capsys)
    assert rc == 0 and "NOT ENFORCED" in err  # loud in the journal, but the timer unit does not fail
    notice = quota_host["home"] / "alice" / tool.NOTICE_NAME
    assert "No space left on device" in notice.read_text()
    assert not (quota_host["home"] / "bob" / tool.NOTICE_NAME).exists()
    big.unlink()
    _run(quota_host, "apply", capsys=capsys)
    assert not notice.exists()
    rc, _, _ = _run(quota_host, "apply", "--strict", capsys=capsys)
    assert rc == tool.EXIT_NOT_ENFORCED


def test_set_refreshes_the_notice_at_once(
    quota_host: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (quota_host["home"] / "bob" / "data.bin").write_bytes(b"\1" * (1024 * 1024))
    notice = quota_host["home"] / "bob" / tool.NOTICE_NAME
    _run(quota_host, "apply", capsys=capsys)
    assert not notice.exists()  # 1 MiB of bob's 4M
    _run(quota_host, "set", "bob", "1M", capsys=capsys)
    assert "of 1.0M" in notice.read_text()  # no `apply` needed
    assert not (quota_host["home"] / "alice" / tool.NOTICE_NAME).exists()
    _run(quota_host, "set", "bob", "8M", capsys=capsys)
    assert not notice.exists()
