#!/usr/bin/env python3
"""skyhub-quota: per-user storage quotas (XFS project quotas) on the home volume, and usage reports.

    skyhub-quota set USER SIZE      give one user a quota (remembered; wins over the inventory sizes)
    skyhub-quota apply [--user U]   apply the configured sizes to every home (run by a path unit + timer)
    skyhub-quota report [--json]    used / quota / percent, memory and CPU limits, warning flag, last backup
    skyhub-quota check              say whether quotas can be enforced here, and if not why and how to fix

Each home `<home_root>/<home dir>` is an XFS project; the home dir is DockerSpawner's escaped form of the
login name (safehome.home_dir_name), sizes are given per login name, and the report shows login names.
Project ids are allocated once per home from a mapping kept in /etc/projid (`skyhub-<home dir>:<id>`) and
/etc/projects (`<id>:<path>`): the next id above every id ever used, never reused. Where the kernel or
filesystem cannot enforce project quotas, every command says so (what, why, how to fix) and usage is still
measured by walking the tree; nothing pretends.
Standard library only: it runs with the system python3 on the instance (the quotas role installs it, and
skyhub_safehome.py in /usr/local/lib/skyhub: root never writes a path inside a home, DESIGN.md decision 8).
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
        f"skyhub-quota: error: {SAFEHOME_DIR}/skyhub_safehome.py is missing (the quotas role installs it)"
    )


safehome = _load_safehome()
DEFAULT_CONFIG = "/etc/skyhub/quotas.json"
PROJECT_PREFIX = "skyhub-"
NOTICE_NAME = "QUOTA-WARNING.txt"
EXIT_USAGE = 2
EXIT_NOT_ENFORCED = 3
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE)

DEFAULTS: dict[str, Any] = {
    "home_root": "/srv/skyhub/home",
    "default_size": "10G",
    "user_sizes": {},
    "group_sizes": {},
    "warn_percent": 90,
    "hub_db": "/opt/tljh/state/jupyterhub.sqlite",
    # prints the hub's limits per user from config.yaml (the skyhub TLJH plugin owns the rules)
    "limits_command": ["/opt/tljh/hub/bin/skyhub-tljh-limits"],
    "backup_state_file": "/var/lib/skyhub/backup/state.json",
    "state_file": "/var/lib/skyhub/quota/state.json",
    "projid_file": "/etc/projid",
    "projects_file": "/etc/projects",
    "first_project_id": 10000,
    "notice_name": NOTICE_NAME,
    # the uid/gid every user container runs as: notices are written as this user, never as root
    "container_uid": 1000,
    "container_gid": 100,
}


class QuotaError(Exception):
    """A problem the operator can act on; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------------------------- sizes


def parse_size(text: str | int) -> int:
    """'10G' -> bytes. Binary units (K, M, G, T, P; optional 'iB'/'B'), plain numbers are bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE_RE.match(str(text))
        if not match:
            raise QuotaError(
                f"bad size {text!r}: use a number with an optional binary unit, e.g. 500M, 10G, 1.5T",
                EXIT_USAGE,
            )
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value <= 0:
        raise QuotaError(f"bad size {text!r}: a quota must be larger than zero", EXIT_USAGE)
    return value


def format_size(num: int | None) -> str:
    """Bytes -> '1.5G' style (binary units), '-' for None."""
    if num is None:
        return "-"
    value = float(num)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return f"{int(value)}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}P"  # pragma: no cover


# --------------------------------------------------------------------------------------------- config


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    cfg = dict(DEFAULTS)
    p = Path(path)
    if p.exists():
        try:
            cfg.update(json.loads(p.read_text()))
        except (OSError, ValueError) as exc:
            raise QuotaError(f"cannot read the settings {p}: {exc}") from exc
    elif str(path) != DEFAULT_CONFIG:
        raise QuotaError(f"settings file {p} does not exist (the quotas role writes {DEFAULT_CONFIG})")
    for name, size in [("default_size", cfg["default_size"])] + [
        (f"user_sizes[{k}]", v) for k, v in cfg["user_sizes"].items()
    ]:
        try:
            parse_size(size)
        except QuotaError as exc:
            raise QuotaError(f"{p}: {name}: {exc}", EXIT_USAGE) from exc
    return cfg


def _read_json(path: str, default: Any) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        print(f"skyhub-quota: warning: cannot read {path}: {exc}", file=sys.stderr)
        return default


def _write_atomic(path: str | Path, text: str, mode: int = 0o644) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, p)


# ------------------------------------------------------------------------------------- users, groups


def home_users(home_root: str) -> list[str]:
    """Home directory names under the home root (dot-dirs are ours: no escaped name starts with a dot)."""
    root = Path(home_root)
    if not root.is_dir():
        return []
    return sorted(
        e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
    )


def hub_memberships(hub_db: str) -> tuple[set[str], dict[str, list[str]]]:
    """(users known to the hub, {user: [groups]}) from the hub database, opened read-only."""
    if not Path(hub_db).exists():
        return set(), {}
    try:
        con = sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=5)
        try:
            users = {row[0] for row in con.execute("SELECT name FROM users")}
            groups: dict[str, list[str]] = {}
            rows = con.execute(
                "SELECT u.name, g.name FROM users u JOIN user_group_map m ON m.user_id = u.id "
                "JOIN groups g ON g.id = m.group_id ORDER BY g.name"
            )
            for user, group in rows:
                groups.setdefault(user, []).append(group)
        finally:
            con.close()
    except sqlite3.Error as exc:
        print(f"skyhub-quota: warning: cannot read the hub database {hub_db}: {exc}", file=sys.stderr)
        return set(), {}
    return users, groups


def effective_size(
    cfg: dict[str, Any], overrides: dict[str, str], user: str, groups: list[str]
) -> tuple[int, str]:
    """(bytes, where it came from): `set` override > user size > largest group size > default."""
    if user in overrides:
        return parse_size(overrides[user]), "set"
    if user in cfg["user_sizes"]:
        return parse_size(cfg["user_sizes"][user]), "user"
    sized = [(parse_size(cfg["group_sizes"][g]), g) for g in groups if g in cfg["group_sizes"]]
    if sized:
        size, group = max(sized)
        return size, f"group:{group}"
    return parse_size(cfg["default_size"]), "default"


def hub_limits(command: list[str], groups: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Memory/CPU limits per user as the hub's spawner applies them, asked from the hub's own code
    (`limits_command`, the skyhub TLJH plugin reading config.yaml). {} with a warning if it cannot say."""
    try:
        res = subprocess.run(
            command,
            input=json.dumps({"users": groups}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if res.returncode != 0:
            raise OSError(res.stderr.strip()[-300:] or f"exit {res.returncode}")
        return json.loads(res.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        print(
            f"skyhub-quota: warning: cannot read the hub's limits ({' '.join(command)}): {exc}",
            file=sys.stderr,
        )
        return {}


# -------------------------------------------------------------------------------------- project ids


class ProjectMap:
    """The persistent user -> project id mapping (/etc/projid + /etc/projects + a high-water mark).

    Ids are allocated once: the next id above every id that appears in /etc/projid and above the highest
    id this tool ever handed out, so ids of removed users are never given to someone else.
    """

    def __init__(self, cfg: dict[str, Any], state: dict[str, Any]) -> None:
        self.projid_file = Path(cfg["projid_file"])
        self.projects_file = Path(cfg["projects_file"])
        self.home_root = cfg["home_root"]
        self.first_id = int(cfg["first_project_id"])
        self.state = state
        self.names: dict[str, int] = {}
        self.other_lines: list[str] = []
        self._load()

    def _load(self) -> None:
        if not self.projid_file.exists():
            return
        for line in self.projid_file.read_text().splitlines():
            name, sep, num = line.strip().partition(":")
            if sep and num.strip().isdigit():
                self.names[name] = int(num)

    def id_for(self, user: str) -> int | None:
        return self.names.get(PROJECT_PREFIX + user)

    def ensure(self, user: str) -> int:
        existing = self.id_for(user)
        if existing is not None:
            return existing
        used = set(self.names.values())
        candidate = max([self.first_id - 1, int(self.state.get("highest_project_id", 0)), *used]) + 1
        while candidate in used:  # pragma: no cover - max() already excludes this
            candidate += 1
        self.names[PROJECT_PREFIX + user] = candidate
        self.state["highest_project_id"] = candidate
        self._save()
        return candidate

    def _save(self) -> None:
        ours = {n: i for n, i in self.names.items() if n.startswith(PROJECT_PREFIX)}
        foreign_projid = [
            line
            for line in (self.projid_file.read_text().splitlines() if self.projid_file.exists() else [])
            if line.strip() and not line.startswith(PROJECT_PREFIX)
        ]
        foreign_projects = [
            line
            for line in (self.projects_file.read_text().splitlines() if self.projects_file.exists() else [])
            if line.strip() and not _is_our_project_line(line, ours)
        ]
        projid = foreign_projid + [f"{n}:{i}" for n, i in sorted(ours.items(), key=lambda kv: kv[1])]
        projects = foreign_projects + [
            f"{i}:{Path(self.home_root) / n[len(PROJECT_PREFIX) :]}"
            for n, i in sorted(ours.items(), key=lambda kv: kv[1])
        ]
        _write_atomic(self.projid_file, "\n".join(projid) + "\n")
        _write_atomic(self.projects_file, "\n".join(projects) + "\n")


def _is_our_project_line(line: str, ours: dict[str, int]) -> bool:
    num = line.partition(":")[0].strip()
    return num.isdigit() and int(num) in set(ours.values())


# -------------------------------------------------------------------------------------- enforcement


@dataclass
class Enforcement:
    available: bool
    mountpoint: str
    fstype: str
    device: str
    what: str = ""
    why: str = ""
    fix: str = ""

    def explain(self) -> str:
        if self.available:
            return f"enforced: XFS project quotas on {self.mountpoint} ({self.device})"
        return f"NOT ENFORCED: {self.what}. Why: {self.why}. Fix: {self.fix}"


def find_mount(path: str, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, str, str, set[str]]:
    """(mountpoint, fstype, device, options) of the filesystem holding path."""
    target = os.path.realpath(path)
    best: tuple[str, str, str, set[str]] = ("/", "unknown", "unknown", set())
    try:
        lines = Path(mountinfo).read_text().splitlines()
    except OSError:
        return best
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 6 or len(rfields) < 3:
            continue
        mnt = fields[4].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
            opts = set(fields[5].split(",")) | set(rfields[2].split(","))
            best = (mnt, rfields[0], rfields[1], opts)
    return best


def detect_enforcement(home_root: str, mountinfo: str = "/proc/self/mountinfo") -> Enforcement:
    mnt, fstype, device, opts = find_mount(home_root, mountinfo)
    enf = Enforcement(False, mnt, fstype, device)
    how_volume = (
        "put the homes on their own XFS volume mounted with prjquota (set quotas_device to a blank device "
        "and quotas_format_device: true, or add `<device> "
        f"{home_root} xfs defaults,prjquota 0 2` to /etc/fstab and mount it)"
    )
    if not Path(home_root).is_dir():
        enf.what = f"home root {home_root} does not exist"
        enf.why = "there is nothing to put quotas on yet"
        enf.fix = "run the base role (it creates base_home_root) or create the directory"
    elif fstype != "xfs":
        enf.what = f"quotas are not enforced on {home_root}"
        enf.why = (
            f"it is on the {fstype} filesystem (mount {mnt}, {device}); per-user limits need XFS project "
            "quotas because every container runs as uid 1000"
        )
        enf.fix = how_volume + "; the kernel must have CONFIG_XFS_QUOTA (Debian's kernels do)"
    elif not opts & {"prjquota", "pquota", "pqnoenforce", "prjnoenforce"}:
        enf.what = f"quotas are not enforced on {home_root}"
        enf.why = f"the XFS filesystem {device} at {mnt} is mounted without project quota accounting"
        enf.fix = (
            f"add prjquota to its mount options in /etc/fstab and mount it again (umount {mnt} && mount "
            f"{mnt}; for the root filesystem add rootflags=prjquota to the kernel command line and reboot)"
        )
    elif opts & {"pqnoenforce", "prjnoenforce"}:
        enf.what = f"project quotas on {mnt} are accounted but not enforced"
        enf.why = "the filesystem is mounted with pqnoenforce"
        enf.fix = f"mount {mnt} with prjquota instead of pqnoenforce"
    elif not shutil.which("xfs_quota"):
        enf.what = "quotas cannot be set"
        enf.why = "the xfs_quota program (Debian package xfsprogs) is not installed"
        enf.fix = "apt-get install xfsprogs (the quotas role does this)"
    else:
        enf.available = True
    return enf


def _xfs_quota(mountpoint: str, command: str) -> str:
    res = subprocess.run(
        ["xfs_quota", "-x", "-c", command, mountpoint], capture_output=True, text=True, check=False
    )
    if res.returncode != 0 or "rror" in res.stderr:
        raise QuotaError(f"xfs_quota -x -c {command!r} {mountpoint} failed: {res.stderr.strip()}")
    return res.stdout


# struct fsxattr (linux/fs.h): xflags, extsize, nextents, projid, cowextsize, 8 bytes of padding
_FSXATTR = struct.Struct("=5I8x")
FS_IOC_FSGETXATTR = 0x801C581F  # _IOR('X', 31, struct fsxattr)
FS_IOC_FSSETXATTR = 0x401C5820  # _IOW('X', 32, struct fsxattr)
FS_XFLAG_PROJINHERIT = 0x200


def get_project(fd: int) -> tuple[int, bool]:
    """(project id, inherit flag) of an open file or directory."""
    xflags, _, _, projid, _ = _FSXATTR.unpack(fcntl.ioctl(fd, FS_IOC_FSGETXATTR, bytes(_FSXATTR.size)))
    return projid, bool(xflags & FS_XFLAG_PROJINHERIT)


def _set_project_fd(fd: int, project_id: int, inherit: bool) -> bool:
    fields = list(_FSXATTR.unpack(fcntl.ioctl(fd, FS_IOC_FSGETXATTR, bytes(_FSXATTR.size))))
    if fields[3] == project_id and (not inherit or fields[0] & FS_XFLAG_PROJINHERIT):
        return False
    fields[3] = project_id
    if inherit:
        fields[0] |= FS_XFLAG_PROJINHERIT
    fcntl.ioctl(fd, FS_IOC_FSSETXATTR, _FSXATTR.pack(*fields))
    return True


_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def set_project_tree(home_fd: int, project_id: int) -> dict[str, int]:
    """Put a home and everything in it into a project, through descriptors only.

    Replaces `xfs_quota -x -c 'project -s'`, whose walk (nftw with FTW_PHYS) re-opens every entry by its full
    path with plain open(2): a user who swaps a directory for a symlink between the walk's lstat and that open
    makes root change files outside the home, and a file swapped for a FIFO blocks the open (and every later
    quota apply) forever. Here every entry is opened relative to its parent's descriptor with O_NOFOLLOW and
    O_NONBLOCK and changed only when it is the entry examined; symlinks and special files are left alone
    (links take no data blocks), and directories get the inherit flag so new files join the project.
    """
    counts = {"changed": 0, "failed": 0}
    if _set_project_fd(home_fd, project_id, inherit=True):
        counts["changed"] += 1
    for parent, _, name, st in safehome.walk(home_fd):
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (is_dir or stat.S_ISREG(st.st_mode)):
            continue
        try:
            fd = os.open(name, _OPEN_FLAGS | (os.O_DIRECTORY if is_dir else 0), dir_fd=parent)
        except OSError:
            counts["failed"] += 1
            continue
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino, stat.S_IFMT(now.st_mode)) != (
                st.st_dev,
                st.st_ino,
                stat.S_IFMT(st.st_mode),
            ):
                counts["failed"] += 1  # swapped meanwhile
            elif _set_project_fd(fd, project_id, inherit=is_dir):
                counts["changed"] += 1
        except OSError:
            counts["failed"] += 1
        finally:
            os.close(fd)
    return counts


def xfs_set(enf: Enforcement, home_root: str, name: str, project_id: int, size: int) -> None:
    fd = safehome.open_existing(home_root, name)
    try:
        if get_project(fd) != (project_id, True):
            set_project_tree(fd, project_id)
    finally:
        os.close(fd)
    kib = max(1, size // 1024)
    _xfs_quota(enf.mountpoint, f"limit -p bsoft={kib}k bhard={kib}k {project_id}")


def xfs_usage(enf: Enforcement) -> dict[int, tuple[int, int]]:
    """{project id: (used bytes, hard limit bytes)} from xfs_quota's report."""
    out = _xfs_quota(enf.mountpoint, "report -p -b -N -n")
    usage: dict[int, tuple[int, int]] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].lstrip("#").isdigit():
            usage[int(parts[0].lstrip("#"))] = (int(parts[1]) * 1024, int(parts[3]) * 1024)
    return usage


def tree_usage(home_root: str, name: str) -> int:
    """Disk usage of a home like `du -sx` (allocated blocks: a sparse file counts what it occupies; hard links
    once; links never followed; walked through descriptors, see safehome.walk). 0 when there is no home."""
    try:
        fd = safehome.open_existing(home_root, name)
    except (OSError, safehome.HomeError):
        return 0
    try:
        used, complete = safehome.tree_usage(fd)
    finally:
        os.close(fd)
    if not complete:
        print(
            f"skyhub-quota: warning: {home_root}/{name} is deeper than {safehome.MAX_WALK_DEPTH} levels; "
            "its usage is counted down to that depth",
            file=sys.stderr,
        )
    return used


# ------------------------------------------------------------------------------------------ the work


@dataclass
class UserRow:
    user: str  # the login name (from the hub database; decoded from the home name when the hub has none)
    used: int
    quota: int
    source: str
    percent: float
    warn: bool
    project_id: int | None
    mem_limit: Any
    cpu_limit: Any
    last_backup: str | None
    home: str
    home_dir: str = ""  # the home directory's name (DockerSpawner's escaped login name)
    known_to_hub: bool = True


@dataclass
class Report:
    enforcement: Enforcement
    warn_percent: float
    users: list[UserRow] = field(default_factory=list)
    backup: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enforced": self.enforcement.available,
            "enforcement": asdict(self.enforcement),
            "warn_percent": self.warn_percent,
            "backup": self.backup,
            "users": [asdict(u) for u in self.users],
            "problems": self.problems,
        }


class Quotas:
    """Quotas per home directory. Users are named by their login name; each maps to one home directory
    (safehome.home_dir_name, DockerSpawner's escaping) and the project ids are kept per home directory."""

    def __init__(self, cfg: dict[str, Any], mountinfo: str = "/proc/self/mountinfo") -> None:
        self.cfg = cfg
        self.state: dict[str, Any] = _read_json(cfg["state_file"], {}) or {}
        self.state.setdefault("overrides", {})
        self.projects = ProjectMap(cfg, self.state)
        self.enf = detect_enforcement(cfg["home_root"], mountinfo)
        self.hub_users, self.groups = hub_memberships(cfg["hub_db"])
        self.uid, self.gid = int(cfg["container_uid"]), int(cfg["container_gid"])
        self.problems: list[str] = []
        self.login_of: dict[str, str] = {}
        for login in sorted(self.hub_users):
            try:
                name = safehome.check_login(login)
            except safehome.HomeError as exc:
                self.problems.append(f"hub user {login!r} has no usable home: {exc}")
                continue
            if name in self.login_of:  # impossible with DockerSpawner's escaping, but never share a home
                self.problems.append(
                    f"hub users {self.login_of[name]!r} and {login!r} would share the home {name}"
                )
                continue
            self.login_of[name] = login

    def save_state(self) -> None:
        _write_atomic(self.cfg["state_file"], json.dumps(self.state, indent=2, sort_keys=True) + "\n")

    def home(self, home_dir: str) -> Path:
        return Path(self.cfg["home_root"]) / home_dir

    def login(self, home_dir: str) -> str:
        """The login name of a home directory: the hub's user, else the name the escaping decodes to."""
        return self.login_of.get(home_dir) or safehome.login_of_home_dir(home_dir) or home_dir

    def size_of(self, login: str) -> tuple[int, str]:
        return effective_size(self.cfg, self.state["overrides"], login, self.groups.get(login, []))

    def set_user(self, login: str, size_text: str) -> tuple[int, bool]:
        size = parse_size(size_text)
        try:
            home_dir = safehome.check_login(login)
        except safehome.HomeError as exc:
            raise QuotaError(f"bad user name: {exc}", EXIT_USAGE) from exc
        if not self.home(home_dir).is_dir() and login not in self.hub_users:
            raise QuotaError(
                f"unknown user {login!r}: no home {self.home(home_dir)} and not in the hub database "
                f"{self.cfg['hub_db']}",
                EXIT_USAGE,
            )
        self.state["overrides"][login] = size_text.strip()
        self.projects.ensure(home_dir)
        self.save_state()
        enforced = self.apply_user(home_dir)
        if self.home(home_dir).is_dir():  # the warning notice follows the new size at once
            self.update_notices(self.build_report([home_dir]))
        return size, enforced

    def apply_user(self, home_dir: str) -> bool:
        """Give a home its project and limit. True when the limit is enforced."""
        if not self.home(home_dir).is_dir():
            return False
        project_id = self.projects.ensure(home_dir)
        if not self.enf.available:
            return False
        size, _ = self.size_of(self.login(home_dir))
        try:
            xfs_set(self.enf, self.cfg["home_root"], home_dir, project_id, size)
        except (OSError, safehome.HomeError) as exc:
            print(f"skyhub-quota: warning: {home_dir}: {exc}", file=sys.stderr)
            return False
        return True

    def home_dir_of(self, login: str) -> str:
        try:
            return safehome.check_login(login)
        except safehome.HomeError as exc:
            raise QuotaError(f"bad user name: {exc}", EXIT_USAGE) from exc

    def apply(self, only: str | None = None) -> list[str]:
        homes = [self.home_dir_of(only)] if only else home_users(self.cfg["home_root"])
        done = [h for h in homes if self.apply_user(h)]
        self.save_state()
        self.update_notices(self.build_report(homes))
        return done

    def build_report(self, homes: list[str] | None = None) -> Report:
        homes = homes if homes is not None else home_users(self.cfg["home_root"])
        logins = [self.login(h) for h in homes]
        limits = hub_limits(self.cfg["limits_command"], {u: self.groups.get(u, []) for u in logins})
        backup = _read_json(self.cfg["backup_state_file"], {}) or {}
        warn = float(self.cfg["warn_percent"])
        xfs = xfs_usage(self.enf) if self.enf.available else {}
        report = Report(self.enf, warn, backup=backup, problems=list(self.problems))
        for home_dir in homes:
            login = self.login(home_dir)
            size, source = self.size_of(login)
            pid = self.projects.id_for(home_dir)
            if pid is not None and pid in xfs:
                used = xfs[pid][0]
            else:
                used = tree_usage(self.cfg["home_root"], home_dir)
            percent = round(100.0 * used / size, 1)
            lim = limits.get(login) or {"mem_limit": None, "cpu_limit": None}
            in_backup = home_dir in (backup.get("users") or [])
            known = home_dir in self.login_of
            if not known and self.hub_users:
                report.problems.append(f"home {home_dir} belongs to no hub user (shown as {login!r})")
            report.users.append(
                UserRow(
                    user=login,
                    used=used,
                    quota=size,
                    source=source,
                    percent=percent,
                    warn=percent >= warn,
                    project_id=pid,
                    mem_limit=lim["mem_limit"],
                    cpu_limit=lim["cpu_limit"],
                    last_backup=backup.get("last_success") if in_backup else None,
                    home=str(self.home(home_dir)),
                    home_dir=home_dir,
                    known_to_hub=known,
                )
            )
        return report

    def update_notices(self, report: Report) -> None:
        """Put a notice in the homes of users over the warning threshold; remove it when back under.

        Written (or removed) by a child process running as the container user with only the home's
        descriptor (safehome.put_notice): a link the user planted at the notice's name is replaced, never
        written through, and nothing is chowned by root."""
        for row in report.users:
            text = _notice_text(row, report) if row.warn else None
            if text is None and not self._has_notice(row.home_dir):
                continue  # nothing to remove: no child process for every home on every apply
            try:
                safehome.put_notice(
                    self.cfg["home_root"], row.home_dir, self.cfg["notice_name"], text, self.uid, self.gid
                )
            except (OSError, safehome.HomeError) as exc:
                print(f"skyhub-quota: warning: notice in {row.home}: {exc}", file=sys.stderr)

    def _has_notice(self, home_dir: str) -> bool:
        """Whether anything (file, link, ...) has the notice's name in the home: an lstat, nothing opened."""
        try:
            fd = safehome.open_existing(self.cfg["home_root"], home_dir)
        except (OSError, safehome.HomeError):
            return False
        try:
            os.stat(self.cfg["notice_name"], dir_fd=fd, follow_symlinks=False)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)


def _notice_text(row: UserRow, report: Report) -> str:
    return (
        f"Your home directory is {row.percent:.0f}% full: {format_size(row.used)} of "
        f"{format_size(row.quota)}.\n"
        "When it is full, saving notebooks and files fails with 'No space left on device'.\n"
        "Delete files you no longer need (or ask an administrator for more space).\n"
        "This notice disappears once you are back under "
        f"{report.warn_percent:.0f}%.\n"
    )


# -------------------------------------------------------------------------------------------- output


def format_report(report: Report) -> str:
    enf = report.enforcement
    lines = [f"Quotas: {enf.explain()}"]
    if not enf.available:
        lines.append("        usage below is measured by walking each home; limits are NOT enforced")
    backup = report.backup
    if backup:
        status = backup.get("last_status", "unknown")
        lines.append(
            f"Backups: last success {backup.get('last_success') or 'never'}, last run {status}"
            + (f" ({backup.get('last_error')})" if status != "ok" and backup.get("last_error") else "")
            + (
                f", repository {format_size(backup['repository_size'])}"
                if backup.get("repository_size")
                else ""
            )
        )
    else:
        lines.append("Backups: no backup has run on this host")
    header = ("USER", "HOME", "USED", "QUOTA", "USE%", "FROM", "MEM", "CPU", "LAST BACKUP", "")
    rows = [header]
    for u in report.users:
        rows.append(
            (
                u.user if u.known_to_hub else f"{u.user} (not in the hub)",
                u.home_dir,
                format_size(u.used),
                format_size(u.quota),
                f"{u.percent:.1f}%",
                u.source,
                str(u.mem_limit or "-"),
                "-" if u.cpu_limit is None else f"{float(u.cpu_limit):g}",
                u.last_backup or "never",
                f"WARN >= {report.warn_percent:g}%" if u.warn else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines.append("")
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if not report.users:
        lines.append("(no user homes yet)")
    if report.problems:
        lines.append("")
        lines.extend(f"PROBLEM: {problem}" for problem in report.problems)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- CLI


def _cmd_set(q: Quotas, args: argparse.Namespace) -> int:
    size, enforced = q.set_user(args.user, args.size)
    home_dir = q.home_dir_of(args.user)
    if enforced:
        pid = q.projects.id_for(home_dir)
        print(f"skyhub-quota: {args.user}: quota {format_size(size)} enforced (project {pid})")
        return 0
    if not q.home(home_dir).is_dir():
        print(f"skyhub-quota: {args.user}: quota {format_size(size)} recorded; applied when the home appears")
        return 0 if q.enf.available else _not_enforced(q)
    print(f"skyhub-quota: {args.user}: quota {format_size(size)} recorded but", file=sys.stderr)
    return _not_enforced(q)


def _not_enforced(q: Quotas) -> int:
    print(f"skyhub-quota: {q.enf.explain()}", file=sys.stderr)
    return EXIT_NOT_ENFORCED


def _cmd_apply(q: Quotas, args: argparse.Namespace) -> int:
    done = q.apply(args.user)
    if q.enf.available:
        print(f"skyhub-quota: quotas enforced on {len(done)} home(s)")
        return 0
    print(f"skyhub-quota: {q.enf.explain()}", file=sys.stderr)
    return EXIT_NOT_ENFORCED if args.strict else 0


def _cmd_report(q: Quotas, args: argparse.Namespace) -> int:
    report = q.build_report()
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def _cmd_check(q: Quotas, args: argparse.Namespace) -> int:
    print(f"skyhub-quota: {q.enf.explain()}")
    return 0 if q.enf.available else EXIT_NOT_ENFORCED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyhub-quota", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"settings file (default {DEFAULT_CONFIG})")
    parser.add_argument("--mountinfo", default="/proc/self/mountinfo", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("set", help="give USER a quota of SIZE (e.g. 20G); remembered across `apply`")
    p.add_argument("user")
    p.add_argument("size")
    p.set_defaults(func=_cmd_set)
    p = sub.add_parser("apply", help="apply the configured sizes to every home (and refresh notices)")
    p.add_argument("--user", help="only this user (login name)")
    p.add_argument("--strict", action="store_true", help="exit 3 when quotas cannot be enforced here")
    p.set_defaults(func=_cmd_apply)
    p = sub.add_parser("report", help="usage, quota, limits and backup status per user")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("check", help="can quotas be enforced here? (exit 3 when not)")
    p.set_defaults(func=_cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        quotas = Quotas(load_config(args.config), args.mountinfo)
        return int(args.func(quotas, args))
    except QuotaError as exc:
        print(f"skyhub-quota: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except PermissionError as exc:
        print(f"skyhub-quota: error: {exc} (run as root)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
