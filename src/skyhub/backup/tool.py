#!/usr/bin/env python3
"""skyhub-backup: encrypted, incremental backups of every home and the hub database, with restic to S3.

    skyhub-backup run                      back up now (homes + a consistent copy of the hub DB), then
                                           apply the retention policy; exits non-zero on failure
    skyhub-backup list [--json]            the snapshots in the repository
    skyhub-backup status [--json]          last success time, size, last error (also in skyhub-quota report)
    skyhub-backup restore USER [--snapshot ID] [--to DIR]
                                           restore one user's home; nobody else's files are touched
    skyhub-backup restore-hub-db [--snapshot ID] [--to FILE]
                                           put the hub database back (stop jupyterhub first)

Each home is its own path in a snapshot (`<home_root>/<user>`), next to the hub database copy made with
SQLite's online backup API (never a file copy of a live database). Snapshots carry a fixed host name so a
replacement instance finds them. Settings: /etc/skyhub/backup.json (written by the backups role); the
restic password sits in a root-only file. Standard library only: runs with the system python3.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
}


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
    return cfg


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
            if not paths:
                raise BackupError(
                    f"nothing to back up: no homes under {cfg['home_root']} and no hub database"
                )
            log(f"backing up {len(users)} home(s){' and the hub database' if db_copy.exists() else ''}")
            summary = _backup(restic, cfg, paths)
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
    )
    write_state(cfg, state)
    return state


def _backup(restic: Restic, cfg: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    res = restic.run(
        "backup", "--json", "--tag", TAG, "--host", cfg["host"], "--one-file-system", *paths, check=False
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


def restore_user(
    cfg: dict[str, Any], user: str, snapshot: str | None, to: str | None, log: Any = print
) -> Path:
    """Restore one home. Without --to the home is replaced (the old one is kept aside); nothing else moves."""
    restic = Restic(cfg)
    home = Path(cfg["home_root"]) / user
    snap = _snapshot(restic, cfg, snapshot, str(home))
    if to:
        dest_root = Path(to)
        dest_root.mkdir(parents=True, exist_ok=True)
        staging = dest_root / f".skyhub-restore-{os.getpid()}"
    else:
        staging = Path(cfg["home_root"]) / f".skyhub-restore-{user}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700, parents=True)
    try:
        restic.run("restore", snap["id"], "--target", str(staging), "--include", str(home))
        restored = staging / str(home).lstrip("/")
        if not restored.is_dir():
            raise BackupError(f"snapshot {snap['short_id']} has no files for {user}")
        target = Path(to) / user if to else home
        aside = _move_aside(cfg, target) if target.exists() else None
        os.replace(restored, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"restored {user}'s home from snapshot {snap['short_id']} ({snap['time'][:19]}) to {target}")
    if aside:
        log(f"the previous contents are kept in {aside} (delete it when satisfied)")
    if not to:
        _reapply_quota(cfg, user, log)
    return target


def _move_aside(cfg: dict[str, Any], target: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    keep = Path(cfg["home_root"]) / ".skyhub-before-restore" / f"{target.name}-{stamp}"
    if not str(target).startswith(cfg["home_root"].rstrip("/") + "/"):
        keep = target.with_name(f"{target.name}.before-restore-{stamp}")
    keep.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(target, keep)
    return keep


def _reapply_quota(cfg: dict[str, Any], user: str, log: Any) -> None:
    tool = shutil.which(cfg["quota_tool"])
    if not tool:
        return
    res = subprocess.run([tool, "apply", "--user", user], capture_output=True, text=True, check=False)
    log(
        f"quota re-applied for {user}"
        if res.returncode == 0
        else f"warning: {tool} apply: {res.stderr.strip()}"
    )


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
        restored = staging / str(db_copy).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            keep = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            shutil.copy2(target, keep)
            log(f"the previous database is kept in {keep}")
        src, dst = sqlite3.connect(restored), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"restored the hub database from snapshot {snap['short_id']} to {target}; restart jupyterhub")
    return target


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
    snaps = sorted(Restic(cfg).snapshots(), key=lambda s: s["time"])
    if args.json:
        print(json.dumps(snaps, indent=2))
        return 0
    home_root = cfg["home_root"].rstrip("/") + "/"
    print(f"{'ID':<10}{'TIME':<21}{'HOST':<12}CONTENTS")
    for s in snaps:
        users = [p[len(home_root) :] for p in s.get("paths", []) if p.startswith(home_root)]
        extra = " + hub database" if str(hub_db_copy_path(cfg)) in s.get("paths", []) else ""
        print(f"{s['short_id']:<10}{s['time'][:19]:<21}{s.get('hostname', ''):<12}{', '.join(users)}{extra}")
    print(f"{len(snaps)} snapshot(s)")
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
    restore_user(cfg, args.user, args.snapshot, args.to, log=lambda m: print(f"skyhub-backup: {m}"))
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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("status", help="last success, size, last error (exit 1 unless the last run was ok)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)
    p = sub.add_parser("restore", help="restore one user's home")
    p.add_argument("user")
    p.add_argument("--snapshot", help="snapshot id (default: the latest one holding this home)")
    p.add_argument("--to", help="restore into DIR/USER instead of replacing the home")
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
