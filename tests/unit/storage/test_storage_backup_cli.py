"""skyhub-backup CLI errors that need no restic: settings, password file, unreachable repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyhub.backup import tool


def _config(tmp_path: Path, **over: object) -> str:
    cfg = {
        "repository": "s3:http://127.0.0.1:9/bucket/skyhub",
        "password_file": str(tmp_path / "pw"),
        "home_root": str(tmp_path / "home"),
        "work_dir": str(tmp_path / "work"),
        "state_file": str(tmp_path / "work" / "state.json"),
        "hub_db": str(tmp_path / "hub.sqlite"),
        "connect_timeout": 2,
        **over,
    }
    (tmp_path / "pw").write_text("pw\n")
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(cfg))
    return str(path)


def test_missing_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--config", str(tmp_path / "nope.json"), "status"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_no_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--config", _config(tmp_path, repository=""), "list"]) == 2
    assert "backups_s3_bucket" in capsys.readouterr().err


def test_unreachable_repository_is_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "home" / "alice").mkdir(parents=True)
    assert tool.main(["--config", _config(tmp_path), "run"]) == 1
    err = capsys.readouterr().err
    assert "BACKUP FAILED" in err and "unreachable" in err and "127.0.0.1:9" in err and "Traceback" not in err
    state = json.loads((tmp_path / "work" / "state.json").read_text())
    assert state["last_status"] == "failed"
    assert tool.main(["--config", _config(tmp_path), "list"]) == 1
    assert "unreachable" in capsys.readouterr().err


def test_restore_unknown_user_needs_a_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--config", _config(tmp_path), "restore", "nobody"]) == 1
    assert "unreachable" in capsys.readouterr().err


def test_endpoint_url() -> None:
    r = tool.Restic(dict(tool.DEFAULTS, repository="s3:s3.eu-west-1.amazonaws.com/b/skyhub"))
    assert r.endpoint_url() == "https://s3.eu-west-1.amazonaws.com/b/skyhub"
    r = tool.Restic(dict(tool.DEFAULTS, repository="s3:http://127.0.0.1:9000/b"))
    assert r.endpoint_url() == "http://127.0.0.1:9000/b"


def test_restic_patterns_match_exactly_one_path() -> None:
    assert tool.restic_pattern("/srv/home/a/plain.txt") == "/srv/home/a/plain.txt"
    assert tool.restic_pattern("/h/a [1]*?.txt") == "/h/a?\\[1\\]\\*\\?.txt"
    assert tool.restic_pattern("/h/$HOME\n\\x") == "/h/?HOME?\\\\x"


@pytest.mark.parametrize(
    ("text", "size"), [("10G", 10 << 30), ("2M", 2 << 20), ("512KiB", 512 << 10), ("3gb", 3 << 30),
                       ("4096", 4096), ("", None), ("0", None), (0, None)],
)  # fmt: skip
def test_max_file_size(text: object, size: int | None) -> None:
    assert tool.parse_size(text) == size  # type: ignore[arg-type]


def test_bad_settings_and_arguments_fail_early(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--config", _config(tmp_path, max_file_size="ten gigs"), "status"]) == 2
    assert "max_file_size" in capsys.readouterr().err
    config = _config(tmp_path)
    # checked before restic is asked anything (the repository here is unreachable)
    for args, msg in (
        (["restore", "alice", "--to", str(tmp_path / "home" / "x")], "inside the home root"),
        (["restore", "alice", "--path", "../bob/x"], "not a path inside a home"),
        (["restore", "a\x012"], "bad user name"),
        (["restore"], "name the user once"),
        (["restore", "alice", "--user", "bob"], "name the user once"),
        (["list", "--user", "a\x01"], "bad user name"),
    ):
        (tmp_path / "home").mkdir(exist_ok=True)
        assert tool.main(["--config", config, *args]) == 2, args
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (args, err)
