#!/usr/bin/env python3
"""skyhub-backup: encrypted, incremental backups of every home and the hub database, with restic to S3.

    skyhub-backup run                      back up now (homes + a consistent copy of the hub DB), then
                                           apply the retention policy; exits non-zero on failure
    skyhub-backup list [--user U] [--json] the snapshots in the repository (with --user: the snapshots
                                           holding that user's home, with its size and file count)
    skyhub-backup status [--json]          last success time, size, last error (also in skyhub-quota report)
    skyhub-backup restore USER [--snapshot ID] [--to DIR]
                                           restore one user's home; nobody else's files are touched
    skyhub-backup restore USER --path REL [--snapshot ID] [--to DIR]
                                           restore one file or directory of a home; the rest of the home
                                           is untouched; what was there is kept as REL.before-restore-<time>
    skyhub-backup restore-hub-db [--snapshot ID] [--to FILE]
                                           put the hub database back (stop jupyterhub first)
    skyhub-backup restore --all [--snapshot ID]
                                           disaster recovery on a new instance: every home, the hub
                                           database and the hub's state files (config.yaml, passwords,
                                           quota settings); stops the hub, restores, starts it again

Each home is its own path in a snapshot (`<home_root>/<user>`), next to the hub database copy made with
SQLite's online backup API (never a file copy of a live database) and the hub's state files (`state_files`:
TLJH's config.yaml, the first-use passwords database, the quota tool's settings), which `restore --all` puts
back on a replacement instance. Snapshots carry a fixed host name so a
replacement instance finds them. Settings: /etc/skyhub/backup.json (written by the backups role); the
restic password sits in a root-only file. Users are named by their login name; their home is DockerSpawner's
escaped form of it (safehome.home_dir_name). Root never writes a path inside a home (DESIGN.md decision 8):
restic restores into a root-only staging directory and a child running as the container user copies the
restored entry into the home through descriptors (safehome.restore_into_home). Files larger than
max_file_size and large sparse files are left out of backups (reading them is the cost, not storing them).
Standard library only: runs with the system python3 (and /usr/local/lib/skyhub/skyhub_safehome.py).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import importlib.util
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The roles install src/skyhub/safehome.py here as skyhub_safehome.py (root-owned), as the tljh role does
# for the hub; from a checkout or the skyhub package it is imported as skyhub.safehome.
SAFEHOME_DIR = "/usr/local/lib/skyhub"


def _load_safehome() -> Any:
    try:
        from skyhub import safehome  # the package (tests, the controller)

        return safehome
    except ImportError:
        pass
    here = Path(__file__).resolve().parent
    candidates = [Path(SAFEHOME_DIR) / "skyhub_safehome.py"]  # installed by the roles (tljh too)
    if here.parent.name == "skyhub":  # running from a checkout: src/skyhub/<tool>/tool.py
        candidates.append(here.parent / "safehome.py")
    for path in candidates:
        if path.is_file():
            spec = importlib.util.spec_from_file_location("safehome", path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
            return module
    sys.exit(
        f"skyhub-backup: error: {SAFEHOME_DIR}/skyhub_safehome.py is missing (the backups role installs it)"
    )


safehome = _load_safehome()
UTC = timezone.utc  # noqa: UP017  # Ubuntu 22.04's Python 3.10 has no datetime.UTC
DEFAULT_CONFIG = "/etc/skyhub/backup.json"
TAG = "skyhub"
DEFAULTS: dict[str, Any] = {
    "repository": "",
    "password_file": "/etc/skyhub/backup.password",
    "env_file": "/etc/skyhub/backup.env",
    "region": "",
    "home_root": "/srv/skyhub/home",
    "hub_db": "/opt/tljh/state/jupyterhub.sqlite",
    "work_dir": "/var/lib/skyhub/backup",
    "state_file": "/var/lib/skyhub/backup/state.json",
    "cache_dir": "/var/cache/skyhub-backup",
    "host": "skyhub",
    "keep_daily": 7,
    "keep_weekly": 4,
    "keep_monthly": 6,
    "restic": "restic",
    "quota_tool": "skyhub-quota",
    "connect_timeout": 10,
    # files larger than this are not backed up (restic --exclude-larger-than); "" = no limit
    "max_file_size": "",
    # the uid/gid every user container runs as: a one-path restore writes into the home as this user
    "container_uid": 1000,
    "container_gid": 100,
    # root-owned files of the hub that a replacement instance needs (absolute paths; globs allowed)
    "state_files": [],
    # the hub's systemd unit: `restore --all` stops it while it restores and starts it again ("" = leave it)
    "hub_service": "jupyterhub",
}
# A file this large whose allocated blocks are less than half its size is sparse: left out of backups, since
# restic would read (and hash) every byte of its size, and a user can make petabytes of it for free.
SPARSE_MIN_SIZE = 64 << 20
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class BackupError(Exception):
    """A problem the operator can act on; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def load_config(path: str) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    try:
        cfg.update(json.loads(Path(path).read_text()))
    except FileNotFoundError as exc:
        raise BackupError(f"settings file {path} does not exist (the backups role writes it)", 2) from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the settings {path}: {exc}", 2) from exc
    if not cfg["repository"]:
        raise BackupError(f"{path}: no repository set (backups_s3_bucket in the inventory)", 2)
    try:
        cfg["max_file_bytes"] = parse_size(cfg["max_file_size"])
    except ValueError as exc:
        raise BackupError(
            f"{path}: max_file_size: {exc} (backups_max_file_size in the inventory)", 2
        ) from exc
    return cfg


def parse_size(text: str | int | None) -> int | None:
    """'20G' -> bytes (binary units K, M, G, T); '' or 0 -> None (no limit)."""
    if text in (None, "", 0, "0"):
        return None
    value = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS else ""
    number = value[: len(value) - len(unit)].strip()
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(
            f"bad size {text!r}: use a whole number with an optional unit K, M, G or T (e.g. 20G)"
        )
    return int(number) * _SIZE_UNITS[unit]


# ------------------------------------------------------------------------------------------- restic


class Restic:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env_file = Path(self.cfg["env_file"])
        if env_file.exists():
            for line in env_file.read_text().splitlines():
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    env[key.strip()] = value.strip()
        if urlsplit(self.endpoint_url()).scheme == "http":
            for key in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                env.pop(key, None)
        env["RESTIC_REPOSITORY"] = self.cfg["repository"]
        env["RESTIC_PASSWORD_FILE"] = self.cfg["password_file"]
        env["RESTIC_CACHE_DIR"] = self.cfg["cache_dir"]
        return env

    def endpoint_url(self) -> str:
        repo = self.cfg["repository"]
        if not repo.startswith("s3:"):
            return ""
        rest = repo[3:]
        return rest if "://" in rest else "https://" + rest

    def check_reachable(self) -> None:
        """Fail fast with a clear message when the S3 endpoint does not answer (restic retries for long)."""
        url = self.endpoint_url()
        if not url:
            return
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection(
                (parts.hostname, port), timeout=float(self.cfg["connect_timeout"])
            ).close()
        except OSError as exc:
            raise BackupError(
                f"backup repository unreachable: cannot connect to {parts.hostname}:{port} ({exc}). "
                f"Check backups_s3_endpoint/backups_s3_region and the instance's network access to S3 "
                f"(repository {self.cfg['repository']})"
            ) from exc

    def base(self) -> list[str]:
        cmd = [self.cfg["restic"]]
        if self.cfg.get("region"):
            cmd += ["-o", f"s3.region={self.cfg['region']}"]
        return cmd

    def run(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess:
        if not Path(self.cfg["password_file"]).exists():
            raise BackupError(f"password file {self.cfg['password_file']} is missing (backups_password)", 2)
        try:
            res = subprocess.run(
                [*self.base(), *args],
                env=self.env(),
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            raise BackupError(
                "restic is not installed: apt-get install restic (the backups role does)"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise BackupError(f"restic {args[0]} did not finish within {timeout:.0f} s") from exc
        if check and res.returncode != 0:
            raise BackupError(f"restic {args[0]} failed (exit {res.returncode}): {_last_lines(res.stderr)}")
        return res

    def ensure_repository(self) -> bool:
        """Initialise the repository when there is none. True when it was created now."""
        self.check_reachable()
        res = self.run("cat", "config", check=False, timeout=300)
        if res.returncode == 0:
            return False
        err = res.stderr.lower()
        if "does not exist" in err or "unable to open config file" in err or "no such file" in err:
            self.run("init", timeout=300)
            return True
        if "wrong password" in err:
            raise BackupError("the repository exists but the password does not open it (backups_password)")
        raise BackupError(f"cannot open the backup repository: {_last_lines(res.stderr)}")

    def snapshots(self) -> list[dict[str, Any]]:
        self.check_reachable()
        out = self.run("snapshots", "--json", "--tag", TAG, timeout=300).stdout
        return json.loads(out or "[]") or []


def _last_lines(text: str, count: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-count:]) or "(no output)"


# --------------------------------------------------------------------------------------------- state


def read_state(cfg: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(Path(cfg["state_file"]).read_text())
    except (OSError, ValueError):
        return {}


def write_state(cfg: dict[str, Any], state: dict[str, Any]) -> None:
    path = Path(cfg["state_file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.chmod(0o644)
    os.replace(tmp, path)


@contextlib.contextmanager
def run_lock(cfg: dict[str, Any]) -> Iterator[None]:
    work = Path(cfg["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "run.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError("another skyhub-backup run is in progress") from exc
        yield


# -------------------------------------------------------------------------------------------- backup


def users_in(home_root: str) -> list[str]:
    root = Path(home_root)
    if not root.is_dir():
        return []
    return sorted(
        e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
    )


def state_files(cfg: dict[str, Any]) -> list[str]:
    """The hub's state files that exist now: regular files only (no link is followed or backed up)."""
    found: set[str] = set()
    for pattern in cfg.get("state_files") or []:
        if not str(pattern).startswith("/"):
            raise BackupError(f"state_files: {pattern!r} is not an absolute path (backups_state_files)", 2)
        for match in glob.glob(str(pattern)):
            st = os.lstat(match)
            if stat.S_ISREG(st.st_mode):
                found.add(match)
    return sorted(found)


def hub_db_copy_path(cfg: dict[str, Any]) -> Path:
    return Path(cfg["work_dir"]) / "hub-db" / "jupyterhub.sqlite"


def copy_hub_db(source: str, dest: Path) -> bool:
    """A consistent copy of a live SQLite database through the online backup API."""
    if not Path(source).exists():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.parent.chmod(0o700)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    tmp.chmod(0o600)
    os.replace(tmp, dest)
    return True


def run_backup(cfg: dict[str, Any], log: Any = print) -> dict[str, Any]:
    restic = Restic(cfg)
    state = read_state(cfg)
    state.update(last_attempt=now_iso())
    try:
        with run_lock(cfg):
            if restic.ensure_repository():
                log(f"initialised the repository {cfg['repository']}")
            users = users_in(cfg["home_root"])
            paths = [str(Path(cfg["home_root"]) / u) for u in users]
            db_copy = hub_db_copy_path(cfg)
            if copy_hub_db(cfg["hub_db"], db_copy):
                paths.append(str(db_copy))
            else:
                log(f"warning: no hub database at {cfg['hub_db']}; backing up the homes only")
            state_paths = state_files(cfg)
            paths += state_paths
            if not paths:
                raise BackupError(
                    f"nothing to back up: no homes under {cfg['home_root']} and no hub database"
                )
            left_out = scan_homes(cfg, users)
            for home_dir, rels in left_out.items():
                shown = ", ".join(rels[:5]) + (f" and {len(rels) - 5} more" if len(rels) > 5 else "")
                log(f"warning: {home_dir}: left out (larger than max_file_size, or sparse): {shown}")
            excludes = [str(Path(cfg["home_root"]) / h / rel) for h, rels in left_out.items() for rel in rels]
            log(f"backing up {len(users)} home(s){' and the hub database' if db_copy.exists() else ''}")
            summary = _backup(restic, cfg, paths, excludes)
            snap_id = str(summary.get("snapshot_id", "?"))[:8]
            log(f"snapshot {snap_id}: {summary.get('total_files_processed')} files")
            _forget(restic, cfg)
            size = _repository_size(restic)
    except BackupError as exc:
        state.update(last_status="failed", last_error=str(exc))
        write_state(cfg, state)
        raise
    state.update(
        last_status="ok",
        last_error="",
        last_success=now_iso(),
        last_snapshot=summary.get("snapshot_id", ""),
        snapshot_size=int(summary.get("total_bytes_processed") or 0),
        data_added=int(summary.get("data_added") or 0),
        repository_size=size,
        users=users,
        repository=cfg["repository"],
        left_out={h: rels[:100] for h, rels in left_out.items()},
    )
    write_state(cfg, state)
    return state


def restic_pattern(path: str) -> str:
    """An exclude/include pattern matching exactly this absolute path: glob characters escaped; characters an
    exclude file cannot carry ($ is expanded, whitespace trimmed, newlines split lines) matched by '?'."""
    out = []
    for char in path:
        if char in "*?[]\\":
            out.append("\\" + char)
        elif char == "$" or char.isspace() or not char.isprintable():
            out.append("?")
        else:
            out.append(char)
    return "".join(out)


def scan_homes(cfg: dict[str, Any], homes: list[str]) -> dict[str, list[str]]:
    """{home dir: [relative paths left out]}: files over max_file_size and large sparse files.

    Walked through descriptors (safehome.walk: lstat only, no link followed, one filesystem, bounded depth).
    A file that becomes huge after this scan is still bounded by restic's --exclude-larger-than."""
    limit = cfg.get("max_file_bytes")
    left_out: dict[str, list[str]] = {}
    for home_dir in homes:
        try:
            fd = safehome.open_existing(cfg["home_root"], home_dir)
        except (OSError, safehome.HomeError):
            continue
        try:
            for _, where, name, st in safehome.walk(fd):
                if not stat.S_ISREG(st.st_mode):
                    continue
                too_big = limit is not None and st.st_size > limit
                sparse = st.st_size >= SPARSE_MIN_SIZE and st.st_blocks * 512 < st.st_size // 2
                if too_big or sparse:
                    left_out.setdefault(home_dir, []).append(f"{where}/{name}" if where else name)
        finally:
            os.close(fd)
    return left_out


def _backup(restic: Restic, cfg: dict[str, Any], paths: list[str], excludes: list[str]) -> dict[str, Any]:
    extra: list[str] = []
    if cfg.get("max_file_bytes"):
        extra += ["--exclude-larger-than", str(cfg["max_file_bytes"])]
    if excludes:
        exclude_file = Path(cfg["work_dir"]) / "exclude.txt"
        exclude_file.write_text("".join(restic_pattern(p) + "\n" for p in excludes))
        extra += ["--exclude-file", str(exclude_file)]
    res = restic.run(
        "backup",
        "--json",
        "--tag",
        TAG,
        "--host",
        cfg["host"],
        "--one-file-system",
        *extra,
        *paths,
        check=False,
    )
    summary: dict[str, Any] = {}
    for line in res.stdout.splitlines():
        with contextlib.suppress(ValueError):
            msg = json.loads(line)
            if isinstance(msg, dict) and msg.get("message_type") == "summary":
                summary = msg
    if res.returncode == 3 and summary:
        raise BackupError(
            f"snapshot {summary.get('snapshot_id', '?')[:8]} is INCOMPLETE: some files could not be read: "
            f"{_last_lines(res.stderr)}"
        )
    if res.returncode != 0 or not summary:
        raise BackupError(f"restic backup failed (exit {res.returncode}): {_last_lines(res.stderr)}")
    return summary


def _forget(restic: Restic, cfg: dict[str, Any]) -> None:
    # Group by host and tag only: restic's default also groups by the path list, which changes whenever a
    # user is added, and would give every such group its own full retention (nothing ever pruned).
    restic.run(
        "forget",
        "--tag",
        TAG,
        "--host",
        cfg["host"],
        "--group-by",
        "host,tags",
        "--keep-daily",
        str(cfg["keep_daily"]),
        "--keep-weekly",
        str(cfg["keep_weekly"]),
        "--keep-monthly",
        str(cfg["keep_monthly"]),
        "--prune",
    )


def _repository_size(restic: Restic) -> int:
    res = restic.run("stats", "--json", "--mode", "raw-data", check=False, timeout=600)
    with contextlib.suppress(ValueError):
        return int(json.loads(res.stdout).get("total_size") or 0)
    return 0


# ------------------------------------------------------------------------------------------- restore


def _snapshot(restic: Restic, cfg: dict[str, Any], wanted: str | None, path: str) -> dict[str, Any]:
    snaps = [s for s in restic.snapshots() if s.get("hostname") == cfg["host"]]
    if wanted and wanted != "latest":
        match = [s for s in snaps if s["id"].startswith(wanted) or s.get("short_id") == wanted]
        if not match:
            raise BackupError(f"no snapshot {wanted!r} (see skyhub-backup list)")
        if path not in match[0].get("paths", []):
            raise BackupError(f"snapshot {wanted} does not contain {path}")
        return match[0]
    with_path = [s for s in snaps if path in s.get("paths", [])]
    if not with_path:
        raise BackupError(f"no snapshot contains {path} (see skyhub-backup list)")
    return max(with_path, key=lambda s: s["time"])


def home_dir_of(login: str) -> str:
    """The home directory name of a login name (DockerSpawner's escaping), or a clear error."""
    try:
        return safehome.check_login(login)
    except safehome.HomeError as exc:
        raise BackupError(f"bad user name: {exc}", 2) from exc


def _outside_homes(cfg: dict[str, Any], to: str) -> Path:
    """--to must not be inside the home root: root writes there by path."""
    dest = Path(to).resolve()
    homes = Path(cfg["home_root"]).resolve()
    if dest == homes or homes in dest.parents:
        raise BackupError(
            f"--to {to} is inside the home root {cfg['home_root']}: give a directory outside the homes "
            "(e.g. /root/restored), or restore into the home with --path",
            2,
        )
    return dest


def _staging(cfg: dict[str, Any]) -> Path:
    """A fresh root-only directory on the home volume (mkdtemp: random name, created exclusively, 0700).
    The home root is root's (0755) and no home name starts with a dot, so no user can plant or reach it."""
    return Path(tempfile.mkdtemp(prefix=".skyhub-restore-", dir=cfg["home_root"]))


def restore_user(
    cfg: dict[str, Any], user: str, snapshot: str | None, to: str | None, log: Any = print
) -> Path:
    """Restore one home. Without --to the home is replaced (the old one is kept aside); nothing else moves."""
    restic = Restic(cfg)
    home_dir = home_dir_of(user)
    home = Path(cfg["home_root"]) / home_dir
    dest_root = _outside_homes(cfg, to) if to else None  # bad input fails before restic is asked anything
    snap = _snapshot(restic, cfg, snapshot, str(home))
    if dest_root:
        dest_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".skyhub-restore-", dir=dest_root))
    else:
        staging = _staging(cfg)
    try:
        restic.run("restore", snap["id"], "--target", str(staging), "--include", restic_pattern(str(home)))
        restored = staging / str(home).lstrip("/")
        if not restored.is_dir() or restored.is_symlink():
            raise BackupError(f"snapshot {snap['short_id']} has no files for {user}")
        target = dest_root / home_dir if dest_root else home
        aside = _move_aside(cfg, target) if os.path.lexists(target) else None
        os.replace(restored, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"restored {user}'s home from snapshot {snap['short_id']} ({snap['time'][:19]}) to {target}")
    if aside:
        log(f"the previous contents are kept in {aside} (delete it when satisfied)")
    if not to:
        _reapply_quota(cfg, user, log)
    return target


def restore_path(
    cfg: dict[str, Any], user: str, rel_path: str, snapshot: str | None, to: str | None, log: Any = print
) -> str:
    """Restore one file or directory of a home from a snapshot, leaving the rest of the home alone.

    restic restores it into a root-only staging directory; root opens the restored entry there (O_NOFOLLOW
    at every step) and a child running as the container user, holding only that descriptor and the home's,
    copies it into the home (safehome.restore_into_home): parents are walked with O_NOFOLLOW, files are
    created new, an existing entry is renamed to <name>.before-restore-<time>. A link the user planted at the
    path or on a parent is never followed."""
    restic = Restic(cfg)
    home_dir = home_dir_of(user)
    try:
        parts = safehome.check_rel_path(rel_path)
    except safehome.HomeError as exc:
        raise BackupError(f"--path: {exc}", 2) from exc
    home = Path(cfg["home_root"]) / home_dir
    if not to and not home.is_dir():
        raise BackupError(
            f"{user} has no home {home}: restore the whole home first (skyhub-backup restore {user})"
        )
    dest_root = _outside_homes(cfg, to) if to else None
    snap = _snapshot(restic, cfg, snapshot, str(home))
    wanted = "/".join([str(home), *parts])
    if dest_root:
        dest_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        restic.run("restore", snap["id"], "--target", str(dest_root), "--include", restic_pattern(wanted))
        target = dest_root / wanted.lstrip("/")
        if not os.path.lexists(target):
            raise BackupError(f"snapshot {snap['short_id']} has no {rel_path} in {user}'s home")
        log(f"restored {rel_path} of {user}'s home from snapshot {snap['short_id']} to {target}")
        return str(target)
    staging = _staging(cfg)
    try:
        restic.run("restore", snap["id"], "--target", str(staging), "--include", restic_pattern(wanted))
        src_fd = _open_staged(staging, [*str(home).strip("/").split("/"), *parts])
        if src_fd is None:
            raise BackupError(
                f"snapshot {snap['short_id']} ({snap['time'][:19]}) has no file or directory {rel_path} in "
                f"{user}'s home (see skyhub-backup list --user {user})"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        try:
            answer = safehome.restore_into_home(
                cfg["home_root"],
                home_dir,
                "/".join(parts),
                src_fd,
                int(cfg["container_uid"]),
                int(cfg["container_gid"]),
                stamp,
            )
        except (OSError, safehome.HomeError) as exc:
            raise BackupError(f"cannot restore {rel_path} into {home}: {exc}") from exc
        finally:
            os.close(src_fd)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(
        f"restored {rel_path} of {user}'s home from snapshot {snap['short_id']} ({snap['time'][:19]}): "
        f"{answer['files']} file(s), {answer['dirs']} dir(s), {answer['links']} link(s)"
    )
    if answer.get("skipped"):
        log(f"warning: not restored (special files or too deep): {', '.join(answer['skipped'][:10])}")
    if answer.get("kept"):
        log(f"the version that was there is kept as {answer['kept']} in the home")
    return "/".join(parts)


def _open_staged(staging: Path, parts: list[str]) -> int | None:
    """Descriptor of staging/parts..., every step opened with O_NOFOLLOW (None when missing or a link)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(staging, flags | os.O_DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                nxt = os.open(part, flags | os.O_NONBLOCK | (0 if last else os.O_DIRECTORY), dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = nxt
        st = os.fstat(fd)
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return None
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def _move_aside(cfg: dict[str, Any], target: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    keep = Path(cfg["home_root"]) / ".skyhub-before-restore" / f"{target.name}-{stamp}"
    if not str(target).startswith(cfg["home_root"].rstrip("/") + "/"):
        keep = target.with_name(f"{target.name}.before-restore-{stamp}")
    keep.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(target, keep)
    return keep


def _reapply_quota(cfg: dict[str, Any], user: str | None, log: Any) -> None:
    """skyhub-quota apply for one user (login name), or for every home when user is None."""
    tool = shutil.which(cfg["quota_tool"])
    if not tool:
        return
    res = subprocess.run(
        [tool, "apply", *(["--user", user] if user else [])], capture_output=True, text=True, check=False
    )
    who = f"for {user}" if user else "for every home"
    log(f"quota re-applied {who}" if res.returncode == 0 else f"warning: {tool} apply: {res.stderr.strip()}")


def _install_hub_db(restored: Path, target: Path, log: Any) -> None:
    """Put a restored database copy at target with SQLite's backup API; one already there is kept aside."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        keep = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        shutil.copy2(target, keep)
        log(f"the previous hub database is kept in {keep}")
    src, dst = sqlite3.connect(restored), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def restore_hub_db(cfg: dict[str, Any], snapshot: str | None, to: str | None, log: Any = print) -> Path:
    restic = Restic(cfg)
    db_copy = hub_db_copy_path(cfg)
    snap = _snapshot(restic, cfg, snapshot, str(db_copy))
    target = Path(to or cfg["hub_db"])
    staging = Path(cfg["work_dir"]) / f"restore-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700, parents=True)
    try:
        restic.run("restore", snap["id"], "--target", str(staging), "--include", str(db_copy))
        _install_hub_db(staging / str(db_copy).lstrip("/"), target, log)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"restored the hub database from snapshot {snap['short_id']} to {target}; restart jupyterhub")
    return target


def _hub_service(cfg: dict[str, Any], action: str, log: Any) -> bool:
    """systemctl ACTION the hub's unit; True when it was done (False when there is no unit to manage)."""
    unit = cfg.get("hub_service") or ""
    if not unit or not shutil.which("systemctl"):
        return False
    if action == "stop":
        active = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False).returncode == 0
        if not active:
            return False
    res = subprocess.run(["systemctl", action, unit], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise BackupError(f"systemctl {action} {unit} failed: {_last_lines(res.stderr)}")
    log(f"{action} {unit}")
    return True


def _put_back_file(restored: Path, target: Path, stamp: str, log: Any) -> None:
    """Install one restored root-owned state file at its path (atomic, owner and mode as backed up); a file
    that is there already is kept beside it as <name>.before-restore-<time>."""
    st = os.lstat(restored)
    if not stat.S_ISREG(st.st_mode):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore-{os.getpid()}")
    shutil.copy2(restored, tmp, follow_symlinks=False)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
    if os.path.lexists(target):
        keep = target.with_name(f"{target.name}.before-restore-{stamp}")
        os.replace(target, keep)
        log(f"the previous {target} is kept as {keep.name}")
    os.replace(tmp, target)


def restore_all(cfg: dict[str, Any], snapshot: str | None, log: Any = print) -> dict[str, Any]:
    """Disaster recovery: every home, the hub database and the hub's state files from one snapshot.

    Meant for a replacement instance converged with the same settings (the repository, its password and the
    snapshot host name). The hub is stopped while its database and files are replaced and started again;
    a home, database or file that is already there is kept aside, never deleted."""
    started = time.monotonic()
    restic = Restic(cfg)
    db_copy = hub_db_copy_path(cfg)
    snap = _snapshot(restic, cfg, snapshot, str(db_copy))
    home_root = Path(cfg["home_root"])
    homes = sorted(
        Path(p).name
        for p in snap.get("paths", [])
        if Path(p).parent == home_root and not Path(p).name.startswith(".")
    )
    files = [p for p in snap.get("paths", []) if p != str(db_copy) and Path(p).parent != home_root]
    log(
        f"snapshot {snap['short_id']} ({snap['time'][:19]}): {len(homes)} home(s), the hub database, "
        f"{len(files)} state file(s)"
    )
    home_root.mkdir(mode=0o755, parents=True, exist_ok=True)
    stopped = _hub_service(cfg, "stop", log)
    staging = _staging(cfg)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        restic.run("restore", snap["id"], "--target", str(staging))
        for home_dir in homes:
            restored = staging / str(home_root / home_dir).lstrip("/")
            if not restored.is_dir() or restored.is_symlink():
                raise BackupError(f"snapshot {snap['short_id']} has no files for the home {home_dir}")
            target = home_root / home_dir
            if os.path.lexists(target):
                log(f"the previous home {home_dir} is kept in {_move_aside(cfg, target)}")
            os.replace(restored, target)
        _install_hub_db(staging / str(db_copy).lstrip("/"), Path(cfg["hub_db"]), log)
        for path in files:
            _put_back_file(staging / path.lstrip("/"), Path(path), stamp, log)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if stopped:
            _hub_service(cfg, "start", log)
    if homes:
        _reapply_quota(cfg, None, log)
    seconds = time.monotonic() - started
    log(
        f"restored {len(homes)} home(s), the hub database and {len(files)} state file(s) from snapshot "
        f"{snap['short_id']} in {seconds:.0f} s; recovery point {snap['time'][:19]} (work after it is not in "
        "the backup)"
    )
    return {"snapshot": snap["id"], "time": snap["time"], "homes": homes, "files": files, "seconds": seconds}


# ----------------------------------------------------------------------------------------------- CLI


def _fmt_size(num: int | None) -> str:
    value = float(num or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover


def _cmd_run(cfg: dict[str, Any], args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        state = run_backup(cfg, log=lambda m: print(f"skyhub-backup: {m}", flush=True))
    except BackupError as exc:
        print(f"skyhub-backup: BACKUP FAILED: {exc}", file=sys.stderr, flush=True)
        _syslog(f"BACKUP FAILED: {exc}")
        return 1
    print(
        f"skyhub-backup: backup ok in {time.monotonic() - started:.0f} s: {len(state['users'])} home(s), "
        f"{_fmt_size(state['snapshot_size'])} backed up, {_fmt_size(state['data_added'])} new, "
        f"repository {_fmt_size(state['repository_size'])}"
    )
    return 0


def _syslog(message: str) -> None:
    """Also at priority err in the journal (stderr of a unit is logged at the default priority)."""
    if shutil.which("logger"):
        subprocess.run(["logger", "-p", "user.err", "-t", "skyhub-backup", message], check=False)


def _cmd_list(cfg: dict[str, Any], args: argparse.Namespace) -> int:
    if args.user:
        home_dir_of(args.user)  # a bad name fails before restic is asked anything
    snaps = sorted(Restic(cfg).snapshots(), key=lambda s: s["time"])
    if args.user:
        return _list_user(cfg, snaps, args.user, args.json)
    home_root = cfg["home_root"].rstrip("/") + "/"
    if args.json:
        for snap in snaps:  # the login names of the homes each snapshot holds (the paths name home dirs)
            homes = [p[len(home_root) :] for p in snap.get("paths", []) if p.startswith(home_root)]
            snap["users"] = [safehome.login_of_home_dir(h) or h for h in homes]
        print(json.dumps(snaps, indent=2))
        return 0
    print(f"{'ID':<10}{'TIME':<21}{'HOST':<12}CONTENTS")
    for s in snaps:
        homes = [p[len(home_root) :] for p in s.get("paths", []) if p.startswith(home_root)]
        users = [safehome.login_of_home_dir(h) or h for h in homes]
        extra = " + hub database" if str(hub_db_copy_path(cfg)) in s.get("paths", []) else ""
        print(f"{s['short_id']:<10}{s['time'][:19]:<21}{s.get('hostname', ''):<12}{', '.join(users)}{extra}")
    print(f"{len(snaps)} snapshot(s)")
    return 0


def user_snapshots(cfg: dict[str, Any], snaps: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    """The snapshots holding a user's home, oldest first, each with the home's size and file count."""
    restic = Restic(cfg)
    home = str(Path(cfg["home_root"]) / home_dir_of(user))
    rows = []
    for snap in snaps:
        if home not in snap.get("paths", []) or snap.get("hostname") != cfg["host"]:
            continue
        out = restic.run("ls", "--json", "--recursive", snap["id"], home, timeout=600).stdout
        files, size = 0, 0
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                node = json.loads(line)
                if node.get("struct_type") == "node" and node.get("type") == "file":
                    files += 1
                    size += int(node.get("size") or 0)
        rows.append({"id": snap["id"], "short_id": snap["short_id"], "time": snap["time"], "files": files,
                     "size": size})  # fmt: skip
    return rows


def _list_user(cfg: dict[str, Any], snaps: list[dict[str, Any]], user: str, as_json: bool) -> int:
    rows = user_snapshots(cfg, snaps, user)
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'ID':<10}{'TIME (UTC)':<21}{'FILES':>8}  SIZE")
    for row in rows:
        when = datetime.fromisoformat(row["time"][:19]).isoformat(sep=" ")
        print(f"{row['short_id']:<10}{when:<21}{row['files']:>8}  {_fmt_size(row['size'])}")
    print(f"{len(rows)} snapshot(s) hold {user}'s home ({home_dir_of(user)})")
    return 0


def _cmd_status(cfg: dict[str, Any], args: argparse.Namespace) -> int:
    state = read_state(cfg)
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
    elif not state:
        print("skyhub-backup: no backup has run yet")
    else:
        print(f"last success:    {state.get('last_success') or 'never'}")
        print(f"last attempt:    {state.get('last_attempt')} ({state.get('last_status')})")
        if state.get("last_status") != "ok":
            print(f"last error:      {state.get('last_error')}")
        snap_id = (state.get("last_snapshot") or "-")[:8]
        print(f"last snapshot:   {snap_id}, {_fmt_size(state.get('snapshot_size'))}")
        print(f"repository size: {_fmt_size(state.get('repository_size'))} ({state.get('repository', '')})")
        print(f"homes:           {', '.join(state.get('users') or []) or '-'}")
    return 0 if state.get("last_status") == "ok" else 1


def _cmd_restore(cfg: dict[str, Any], args: argparse.Namespace) -> int:
    user = args.user_opt or args.user
    log = lambda m: print(f"skyhub-backup: {m}")  # noqa: E731
    if args.all:
        if user or args.path or args.to:
            raise BackupError("restore --all takes no user, --path or --to (it restores the whole hub)", 2)
        restore_all(cfg, args.snapshot, log=log)
        return 0
    if not user or (args.user_opt and args.user and args.user_opt != args.user):
        raise BackupError(
            "name the user once: skyhub-backup restore USER (or --user USER), or restore --all", 2
        )
    if args.path:
        restore_path(cfg, user, args.path, args.snapshot, args.to, log=log)
    else:
        restore_user(cfg, user, args.snapshot, args.to, log=log)
    return 0


def _cmd_restore_db(cfg: dict[str, Any], args: argparse.Namespace) -> int:
    restore_hub_db(cfg, args.snapshot, args.to, log=lambda m: print(f"skyhub-backup: {m}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyhub-backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"settings file (default {DEFAULT_CONFIG})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="back up now and apply the retention policy").set_defaults(func=_cmd_run)
    p = sub.add_parser("list", help="snapshots in the repository")
    p.add_argument("--user", help="only the snapshots holding this user's home (login name), with sizes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("status", help="last success, size, last error (exit 1 unless the last run was ok)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)
    p = sub.add_parser("restore", help="restore one user's home, or one file or directory of it (--path)")
    p.add_argument("user", nargs="?", help="the user's login name")
    p.add_argument("--user", dest="user_opt", metavar="USER", help="the same, as an option")
    p.add_argument(
        "--path", help="only this file or directory, relative to the home (e.g. notebooks/a.ipynb)"
    )
    p.add_argument("--snapshot", help="snapshot id (default: the latest one holding this home)")
    p.add_argument("--to", help="restore into DIR (outside the homes) instead of into the home")
    p.add_argument(
        "--all",
        action="store_true",
        help="disaster recovery: every home, the hub database and the hub's state files (stops the hub)",
    )
    p.set_defaults(func=_cmd_restore)
    p = sub.add_parser("restore-hub-db", help="restore the hub database (stop jupyterhub first)")
    p.add_argument("--snapshot", help="snapshot id (default: the latest)")
    p.add_argument("--to", help="write the database to FILE instead of the hub's path")
    p.set_defaults(func=_cmd_restore_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(load_config(args.config), args))
    except BackupError as exc:
        print(f"skyhub-backup: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
