"""skyhub-seccomp-profile: Docker's default profile plus the one rule, evaluated as the kernel's filter would,
the package file read for real (a .deb built here with dpkg-deb), and errors that leave the old file."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location(
    "skyhub_seccomp_profile", ROOT / "roles/docker/files/skyhub_seccomp_profile.py"
)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

SET = 0x401C5820  # FS_IOC_FSSETXATTR
DEFAULT = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [],
    "syscalls": [
        {"names": ["read", "ioctl", "write"], "action": "SCMP_ACT_ALLOW", "args": [],
         "includes": {}, "excludes": {}},
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
         "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {}},
    ],
}  # fmt: skip


def allowed(profile: dict, syscall: str, args: dict[int, int]) -> bool:
    """Does the profile allow this call? (Any allow rule whose every condition holds, as libseccomp reads it;
    rules for added capabilities do not count: user servers have none.)"""
    ops = {
        "SCMP_CMP_EQ": lambda a, c: a == c["value"],
        "SCMP_CMP_MASKED_EQ": lambda a, c: a & c["value"] == c["valueTwo"],
    }
    for rule in profile["syscalls"]:
        applies = syscall in rule["names"] and rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("includes")
        if applies and all(ops[c["op"]](args.get(c["index"], 0), c) for c in rule.get("args", [])):
            return True
    return False


def test_the_rule_refuses_fssetxattr_in_every_form_and_nothing_else():
    profile = tool.with_rule(DEFAULT)
    assert not allowed(profile, "ioctl", {1: SET})
    assert not allowed(profile, "ioctl", {1: SET | 1 << 32})  # the kernel reads only the low 32 bits
    assert not allowed(profile, "ioctl", {1: SET | 0xFFFFFFFF << 32})
    for request in (
        0x801C581F,
        0x5401,
        0x541B,
        SET ^ 1,
        SET ^ 1 << 31,
        0,
        0xFFFFFFFF,
    ):  # GET, TCGETS, FIONREAD
        assert allowed(profile, "ioctl", {1: request}), hex(request)
    assert allowed(profile, "read", {}) and allowed(profile, "write", {})
    # control: Docker's default itself lets FS_IOC_FSSETXATTR through
    assert allowed(DEFAULT, "ioctl", {1: SET})
    assert DEFAULT["syscalls"][0]["names"] == ["read", "ioctl", "write"]  # the input is not changed


def test_a_default_profile_in_another_shape_is_an_error_not_a_silent_pass():
    no_ioctl = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
    }
    with pytest.raises(tool.ProfileError, match="no unconditional ioctl rule"):
        tool.with_rule(no_ioctl)
    with pytest.raises(tool.ProfileError, match="defaultAction"):
        tool.with_rule({**DEFAULT, "defaultAction": "SCMP_ACT_ALLOW"})


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")
def test_reads_the_profile_from_the_package_and_writes_only_on_change(tmp_path, capsys):
    pkg = tmp_path / "pkg"
    member = pkg / "usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json"
    member.parent.mkdir(parents=True)
    member.write_text(json.dumps(DEFAULT))
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN/control").write_text(
        "Package: golang-github-docker-docker-dev\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test\n"
    )
    deb = tmp_path / "golang-github-docker-docker-dev_1.0_all.deb"
    subprocess.run(
        ["dpkg-deb", "-b", "--root-owner-group", str(pkg), str(deb)], check=True, capture_output=True
    )
    out = tmp_path / "etc" / "seccomp.json"
    assert tool.main(["--out", str(out), "--deb", str(deb)]) == 0
    assert capsys.readouterr().out == "changed\n"
    assert json.loads(out.read_text()) == tool.with_rule(DEFAULT)
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert tool.main(["--out", str(out), "--deb", str(deb)]) == 0
    assert capsys.readouterr().out == "unchanged\n"
    # a package without the profile: an error naming it, and the old file stays
    (member).unlink()
    subprocess.run(
        ["dpkg-deb", "-b", "--root-owner-group", str(pkg), str(deb)], check=True, capture_output=True
    )
    before = out.read_text()
    assert tool.main(["--out", str(out), "--deb", str(deb)]) == 1
    assert "holds no github.com/docker/docker/profiles/seccomp/default.json" in capsys.readouterr().err
    assert out.read_text() == before


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query (Debian)")
def test_the_package_version_is_the_engine_source_version_without_a_binary_rebuild_suffix(
    tmp_path, monkeypatch
):
    """docker.io 20.10.24+dfsg1-1+deb12u1+b6 (a binary-only rebuild, Debian 12 in 2026-12) comes from source
    20.10.24+dfsg1-1+deb12u1, the only version golang-github-docker-docker-dev has: `apt-get download` of
    docker.io's own version failed (converge of the appliance and of the image)."""
    (tmp_path / "info").mkdir()
    (tmp_path / "updates").mkdir()
    (tmp_path / "status").write_text(
        "Package: docker.io\nStatus: install ok installed\nVersion: 20.10.24+dfsg1-1+deb12u1+b6\n"
        "Architecture: amd64\nSource: docker.io (20.10.24+dfsg1-1+deb12u1)\nMaintainer: t <t@t>\n"
        "Description: test\n"
    )
    real_run = subprocess.run

    def run(argv, **kwargs):  # the real dpkg-query, reading this status file instead of the machine's
        assert argv[0] == "dpkg-query"
        return real_run([argv[0], f"--admindir={tmp_path}", *argv[1:]], **kwargs)

    monkeypatch.setattr(tool.subprocess, "run", run)
    assert tool.engine_version() == "20.10.24+dfsg1-1+deb12u1"
    # control: docker.io's own version carries the suffix
    own = run(["dpkg-query", "-W", "-f=${Version}", "docker.io"], capture_output=True, text=True).stdout
    assert own == "20.10.24+dfsg1-1+deb12u1+b6"
