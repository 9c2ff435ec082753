"""The release-upgrade check: the previous release converged first, seeded, then this tree over it.

`python tests/appliance/upgrade.py prepare` runs in the Molecule appliance scenario's prepare step
(molecule/appliance/prepare.yml), after the host exists and before the normal converge:

1. the previous release (the commit in molecule/appliance/previous-release) is exported with `git archive`
   into the scenario's ephemeral directory;
2. its inventory is Molecule's own, less the role settings that release does not declare (its preflight
   would refuse them), plus molecule/appliance/previous-release-vars.yml;
3. that release's own playbooks/site.yml and roles converge the test host;
4. on that release, users are made and given passwords through the hub (the admin creates them with the
   REST API, then each signs in once: first-use sets the password, whether sign-up is open or closed),
   files are written into their homes through their own servers, and the hub DB's users, the files' owners
   and checksums are recorded in upgrade-seed.json.

After the normal converge of this tree, tests/appliance/test_00_upgrade.py compares the host with that record
(the *_problems functions below; tests/unit/harness/test_upgrade.py shows they report a wiped passwords
database, a wiped home, a re-created hub database).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from hub import HubError, HubUser, admin_password

SEED_FILE = "upgrade-seed.json"
# Users the seed makes: two start a server and keep files; one only signs in (a password, no home yet).
SEED_USERS = (("upgradeada", True), ("upgradeben", True), ("upgradecy", False))
HOME_FILES = ("from-previous-release.txt", "work/notes.txt")
COOKIE_SECRET = "/opt/tljh/state/jupyterhub_cookie_secret"


class UpgradeError(RuntimeError):
    pass


# ---- the previous release and its inventory -------------------------------------------------------------


def read_previous_release(path: Path) -> str:
    """The full commit id in `path` (lines starting with # are notes)."""
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1 or not re.fullmatch(r"[0-9a-f]{40}", lines[0]):
        raise UpgradeError(
            f"{path} must hold one full commit id (40 hex digits) besides # notes, found {lines!r}; "
            "write it with: git rev-parse <released commit>"
        )
    return lines[0]


def declared_settings(roles_dir: Path) -> set[str]:
    """Every option of every entry point in <roles_dir>/*/meta/argument_specs.yml."""
    names: set[str] = set()
    for spec in roles_dir.glob("*/meta/argument_specs.yml"):
        data = yaml.safe_load(spec.read_text()) or {}
        for entry in (data.get("argument_specs") or {}).values():
            names.update(str(n) for n in ((entry or {}).get("options") or {}))
    return names


def role_names(*roles_dirs: Path) -> set[str]:
    return {p.name for d in roles_dirs if d.is_dir() for p in d.iterdir() if (p / "tasks").is_dir()}


def previous_release_vars(
    group_vars: Mapping[str, Any],
    known: set[str],
    roles: Iterable[str],
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(variables for the previous release's converge, names left out).

    Left out: a name shaped like a role's setting (`<role>_...`, any role of either release) that the previous
    release does not declare, and the names in overrides["leave_out"]; overrides["settings"] are set on top.
    """
    overrides = dict(overrides or {})
    drop = set(overrides.get("leave_out") or [])
    prefixes = tuple(f"{r}_" for r in roles)
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in group_vars.items():
        unknown = name.startswith(prefixes) and name not in known and not name.startswith("_")
        if unknown or name in drop:
            dropped.append(name)
        else:
            out[name] = value
    out.update(overrides.get("settings") or {})
    return out, sorted(dropped)


def export_release(project: Path, commit: str, dest: Path) -> Path:
    """`git archive <commit>` of the project, unpacked into dest/<commit> (kept when already complete)."""
    tree = dest / commit
    if (tree / ".skyhub-exported").exists():
        return tree

    def present() -> bool:
        probe = ["git", "-C", str(project), "cat-file", "-e", f"{commit}^{{commit}}"]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    # a shallow clone (CI's may be one) lacks the commit: fetch it from the clone's origin, bounded in time
    for fetch in (["fetch", "--quiet", "origin", commit], ["fetch", "--quiet", "--unshallow", "origin"]):
        if present():
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(["git", "-C", str(project), *fetch], capture_output=True, check=False, timeout=300)
    if not present():
        raise UpgradeError(
            f"commit {commit} (molecule/appliance/previous-release) is not in this clone; a shallow clone "
            "needs `git fetch --unshallow` (or a fetch of that commit)"
        )
    archive = subprocess.run(["git", "-C", str(project), "archive", commit], capture_output=True, check=True)
    tree.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    (tree / ".skyhub-exported").touch()
    return tree


def write_inventory(
    molecule_inventory: Path, tree: Path, overrides: Mapping[str, Any], dest: Path
) -> list[str]:
    """Molecule's inventory directory copied to dest, its group_vars filtered for the previous release."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "ansible_inventory.yml").write_text((molecule_inventory / "ansible_inventory.yml").read_text())
    known = declared_settings(tree / "roles")
    roles = role_names(tree / "roles", Path(__file__).parents[2] / "roles")
    dropped: list[str] = []
    for kind in ("group_vars", "host_vars"):
        src = molecule_inventory / kind
        if not src.is_dir():
            continue
        (dest / kind).mkdir(exist_ok=True)
        for f in src.iterdir():
            data = yaml.safe_load(f.read_text()) or {}
            kept, left = previous_release_vars(data, known, roles, overrides if f.name == "all" else None)
            dropped += left
            (dest / kind / f.name).write_text(yaml.safe_dump(kept, sort_keys=True))
    return sorted(set(dropped))


def converge_previous(tree: Path, inventory: Path, ansible_cfg: Path, log: Path) -> None:
    """ansible-playbook of the previous release's own site.yml and roles, with Molecule's ansible.cfg (its
    roles_path replaced by that release's roles); output in `log`."""
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(tree / "roles"), ANSIBLE_FORCE_COLOR="0")
    if ansible_cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(ansible_cfg)
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inventory),
        "--skip-tags",
        "molecule-notest,notest",
        str(tree / "playbooks" / "site.yml"),
    ]
    print(f"upgrade: converging the previous release: {shlex.join(cmd)} (log: {log})", flush=True)
    with log.open("w") as out:
        rc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tree).returncode
    if rc != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-60:])
        raise UpgradeError(f"the previous release's converge failed (rc {rc}); end of {log}:\n{tail}")


# ---- the seed: users, passwords, homes on the previous release -------------------------------------------


def stat_paths(run: Callable[[str], str], paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{path: {"exists", "uid", "gid", "mode", "type", "sha256"}} read on the host through `run` (a shell)."""
    script = (
        'for p in "$@"; do if [ -e "$p" ]; then printf "%s\\t%s\\t%s\\n" "$p" "$(stat -c %u:%g:%a:%F "$p")" '
        '"$(if [ -f "$p" ]; then sha256sum < "$p" | cut -c1-64; fi)"; else printf "%s\\tmissing\\t\\n" "$p"; '
        "fi; done"
    )
    out = run(f"sh -c {shlex.quote(script)} sh " + " ".join(shlex.quote(p) for p in paths))
    result: dict[str, dict[str, Any]] = {}
    for line in out.splitlines():
        path, meta, digest = line.split("\t")
        if meta == "missing":
            result[path] = {"exists": False}
            continue
        uid, gid, mode, kind = meta.split(":", 3)
        result[path] = {
            "exists": True,
            "uid": int(uid),
            "gid": int(gid),
            "mode": mode,
            "type": kind,
            "sha256": digest or None,
        }
    return result


def hub_users(admin: HubUser) -> dict[str, dict[str, Any]]:
    """{name: {"created", "admin"}} of every user in the hub DB (the admin REST API)."""
    r = admin.api("GET", "/users")
    r.raise_for_status()
    return {u["name"]: {"created": u.get("created"), "admin": u.get("admin")} for u in r.json()}


def docker_run(container: str) -> Callable[[str], str]:
    def run(cmd: str) -> str:
        return subprocess.run(
            ["docker", "exec", container, "sh", "-c", cmd], capture_output=True, text=True, check=True
        ).stdout

    return run


def hub_url_of(run: Callable[[str], str]) -> str:
    # eth0, as tests/appliance/fixtures.py: the instance's own interface
    return "http://" + run("ip -4 -o addr show dev eth0").split()[3].split("/")[0]


def seed(run: Callable[[str], str], hub_url: str, admin_name: str, home_root: str) -> dict[str, Any]:
    """Users with passwords and files, made through the hub of the release on the host; the record."""
    # the admin signs in with the password the scenario's tljh_admin_password_hashes declares: the converge of
    # this tree stores that hash (the inventory is authoritative for the admin's password), so any other one
    # set here through first-use would be replaced, as the operator asked
    admin = HubUser(hub_url, admin_name, admin_password())
    admin.login()
    names = [n for n, _ in SEED_USERS]
    r = admin.api("POST", "/users", json={"usernames": names})
    if r.status_code != 201:
        raise UpgradeError(f"the admin could not create {names}: HTTP {r.status_code}: {r.text[:300]}")
    record: dict[str, Any] = {"admin": {"name": admin.name, "password": admin.password}, "users": []}
    paths: list[str] = []
    for name, with_home in SEED_USERS:
        user = HubUser(hub_url, name, secrets.token_urlsafe(16))
        user.login()  # first-use: this sets the password
        files: dict[str, str] = {}
        if with_home:
            user.start()
            r = user.server("PUT", "api/contents/work", json={"type": "directory"})
            if r.status_code not in (200, 201):
                raise UpgradeError(f"mkdir work for {name}: HTTP {r.status_code}: {r.text[:300]}")
            for rel in HOME_FILES:
                files[rel] = f"{name} wrote {rel} on the previous release ({secrets.token_hex(8)})\n"
                user.write_file(rel, files[rel])
            user.stop()
            home = f"{home_root}/{name}"
            paths += [home, f"{home}/work", *(f"{home}/{rel}" for rel in HOME_FILES)]
        record["users"].append({"name": user.name, "password": user.password, "files": files})
    record["hub_users"] = hub_users(admin)
    record["paths"] = stat_paths(run, paths)
    record["cookie_secret_sha256"] = stat_paths(run, [COOKIE_SECRET])[COOKIE_SECRET].get("sha256")
    return record


# ---- the checks after the upgrade (pure: tests/unit/harness/test_upgrade.py feeds them broken states) -----


def db_problems(before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Users of the hub DB before the upgrade missing after it, re-created (another creation time) or
    changed in their admin flag."""
    out = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            out.append(f"{name} is no longer in the hub DB")
        elif new.get("created") != old.get("created"):
            out.append(f"{name} was re-created (created {old.get('created')} -> {new.get('created')})")
        elif new.get("admin") != old.get("admin"):
            out.append(f"{name}'s admin flag changed ({old.get('admin')} -> {new.get('admin')})")
    return out


def login_problems(logins: Mapping[str, Mapping[str, bool]]) -> list[str]:
    """logins: {name: {"wrong": accepted?, "old": accepted?}}, the wrong password tried first. First-use
    login takes any password for a user it holds none for, so a wrong one accepted means the passwords
    database lost the user."""
    out = []
    for name, got in logins.items():
        if got["wrong"]:
            out.append(f"{name}: a wrong password was accepted (the passwords database lost {name})")
        if not got["old"]:
            out.append(f"{name}: the password of the previous release was refused")
    return out


def file_problems(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Paths (homes, files) recorded before the upgrade gone or changed (type, owner, mode, content)."""
    out = []
    for path, old in before.items():
        new = after.get(path, {"exists": False})
        if not new.get("exists"):
            out.append(f"{path} is gone")
            continue
        for key in ("type", "uid", "gid", "mode", "sha256"):
            if new.get(key) != old.get(key):
                out.append(f"{path}: {key} {old.get(key)} -> {new.get(key)}")
    return out


def try_login(hub_url: str, name: str, password: str) -> HubUser | None:
    user = HubUser(hub_url, name, password)
    try:
        user.login()
    except HubError:
        return None
    return user


def seed_path() -> Path | None:
    if os.environ.get("SKYHUB_UPGRADE_SEED"):
        return Path(os.environ["SKYHUB_UPGRADE_SEED"])
    if os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"):
        return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / SEED_FILE
    return None


# ---- the prepare step -------------------------------------------------------------------------------------


def prepare(project: Path, scenario: Path, ephemeral: Path) -> Path:
    t0 = time.monotonic()
    commit = read_previous_release(scenario / "previous-release")
    overrides = yaml.safe_load((scenario / "previous-release-vars.yml").read_text()) or {}
    work = ephemeral / "previous-release"
    tree = export_release(project, commit, work)
    inventory = work / "inventory"
    dropped = write_inventory(ephemeral / "inventory", tree, overrides, inventory)
    if dropped:
        print(f"upgrade: settings the previous release does not know, left out of its converge: {dropped}")
    converge_previous(tree, inventory, ephemeral / "ansible.cfg", work / "converge.log")
    t1 = time.monotonic()
    inv = yaml.safe_load((ephemeral / "inventory" / "ansible_inventory.yml").read_text())
    container = next(iter(inv["hub"]["hosts"]))
    group_vars = yaml.safe_load((ephemeral / "inventory" / "group_vars" / "all").read_text()) or {}
    admins = group_vars.get("tljh_admin_users") or []
    if not admins:
        raise UpgradeError(
            "the seed signs in as an admin: set tljh_admin_users in molecule/appliance/molecule.yml"
        )
    run = docker_run(container)
    record = seed(run, hub_url_of(run), admins[0], group_vars.get("base_home_root", "/srv/skyhub/home"))
    record["release"] = commit
    record["seconds"] = {"converge": round(t1 - t0), "seed": round(time.monotonic() - t1)}
    out = ephemeral / SEED_FILE
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    tmp.replace(out)
    seconds = record["seconds"]
    print(
        f"upgrade: previous release {commit[:12]} converged in {seconds['converge']} s, seeded in "
        f"{seconds['seed']} s: {[u['name'] for u in record['users']]} -> {out}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare", help="converge the previous release on the Molecule host and seed it")
    p.parse_args(argv)
    env = os.environ
    missing = [v for v in ("MOLECULE_PROJECT_DIRECTORY", "MOLECULE_SCENARIO_DIRECTORY") if not env.get(v)]
    missing += [] if env.get("MOLECULE_EPHEMERAL_DIRECTORY") else ["MOLECULE_EPHEMERAL_DIRECTORY"]
    if missing:
        print(
            f"upgrade prepare: run from Molecule's prepare step ({', '.join(missing)} unset)", file=sys.stderr
        )
        return 2
    try:
        prepare(
            Path(env["MOLECULE_PROJECT_DIRECTORY"]),
            Path(env["MOLECULE_SCENARIO_DIRECTORY"]),
            Path(env["MOLECULE_EPHEMERAL_DIRECTORY"]),
        )
    except subprocess.CalledProcessError as e:
        print(f"upgrade prepare: {shlex.join(e.cmd)} failed (rc {e.returncode}): {e.stderr}", file=sys.stderr)
        return 1
    except (UpgradeError, HubError) as e:
        print(f"upgrade prepare: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
