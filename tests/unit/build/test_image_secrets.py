"""The one list of what an image must not carry (roles/first_boot/vars/main.yml) and the program that removes
it and checks for it (roles/first_boot/files/skyhub_image_secrets.py), as the cleanup, the build and the image
tier use them."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "first_boot"
LIST = ROLE / "vars" / "main.yml"
PROGRAM = ROLE / "files" / "skyhub_image_secrets.py"

spec = importlib.util.spec_from_file_location("skyhub_image_secrets", PROGRAM)
sec = importlib.util.module_from_spec(spec)
sys.modules["skyhub_image_secrets"] = sec  # dataclasses look their module up
spec.loader.exec_module(sec)
ENTRIES = sec.load(LIST)


def _forbidden(path: str) -> bool:
    return bool(sec.violations(ENTRIES, {path: (True, 10)}))


def _default(role: str, name: str, where: str = "defaults") -> str:
    return yaml.safe_load((ROOT / "roles" / role / where / "main.yml").read_text())[name]


@pytest.mark.parametrize(
    "path",
    [
        "/opt/tljh/state/jupyterhub_cookie_secret",  # cookie secret
        "/opt/tljh/state/proxy-auth-token",  # proxy token
        "/opt/tljh/state/traefik-api.secret",  # traefik secret
        "/opt/tljh/state/passwords.dbm",  # first-use passwords database (any dbm backend's file names)
        "/opt/tljh/state/passwords.dbm.db",
        "/opt/tljh/state/jupyterhub.sqlite",
        "/opt/tljh/state/acme.json",
        "/etc/ssh/ssh_host_ed25519_key",
        "/etc/ssh/ssh_host_rsa_key.pub",
        "/var/lib/skyhub/first-boot.done",
        "/var/lib/cloud/instance/user-data.txt",
        "/root/.bash_history",
        "/home/admin/.python_history",
        "/root/.cache/pip/http/x",  # caches
        "/home/admin/.cache/restic/y",
        "/var/cache/apt/archives/docker.io_20.10_amd64.deb",
        "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
        "/var/log/journal/0123/system.journal",
        "/var/log/apt/history.log.1.gz",
        "/root/.ssh/authorized_keys",
        "/home/admin/.ssh/authorized_keys",
    ],
)
def test_the_list_names_every_kind_of_per_instance_secret(path):
    assert _forbidden(path), path


def test_the_list_covers_the_secret_files_the_roles_write():
    """The roles' own paths, from their defaults and vars: a role that moves a secret must move it here."""
    for path in (
        _default("idle_shutdown", "idle_shutdown_token_file"),
        _default("backups", "_backups_password_file", "vars"),
        _default("backups", "_backups_env_file", "vars"),
        _default("backups", "backups_hub_db"),
        _default("first_boot", "first_boot_marker_file"),
        _default("first_boot", "first_boot_settings_file"),
        _default("first_boot", "first_boot_user_data_file"),
    ):
        assert _forbidden(path), path


@pytest.mark.parametrize(
    "path",
    [
        "/etc/ssh/sshd_config",
        "/opt/tljh/state",  # the directory stays (TLJH's units expect it)
        "/opt/tljh/state/rules",
        "/opt/tljh/config/config.yaml",
        "/var/lib/apt/lists/partial",
        "/var/lib/apt/lists/lock",
        "/etc/skyhub/idle-shutdown.json",
        "/srv/skyhub/skel/skyhub-demos/01-hst-data-tour.ipynb",
        "/opt/tljh/hub/lib/python3.11/site-packages/foo/test_key.pem",
        "/var/log",
    ],
)
def test_the_list_leaves_the_image_alone(path):
    assert not _forbidden(path), path


def test_empty_entries_allow_the_file_only_when_empty():
    assert sec.violations(ENTRIES, {"/etc/machine-id": (True, 0), "/var/log/dpkg.log": (True, 0)}) == []
    found = sec.violations(ENTRIES, {"/etc/machine-id": (True, 33), "/var/log/apt/term.log": (True, 5)})
    assert found == [
        "/etc/machine-id: machine-id (must be empty, has 33 bytes)",
        "/var/log/apt/term.log: logs (must be empty, has 5 bytes)",
    ]


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/etc/ssh/ssh_host_*", "/etc/ssh/ssh_host_rsa_key", True),
        ("/etc/ssh/ssh_host_*", "/etc/ssh/keys/ssh_host_rsa_key", False),
        ("/home/*/.cache", "/home/a/b/.cache", False),  # "*" stays within one name
        ("/var/log/**/*.gz", "/var/log/x.gz", True),  # "**/" is zero or more directories
        ("/var/log/**/*.gz", "/var/log/a/b/x.gz", True),
        ("/var/log/**/*.[0-9]", "/var/log/syslog.1", True),
        ("/var/log/**/*.[0-9]", "/var/log/syslog.a", False),
        ("/opt/x.sqlite*", "/opt/x.sqlite-journal", True),
        ("/opt/a.b", "/opt/aXb", False),  # dots are literal
    ],
)
def test_glob_semantics(glob, path, matches):
    assert bool(sec.glob_regex(glob).match(path)) is matches


def _plant(root: Path) -> list[str]:
    """One file (or directory) for every entry, the wildcards filled in; returns the planted paths."""
    planted = []
    for entry in ENTRIES:
        rel = (
            entry.path.replace("**/", "sub/")
            .replace("**", "sub/file")
            .replace("*", "x")
            .replace("[0-9]", "1")
        )
        target = root / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            (target / "inside").write_text("secret")
        else:
            target.write_text("secret")
        planted.append(rel)
    return planted


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROGRAM), "--list", str(LIST), *args], capture_output=True, text=True
    )


def test_check_finds_every_planted_secret_then_remove_leaves_none(tmp_path):
    planted = _plant(tmp_path)
    (tmp_path / "etc/ssh/sshd_config").write_text("keep")
    (tmp_path / "opt/tljh/config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "opt/tljh/config/config.yaml").write_text("keep")
    # control: the check sees every planted path (or the directory it is in)
    before = _run("--root", str(tmp_path), "--check")
    assert before.returncode == 1
    for rel in planted:
        assert rel in before.stderr or any(
            rel.startswith(p) for p in re.findall(r"image: (\S+):", before.stderr)
        )
    # the cleanup without the last step's entries leaves exactly those
    assert _run("--root", str(tmp_path), "--remove", "--skip-last").returncode == 0
    after_ansible = _run("--root", str(tmp_path), "--check")
    assert after_ansible.returncode == 1
    left = sorted(re.findall(r"image: (\S+):", after_ansible.stderr))
    assert left == sorted(p for p, e in zip(planted, ENTRIES, strict=True) if e.last)
    # the build's last step removes the rest: the check passes, and what is not on the list is still there
    assert _run("--root", str(tmp_path), "--remove").returncode == 0
    final = _run("--root", str(tmp_path), "--check")
    assert final.returncode == 0, final.stderr
    assert (tmp_path / "etc/ssh/sshd_config").read_text() == "keep"
    assert (tmp_path / "opt/tljh/config/config.yaml").read_text() == "keep"
    assert (tmp_path / "etc/machine-id").read_text() == ""  # emptied, not removed
    assert (tmp_path / "opt/tljh/state/rules").is_dir()


def test_remove_does_not_follow_links_out_of_the_list(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    (tmp_path / "var/lib/cloud").mkdir(parents=True)
    (tmp_path / "var/lib/cloud/instance").symlink_to(outside)
    (tmp_path / "root").mkdir()
    (tmp_path / "root/.cache").symlink_to(outside)
    assert _run("--root", str(tmp_path), "--remove").returncode == 0
    assert not (tmp_path / "var/lib/cloud/instance").is_symlink()
    assert not (tmp_path / "root/.cache").is_symlink()
    assert (outside / "precious").read_text() == "keep"


def test_the_cleanup_and_the_build_read_this_list_and_keep_no_copy_of_their_own():
    cleanup = (ROLE / "tasks" / "cleanup.yml").read_text()
    assert "skyhub_image_secrets.py" in cleanup and "_first_boot_image_secrets" in cleanup
    for hard_coded in ("jupyterhub_cookie_secret", "ssh_host_", "machine-id", "authorized_keys"):
        assert hard_coded not in cleanup, hard_coded
    template = (ROOT / "packer" / "skyhub.pkr.hcl").read_text()
    assert "roles/first_boot/files/skyhub_image_secrets.py" in template
    assert "roles/first_boot/vars/main.yml" in template
    assert "--check" in template
    assert "authorized_keys" not in template
