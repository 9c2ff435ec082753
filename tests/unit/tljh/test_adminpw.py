"""plugin/tljh_skyhub/adminpw.py: admin passwords in the first-use authenticator's password database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
from tljh_skyhub import adminpw

PLUGIN = Path(__file__).resolve().parents[3] / "plugin"


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def firstuse_accepts(path: str, name: str, password: str) -> bool:
    """firstuseauthenticator 1.1.1's check for a name with an entry (authenticate())."""
    import dbm

    with dbm.open(path, "c", 0o600) as db:
        stored = db.get(name.encode("utf8"), None)
    return stored is not None and bcrypt.hashpw(password.encode("utf8"), stored) == stored


def test_a_stored_hash_is_what_the_first_use_check_accepts(tmp_path):
    path = str(tmp_path / "passwords.dbm")
    assert adminpw.set_hashes(path, {"admin": _hash("right-password")}) == ["admin"]
    assert firstuse_accepts(path, "admin", "right-password")
    assert not firstuse_accepts(path, "admin", "wrong-password")  # control
    # the same hash again changes nothing; a new one replaces it
    assert adminpw.set_hashes(path, {"admin": adminpw.stored(path, "admin").decode()}) == []
    assert adminpw.set_hashes(path, {"admin": _hash("new-password")}) == ["admin"]
    assert firstuse_accepts(path, "admin", "new-password") and not firstuse_accepts(
        path, "admin", "right-password"
    )


def test_ensure_makes_a_password_only_where_none_is_set(tmp_path):
    path = str(tmp_path / "passwords.dbm")
    adminpw.set_hashes(path, {"bob": _hash("bobs-own-password")})
    made = adminpw.ensure_passwords(path, ["admin", "bob"])
    assert set(made) == {"admin"}
    assert firstuse_accepts(path, "admin", made["admin"])
    assert firstuse_accepts(path, "bob", "bobs-own-password")  # kept
    assert adminpw.ensure_passwords(path, ["admin", "bob"]) == {}  # never replaced


@pytest.mark.parametrize(
    ("hashes", "needle"),
    [
        ({"admin": "plain-text"}, "tljh_admin_password_hashes.admin must be a bcrypt hash"),
        ({"admin": "$2b$12$short"}, "must be a bcrypt hash"),
        ({"Admin": _hash("x" * 10)}, "lower-case user name"),
        ({"a b": _hash("x" * 10)}, "lower-case user name"),
        (["admin"], "must be a mapping"),
    ],
)
def test_bad_names_and_hashes_are_named(hashes, needle):
    with pytest.raises(ValueError, match=needle.replace("$", r"\$")):
        adminpw.check_hashes(hashes, "tljh_admin_password_hashes")


def test_the_command_line_the_role_and_first_boot_run(tmp_path):
    path = str(tmp_path / "passwords.dbm")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tljh_skyhub.adminpw", "--dbm", path, *args],
            input=stdin, capture_output=True, text=True, check=False, cwd=PLUGIN,
        )  # fmt: skip

    res = run("set", stdin=json.dumps({"admin": _hash("from-the-role")}))
    assert res.returncode == 0 and json.loads(res.stdout) == {"changed": ["admin"]}
    res = run("ensure", "admin", "carol")
    made = json.loads(res.stdout)["made"]
    assert set(made) == {"carol"} and firstuse_accepts(path, "carol", made["carol"])
    bad = run("set", stdin=json.dumps({"admin": "not-a-hash"}))
    assert bad.returncode == 2 and "hashes.admin must be a bcrypt hash" in bad.stderr
