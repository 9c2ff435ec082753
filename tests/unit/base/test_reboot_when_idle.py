"""skyhub-reboot-when-idle (roles/base/files): the decision, and that it never reboots when it cannot tell."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[3] / "roles" / "base" / "files" / "skyhub_reboot_when_idle.py"
_spec = importlib.util.spec_from_file_location("skyhub_reboot_when_idle", TOOL)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture()
def host(tmp_path, monkeypatch):
    """A fake `docker` on PATH printing the names in tmp_path/names (exit status in tmp_path/rc), a config,
    and a reboot command that appends to tmp_path/rebooted."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!/bin/sh\ncat {tmp_path}/names\nexit $(cat {tmp_path}/rc)\n")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (tmp_path / "names").write_text("")
    (tmp_path / "rc").write_text("0")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "required_file": str(tmp_path / "reboot-required"),
                "container_prefix": "jupyter-",
                "reboot_command": f"sh -c 'echo x >> {tmp_path}/rebooted'",
            }
        )
    )

    def run(*extra: str) -> tuple[int, bool]:
        rc = tool.main(["--config", str(config), *extra])
        return rc, (tmp_path / "rebooted").exists()

    return tmp_path, run


def test_no_reboot_required_does_nothing(host, capsys):
    path, run = host
    (path / "rc").write_text("1")  # docker is not even asked
    assert run() == (0, False)
    assert "no reboot required" in capsys.readouterr().out


def test_a_running_user_server_postpones_the_reboot(host, capsys):
    path, run = host
    (path / "reboot-required").touch()
    (path / "reboot-required.pkgs").write_text("linux-image-6.1.0-30-amd64\nlibc6\n")
    (path / "names").write_text("skyhub-s3-twin\njupyter-ann\njupyter-bob\n")
    assert run() == (0, False)
    out = capsys.readouterr().out
    assert (
        "libc6, linux-image-6.1.0-30-amd64" in out
        and "2 user server(s) run (jupyter-ann, jupyter-bob)" in out
    )
    # control: other containers (not user servers) do not hold the reboot back
    (path / "names").write_text("skyhub-s3-twin\n")
    assert run() == (0, True)
    assert "no user server runs: rebooting" in capsys.readouterr().out


def test_docker_not_answering_means_no_reboot(host, capsys):
    path, run = host
    (path / "reboot-required").touch()
    (path / "rc").write_text("1")
    assert run() == (1, False)
    assert "not rebooting" in capsys.readouterr().err


def test_dry_run_decides_without_rebooting(host, capsys):
    path, run = host
    (path / "reboot-required").touch()
    assert run("--dry-run", "--json") == (0, False)
    assert json.loads(capsys.readouterr().out)["action"] == "reboot"


def test_a_broken_config_is_a_clear_error(host, capsys):
    path, _ = host
    (path / "bad.json").write_text("{not json")
    assert tool.main(["--config", str(path / "bad.json")]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_many_servers_are_summarised():
    action, reason = tool.decide(True, [], [f"jupyter-u{i}" for i in range(8)])
    assert action == "wait" and "8 user server(s)" in reason and "and 3 more" in reason
