"""A population of simulated users on the hub's real HTTP interfaces, ramped in steps (`make load`).

Each simulated user arrives on a schedule, signs in, starts a server (a mix of images) and follows its
start on the hub's progress API as the spawn page does, runs a cell that reads /data/hst in a kernel of its
own server, saves a file and reads it back, idles until everyone of its step is up, and stops. A step is N
such users at once; the ramp goes to the next step until a step has errors, its spawn p95 passes the
limit, the steps run out or the time budget does. The capacity of the host is the largest step with no
errors and spawn p95 <= the limit.

Spawn phases are put together from three clocks that are the same clock (the hub host is a container or
host on this machine): the client's own timestamps, Docker's container timestamps (`docker inspect` in the
hub host) and the hub's journal (`journalctl -o json`, microsecond receive times). See PHASES.

Traffic goes only to the hub under test; every loop here is bounded in count and time.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import json
import math
import re
import secrets
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from hub import ADMIN_PASSWORD_FILE, HubError, HubUser, added_user, admin_password, run_code, sign_in_admin

SPAWN_P95_LIMIT_S = 15.0
# What each spawn phase is: between which two events it is measured (all on this machine's clock).
PHASES: dict[str, str] = {
    "hub_and_hook_s": "POST /hub/api/users/<u>/server sent -> the container's Created time (docker inspect): "
    "the hub's API handling, the pre-spawn hook (home directory, skeleton files, limits) and "
    "DockerSpawner's create call",
    "container_start_s": "Created -> the container's StartedAt: Docker starting it (network, mounts, cgroup, "
    "init)",
    "server_up_s": "StartedAt -> the hub's log line 'User <u> took ... seconds to start': the single-user "
    "server boots (Python and JupyterLab imports, hub auth) until the hub's readiness poll gets an answer",
    "proxy_route_s": "'took ... seconds to start' -> the ready event on /hub/api/users/<u>/server/progress: "
    "the hub adds the route to traefik and confirms it",
    "first_response_s": "ready event -> the first 200 of /user/<u>/api/status through traefik (what the "
    "spawn page's redirect meets)",
}
# The cell every user runs: list the dataset, read one FITS file's header block, print a marker line.
CELL = (
    "import hashlib, os\n"
    "files = sorted(os.path.join(d, f) for d, _, fs in os.walk('/data/hst') for f in fs)\n"
    "fits = [f for f in files if f.endswith('.fits')]\n"
    "head = open(fits[0], 'rb').read(2880) if fits else b''\n"
    "print('LOAD-OK', len(files), len(fits), head[:6].decode('ascii', 'replace') or '-', "
    "hashlib.sha256(head).hexdigest()[:12])\n"
)
CELL_RESULT = re.compile(r"LOAD-OK (\d+) (\d+) (\S+) ([0-9a-f]{12})")
TOOK = re.compile(r"User (\S+) took ([0-9.]+) seconds to start")


# ------------------------------------------------------------------ the hub host
@dataclass
class Target:
    """The hub under test: its URL, and how to run a command on its host (the instance's container)."""

    base: str
    container: str

    def sh(self, cmd: str, timeout: float = 60) -> str:
        res = subprocess.run(
            ["docker", "exec", self.container, "bash", "-c", cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if res.returncode != 0:
            raise RuntimeError(f"{self.container}: {cmd[:60]}...: {res.stderr.strip()[:300]}")
        return res.stdout

    @classmethod
    def of_container(cls, container: str) -> Target:
        out = subprocess.run(
            ["docker", "exec", container, "ip", "-4", "-o", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return cls(f"http://{out.split()[3].split('/')[0]}", container)

    def admin(self) -> HubUser:
        """The instance's admin, signed in: the first admin first boot gave a one-time password (its
        ADMIN_PASSWORD_FILE holds "name password" lines), else hub.admin_password()."""
        text = self.sh(f"cat {ADMIN_PASSWORD_FILE} 2>/dev/null || true")
        for line in text.splitlines():
            name, _, password = line.strip().partition(" ")
            if name and password:
                admin = HubUser(self.base, name, password)
                admin.login()
                return admin
        return sign_in_admin(self.base, admin_password())


# ------------------------------------------------------------------ users
# Sign-up is closed by default: the instance's admin adds every simulated user through the REST API, and the
# user's first login sets the password (hub.added_user, the appliance checks' own way).


@dataclass
class UserRun:
    name: str
    image: str
    arrive_at: float  # seconds after the step started
    error: str | None = None
    error_stage: str | None = None
    login_s: float | None = None
    spawn_s: float | None = None
    cell_s: float | None = None
    save_s: float | None = None
    stop_s: float | None = None
    events: list[str] = field(default_factory=list)  # progress messages, in order
    # wall-clock timestamps (time.time()) of the spawn's events; container ones are filled in later
    t_post: float | None = None
    t_created: float | None = None
    t_started: float | None = None
    t_took: float | None = None
    t_ready_event: float | None = None
    t_first_200: float | None = None
    phases: dict[str, float | None] = field(default_factory=dict)


class Gate:
    """Opens when `n` users have arrived (done spawning and working, or failed), or at its deadline."""

    def __init__(self, n: int) -> None:
        self.n, self.count, self.cond = n, 0, threading.Condition()

    def arrive(self) -> None:
        with self.cond:
            self.count += 1
            self.cond.notify_all()

    def wait(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.count >= self.n, timeout=timeout)


def cell_problem(out: str) -> str | None:
    """Why the cell's output does not show a FITS file read from /data/hst (None: it does)."""
    m = CELL_RESULT.search(out)
    if not m or int(m.group(2)) == 0 or m.group(3) != "SIMPLE":
        return f"the cell did not read a FITS file from /data/hst: {out[-300:]!r}"
    return None


def spawn(user: HubUser, image: str, run: UserRun, timeout: float = 180) -> None:
    """Start the server as the spawn page does: POST, then follow the progress API until the ready (or
    failed) event, then the first answer through the proxy. Fills run.t_* and run.events."""
    deadline = time.monotonic() + timeout
    run.t_post = time.time()
    r = user.api("POST", f"/users/{user.name}/server", json={"image": image})
    if r.status_code not in (201, 202):
        raise HubError(f"start: HTTP {r.status_code}: {r.text[:200]}")
    with requests.get(
        f"{user.base}/hub/api/users/{user.name}/server/progress",
        headers={**user.auth, "Accept": "text/event-stream"},
        stream=True,
        timeout=(10, 60),
    ) as stream:
        if stream.status_code != 200:
            raise HubError(f"progress: HTTP {stream.status_code}: {stream.text[:200]}")
        for line in stream.iter_lines(decode_unicode=True):
            if time.monotonic() > deadline:
                raise HubError(f"no ready event within {timeout:.0f} s (events: {run.events})")
            if not line or not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            run.events.append(str(event.get("message", "")))
            if event.get("failed"):
                raise HubError(f"spawn failed: {event.get('message')}")
            if event.get("ready"):
                run.t_ready_event = time.time()
                break
    if run.t_ready_event is None:
        raise HubError(f"progress stream ended without a ready event (events: {run.events})")
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if user.server("GET", "api/status").status_code == 200:
                run.t_first_200 = time.time()
                run.spawn_s = run.t_first_200 - run.t_post
                return
        time.sleep(0.1)
    raise HubError(f"ready, but /user/{user.name}/api/status did not answer 200 within {timeout:.0f} s")


def run_user(
    base: str,
    run: UserRun,
    started: Gate,
    *,
    idle_s: float,
    admin: HubUser,
    gate_timeout: float = 600,
) -> UserRun:
    """One simulated user's session. Errors are recorded in `run` (never raised), and the server is always
    asked to stop."""
    user: HubUser | None = None
    stage = "login"
    arrived = False
    beat: threading.Event | None = None
    try:
        t0 = time.monotonic()
        user = added_user(admin, run.name, secrets.token_urlsafe(16))
        run.login_s = time.monotonic() - t0
        stage = "spawn"
        spawn(user, run.image, run)
        beat = user.heartbeat(15)
        stage = "cell"
        t0 = time.monotonic()
        out = run_code(user, CELL, timeout=120)
        problem = cell_problem(out)
        if problem:
            raise HubError(problem)
        run.cell_s = time.monotonic() - t0
        stage = "save"
        t0 = time.monotonic()
        text = f"saved by {run.name} at {time.time():.3f}\n"
        user.write_file(f"load-{run.name}.txt", text)
        if user.read_file(f"load-{run.name}.txt") != text:
            raise HubError("the saved file reads back different")
        run.save_s = time.monotonic() - t0
        stage = "idle"
        started.arrive()
        arrived = True
        started.wait(gate_timeout)  # everyone of the step is up (or failed) at the same time
        time.sleep(idle_s)
        stage = "stop"
        t0 = time.monotonic()
        user.stop(timeout=120)
        run.stop_s = time.monotonic() - t0
    except Exception as exc:  # any failure is this user's error, by stage
        run.error, run.error_stage = f"{type(exc).__name__}: {exc}"[:400], stage
    finally:
        if beat is not None:
            beat.set()
        if not arrived:
            started.arrive()
        if user is not None and user.token and run.stop_s is None:
            with contextlib.suppress(Exception):
                user.stop(timeout=120)
    return run


# ------------------------------------------------------------------ what the hub host says
def parse_docker_time(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds ("2026-12-02T02:50:01.123456789Z") as a Unix timestamp."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if not m:
        raise ValueError(f"not a Docker timestamp: {text!r}")
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}").timestamp()


def container_times(target: Target) -> dict[str, tuple[float, float]]:
    """{container name: (Created, StartedAt)} of the running user servers (jupyter-*)."""
    out = target.sh(
        'ids=$(docker ps -q --filter name=^jupyter-); [ -z "$ids" ] || '
        "docker inspect -f '{{.Name}} {{.Created}} {{.State.StartedAt}}' $ids"
    )
    return parse_container_times(out)


def parse_container_times(out: str) -> dict[str, tuple[float, float]]:
    times = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            times[parts[0].lstrip("/")] = (parse_docker_time(parts[1]), parse_docker_time(parts[2]))
    return times


def hub_journal(target: Target, since: float, until: float) -> list[tuple[float, str]]:
    """(receive time, message) of the hub's journal between two Unix times."""
    window = f"--since @{math.floor(since)} --until @{math.ceil(until)}"
    out = target.sh(f"journalctl -u jupyterhub -o json --no-pager {window}", timeout=120)
    return parse_journal(out)


def parse_journal(out: str) -> list[tuple[float, str]]:
    records = []
    for line in out.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            rec = json.loads(line)
            message = rec["MESSAGE"]
            if isinstance(message, list):  # journald stores non-UTF-8 messages as byte arrays
                message = bytes(message).decode("utf-8", "replace")
            records.append((int(rec["__REALTIME_TIMESTAMP"]) / 1e6, message))
    return records


def took_times(records: list[tuple[float, str]]) -> dict[str, float]:
    """{user name: when the hub logged that its server took ... seconds to start} (the last one)."""
    out = {}
    for when, message in records:
        m = TOOK.search(message)
        if m:
            out[m.group(1)] = when
    return out


def hub_errors(records: list[tuple[float, str]]) -> list[str]:
    """The hub's own error lines ([E ...] and tracebacks) in the records."""
    return [msg[:300] for _, msg in records if msg.startswith("[E ") or msg.startswith("Traceback")]


def phases_of(run: UserRun) -> dict[str, float | None]:
    """The spawn phases (PHASES) of one user, None where an event is missing."""
    points = [run.t_post, run.t_created, run.t_started, run.t_took, run.t_ready_event, run.t_first_200]
    out: dict[str, float | None] = {}
    for name, (a, b) in zip(PHASES, itertools.pairwise(points), strict=True):
        out[name] = round(b - a, 3) if a is not None and b is not None else None
    return out


# ------------------------------------------------------------------ hub CPU and RSS
class HubSampler:
    """Samples the hub's and traefik's CPU time and RSS (their systemd MainPIDs, /proc) every `every`
    seconds in a thread; at most `max_samples`."""

    CMD = (
        "date +%s.%N; cat /proc/loadavg; for u in jupyterhub traefik; do"
        " p=$(systemctl show -p MainPID --value $u);"
        " [ \"$p\" != 0 ] && echo $u $(sed 's/^.*) //' /proc/$p/stat | cut -d' ' -f12,13)"
        " $(awk '/^VmRSS/{print $2}' /proc/$p/status); done; getconf CLK_TCK"
    )

    def __init__(self, target: Target, every: float = 2.0, max_samples: int = 1800) -> None:
        self.target, self.every, self.max_samples = target, every, max_samples
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict[str, Any] | None:
        try:
            return self.parse(self.target.sh(self.CMD, timeout=30))
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError):
            return None

    @staticmethod
    def parse(out: str) -> dict[str, Any]:
        lines = out.split("\n")
        sample: dict[str, Any] = {"t": float(lines[0]), "load1": float(lines[1].split()[0])}
        tck = int(lines[-2] if lines[-1] == "" else lines[-1])
        for line in lines[2:]:
            parts = line.split()
            if len(parts) == 4 and parts[0] in ("jupyterhub", "traefik"):
                sample[parts[0]] = {
                    "cpu_s": (int(parts[1]) + int(parts[2])) / tck,
                    "rss_mib": int(parts[3]) / 1024,
                }
        return sample

    def _loop(self) -> None:
        while len(self.samples) < self.max_samples and not self._stop.is_set():
            s = self.sample()
            if s:
                self.samples.append(s)
            self._stop.wait(self.every)

    def __enter__(self) -> HubSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        s = self.sample()
        if s:
            self.samples.append(s)

    def summary(self) -> dict[str, float | None]:
        return summarize_samples(self.samples)


def summarize_samples(samples: list[dict[str, Any]]) -> dict[str, float | None]:
    """Hub CPU (percent of one core: mean over the step and the peak between two samples), RSS (peak and
    last), traefik's RSS peak, the host's 1-minute load average peak."""
    hub = [s for s in samples if "jupyterhub" in s]
    out: dict[str, float | None] = dict.fromkeys(
        (
            "hub_cpu_pct_mean",
            "hub_cpu_pct_peak",
            "hub_rss_mib_peak",
            "hub_rss_mib_end",
            "traefik_rss_mib_peak",
        )
    )
    out["load1_peak"] = round(max(s["load1"] for s in samples), 2) if samples else None
    if hub:
        out["hub_rss_mib_peak"] = round(max(s["jupyterhub"]["rss_mib"] for s in hub), 1)
        out["hub_rss_mib_end"] = round(hub[-1]["jupyterhub"]["rss_mib"], 1)
    if len(hub) >= 2:
        rates = [
            100 * (b["jupyterhub"]["cpu_s"] - a["jupyterhub"]["cpu_s"]) / (b["t"] - a["t"])
            for a, b in itertools.pairwise(hub)
            if b["t"] > a["t"]
        ]
        span = hub[-1]["t"] - hub[0]["t"]
        if span > 0:
            cpu = hub[-1]["jupyterhub"]["cpu_s"] - hub[0]["jupyterhub"]["cpu_s"]
            out["hub_cpu_pct_mean"] = round(100 * cpu / span, 1)
        if rates:
            out["hub_cpu_pct_peak"] = round(max(rates), 1)
    tr = [s["traefik"]["rss_mib"] for s in samples if "traefik" in s]
    if tr:
        out["traefik_rss_mib_peak"] = round(max(tr), 1)
    return out


# ------------------------------------------------------------------ steps and the ramp
def pct(values: list[float], q: float) -> float | None:
    """The q-quantile by nearest rank (p95 of 8 values is the 8th), None for no values."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def stats(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and max, rounded to 10 ms (None for no values)."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(pct(values, 0.95), 2),
        "max": round(max(values), 2),
    }


@dataclass
class Settings:
    steps: list[int]
    images: list[str]
    arrival_interval_s: float = 2.0
    idle_s: float = 20.0
    p95_limit_s: float = SPAWN_P95_LIMIT_S
    budget_s: float = 2400.0
    step_timeout_s: float = 900.0
    admin: HubUser | None = None

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("admin")
        out["signup"] = "the admin adds users (REST API), their first login sets the password"
        return out


def run_step(target: Target, n: int, settings: Settings, label: str, log: Callable[[str], None]) -> dict:
    """N users arriving every arrival_interval_s, all up at once, then stopping. Returns the step's record."""
    tag = secrets.token_hex(2)
    runs = [
        UserRun(
            f"ld{tag}{label}u{i:02d}",
            settings.images[i % len(settings.images)],
            i * settings.arrival_interval_s,
        )
        for i in range(n)
    ]
    started = Gate(n)
    times: dict[str, tuple[float, float]] = {}
    t_begin = time.time()
    t0 = time.monotonic()
    with HubSampler(target) as sampler, cf.ThreadPoolExecutor(n) as pool:
        futures = []
        for run in runs:
            time.sleep(max(0.0, t0 + run.arrive_at - time.monotonic()))
            futures.append(
                pool.submit(run_user, target.base, run, started, idle_s=settings.idle_s, admin=settings.admin)
            )
        # while everyone idles: the containers' own times (they are removed when they stop)
        if started.wait(settings.step_timeout_s):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, ValueError):
                times = container_times(target)
        cf.wait(futures, timeout=settings.step_timeout_s)
    t_end = time.time()
    wall = time.monotonic() - t0
    records = hub_journal(target, t_begin - 1, t_end + 1)
    took = took_times(records)
    for run in runs:
        created_started = times.get(f"jupyter-{run.name}")
        if created_started:
            run.t_created, run.t_started = created_started
        run.t_took = took.get(run.name)
        run.phases = phases_of(run)
    errors = [f"{r.name} ({r.image}) at {r.error_stage}: {r.error}" for r in runs if r.error]
    spawn_times = [r.spawn_s for r in runs if r.spawn_s is not None]
    step = {
        "users": n,
        "ok": sum(1 for r in runs if not r.error),
        "errors": errors,
        # of them: refused by the hub's admission control (HTTP 429: active server or concurrent spawn limit)
        "refused": sum(1 for r in runs if r.error and "HTTP 429" in r.error),
        "wall_s": round(wall, 1),
        "spawn_s": stats(spawn_times),
        "phases": {
            name: stats([r.phases[name] for r in runs if r.phases.get(name) is not None]) for name in PHASES
        },
        "login_s": stats([r.login_s for r in runs if r.login_s is not None]),
        "cell_s": stats([r.cell_s for r in runs if r.cell_s is not None]),
        "save_s": stats([r.save_s for r in runs if r.save_s is not None]),
        "stop_s": stats([r.stop_s for r in runs if r.stop_s is not None]),
        "by_image": {
            img: stats([r.spawn_s for r in runs if r.image == img and r.spawn_s is not None])
            for img in settings.images
        },
        "hub": sampler.summary(),
        "hub_log_errors": hub_errors(records)[:10],
        "user_runs": [
            {k: v for k, v in asdict(r).items() if not k.startswith("t_") and k != "events"}
            | {"events": r.events[-5:]}
            for r in runs
        ],
    }
    sp, hub = step["spawn_s"], step["hub"]
    log(
        f"step {n} users: {step['ok']}/{n} ok, spawn p50 {sp['p50']} s p95 {sp['p95']} s, hub CPU mean"
        f" {hub['hub_cpu_pct_mean']} %, hub RSS peak {hub['hub_rss_mib_peak']} MiB"
        + (f"; errors: {errors[:3]}" if errors else "")
    )
    return step


def capacity(steps: list[dict], p95_limit_s: float) -> int:
    """Most concurrent users of a step with no errors and spawn p95 <= the limit (0: none)."""
    good = [
        s["users"]
        for s in steps
        if not s["errors"] and s["ok"] == s["users"] and (s["spawn_s"]["p95"] or math.inf) <= p95_limit_s
    ]
    return max(good, default=0)


def ramp(target: Target, settings: Settings, log: Callable[[str], None] = print) -> dict:
    """Run the steps in order until one has errors or a spawn p95 over the limit, or time runs out."""
    if settings.admin is None:
        settings.admin = target.admin()
    t0 = time.monotonic()
    steps: list[dict] = []
    stop_reason = f"all steps ran ({settings.steps})"
    for i, n in enumerate(settings.steps):
        if time.monotonic() - t0 > settings.budget_s:
            stop_reason = f"time budget of {settings.budget_s:.0f} s used before the {n}-user step"
            break
        log(f"step {i + 1}/{len(settings.steps)}: {n} users")
        step = run_step(target, n, settings, f"s{i}", log)
        steps.append(step)
        if step["errors"]:
            stop_reason = f"errors at {n} users"
            break
        if (step["spawn_s"]["p95"] or math.inf) > settings.p95_limit_s:
            stop_reason = f"spawn p95 {step['spawn_s']['p95']} s > {settings.p95_limit_s} s at {n} users"
            break
    cap = capacity(steps, settings.p95_limit_s)
    at_cap = next((s for s in steps if s["users"] == cap), None)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hub": target.base,
        "settings": settings.public(),
        "phase_definitions": PHASES,
        "capacity_users": cap,
        "capacity_spawn_p95_s": at_cap["spawn_s"]["p95"] if at_cap else None,
        "stop_reason": stop_reason,
        "ramp_s": round(time.monotonic() - t0, 1),
        "steps": steps,
    }


# ------------------------------------------------------------------ the report
def check_report(report: dict) -> list[str]:
    """What a report lacks to be complete (empty: complete). Errors of the users are not lacks: a step with
    errors is reported, with them."""
    problems = []
    for key in ("capacity_users", "stop_reason", "steps", "settings", "phase_definitions"):
        if key not in report:
            problems.append(f"no {key}")
    if not report.get("steps"):
        return [*problems, "no steps ran"]
    for step in report["steps"]:
        n = step.get("users")
        ok_runs = [r for r in step.get("user_runs", []) if not r.get("error")]
        if len(step.get("user_runs", [])) != n:
            problems.append(f"step {n}: {len(step.get('user_runs', []))} user records for {n} users")
        if ok_runs and step["spawn_s"]["p95"] is None:
            problems.append(f"step {n}: no spawn p95")
        for r in ok_runs:
            missing = [p for p in PHASES if r["phases"].get(p) is None]
            if missing:
                problems.append(f"step {n}: {r['name']} has no {', '.join(missing)}")
            for key in ("login_s", "spawn_s", "cell_s", "save_s", "stop_s"):
                if r.get(key) is None:
                    problems.append(f"step {n}: {r['name']} has no {key}")
        hub = step.get("hub", {})
        for key in ("hub_cpu_pct_mean", "hub_rss_mib_peak"):
            if hub.get(key) is None:
                problems.append(f"step {n}: no {key}")
    return problems


def plot(report: dict, path: Path) -> Path:
    """A PNG: spawn p50/p95/max against concurrent users (with the limit), and the phases' medians."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s in report["steps"] if s["spawn_s"]["p50"] is not None]
    users = [s["users"] for s in steps]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for key, style in (("p50", "o-"), ("p95", "s-"), ("max", "^:")):
        ax1.plot(users, [s["spawn_s"][key] for s in steps], style, label=f"spawn {key}")
    limit = report["settings"]["p95_limit_s"]
    ax1.axhline(limit, color="red", linestyle="--", linewidth=1, label=f"p95 limit {limit:g} s")
    if report["capacity_users"]:
        ax1.axvline(report["capacity_users"], color="green", linestyle=":", label="capacity")
    ax1.set_xlabel("concurrent users (one step)")
    ax1.set_ylabel("spawn latency, s (POST -> answers through the proxy)")
    ax1.set_title(f"capacity: {report['capacity_users']} users")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    bottom = [0.0] * len(steps)
    x = [str(u) for u in users]
    for name in PHASES:
        values = [s["phases"][name]["p50"] or 0.0 for s in steps]
        ax2.bar(x, values, bottom=bottom, label=name.removesuffix("_s").replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax2.set_xlabel("concurrent users")
    ax2.set_ylabel("median per phase, s")
    ax2.set_title("where a spawn's time goes")
    ax2.legend(fontsize=8)
    fig.suptitle(f"skyhub load ({report['when']}, {report['settings']['signup']})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
