"""Admin passwords in the first-use authenticator's password database: the one copy of that code.

FirstUseAuthenticator (jupyterhub-firstuseauthenticator 1.1.1) keeps `name -> bcrypt hash` in a `dbm` file,
`dbm_path` = "passwords.dbm" relative to the hub's working directory (TLJH's unit: /opt/tljh/state), opened
with `dbm.open(path, "c", 0o600)`; a login is accepted when `bcrypt.hashpw(password, stored) == stored`, and a
name with no entry takes the password of its first login. So an admin name with a hash stored here cannot be
claimed by whoever logs in first. TLJH's own installer (`--admin name:password`) writes the same file the
same way.

Used by first boot (roles/first_boot/files/skyhub-first-boot: a hash from user-data, or a one-time password)
and by the tljh role (tljh_admin_password_hashes), both as
`/opt/tljh/hub/bin/python3 -m tljh_skyhub.adminpw ...`: the hub's own Python, so the dbm flavour is the one
the hub reads. Standard library, plus bcrypt (in the hub environment) to hash a generated password.
"""

from __future__ import annotations

import argparse
import dbm
import json
import re
import secrets
import sys
from collections.abc import Mapping

DEFAULT_DBM = "/opt/tljh/state/passwords.dbm"
# bcrypt's modular crypt format: $2a$/$2b$/$2y$, a two-digit cost, 22 characters of salt and 31 of hash.
HASH_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
# A name the first-use authenticator can store (it refuses "," and " "; JupyterHub lower-cases names).
NAME_RE = re.compile(r"^[^,\s/A-Z]{1,64}$")


def hash_problem(value: object) -> str | None:
    """Why this is not a bcrypt hash the first-use authenticator can check, or None."""
    if not isinstance(value, str) or not HASH_RE.match(value):
        return (
            "must be a bcrypt hash such as $2b$12$... (make one with "
            "`python3 -c 'import bcrypt,getpass; print(bcrypt.hashpw(getpass.getpass().encode(), "
            'bcrypt.gensalt()).decode())\'` or `htpasswd -nBC 12 "" | cut -d: -f2`)'
        )
    return None


def name_problem(value: object) -> str | None:
    """Why this cannot be an admin name in the password database, or None."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        return "must be a lower-case user name without spaces, commas or slashes (at most 64 characters)"
    return None


def check_hashes(hashes: Mapping[str, object], where: str) -> None:
    """Raise ValueError naming `where` and the entry when a name or a hash is not usable."""
    if not isinstance(hashes, Mapping):
        raise ValueError(
            f"{where} must be a mapping of user name to bcrypt hash (got {type(hashes).__name__})"
        )
    for name, value in hashes.items():
        problem = name_problem(name)
        if problem:
            raise ValueError(f"{where}: the name {name!r} {problem}")
        problem = hash_problem(value)
        if problem:
            raise ValueError(f"{where}.{name} {problem}")


def stored(path: str, name: str) -> bytes | None:
    """The hash stored for `name`, or None (also when the database does not exist yet)."""
    try:
        with dbm.open(path, "r") as db:
            return db.get(name.encode("utf8"))
    except dbm.error:
        return None


def set_hashes(path: str, hashes: Mapping[str, str]) -> list[str]:
    """Store each name's hash (replacing another); the names whose entry changed."""
    check_hashes(hashes, "hashes")
    changed = []
    with dbm.open(path, "c", 0o600) as db:
        for name, value in hashes.items():
            key = name.encode("utf8")
            if db.get(key) != value.encode():
                db[key] = value.encode()
                changed.append(name)
    return changed


def new_password() -> str:
    """A one-time password: 20 characters of [A-Za-z0-9_-] (about 120 bits)."""
    return secrets.token_urlsafe(15)


def ensure_passwords(path: str, names: list[str]) -> dict[str, str]:
    """A new password for each name that has no entry yet (its hash stored); {name: password} of those made.
    A name with an entry keeps it: a password set before (by the admin or a hash) is never replaced."""
    import bcrypt

    for name in names:
        problem = name_problem(name)
        if problem:
            raise ValueError(f"admin name {name!r} {problem}")
    made = {}
    with dbm.open(path, "c", 0o600) as db:
        for name in names:
            key = name.encode("utf8")
            if db.get(key) is not None:
                continue
            password = new_password()
            db[key] = bcrypt.hashpw(password.encode("utf8"), bcrypt.gensalt())
            made[name] = password
    return made


def verify(path: str, name: str, password: str) -> bool:
    """What FirstUseAuthenticator checks at login for a name with an entry."""
    import bcrypt

    entry = stored(path, name)
    return entry is not None and bcrypt.hashpw(password.encode("utf8"), entry) == entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tljh_skyhub.adminpw", description=__doc__.split("\n")[0])
    p.add_argument("--dbm", default=DEFAULT_DBM, help=f"the password database (default {DEFAULT_DBM})")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("set", help="store the hashes of a JSON mapping {name: bcrypt hash} read from stdin")
    ensure = sub.add_parser("ensure", help="a one-time password for each NAME without an entry")
    ensure.add_argument("names", nargs="+")
    args = p.parse_args(argv)
    try:
        if args.command == "set":
            out = {"changed": set_hashes(args.dbm, json.loads(sys.stdin.read() or "{}"))}
        else:
            out = {"made": ensure_passwords(args.dbm, args.names)}
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"skyhub adminpw: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
