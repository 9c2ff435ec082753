"""`make bench`: measure the converged appliance side by side and write build/bench.json.

Hub figures (issue #3): spawn p50/p95 through the hub (POST → server answers through the proxy; image
already loaded), the `docker run` floor for the same image, their ratio, a burst of 10 users, the RSS of an
idle server (its cgroup, via docker stats) and of the hub processes. Other areas add their figures with
`--extra MODULE` entries in the Makefile. Ratios are measured in one run on one host.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "appliance"))
from hub import ADMIN_PASSWORD_FILE, HubUser, added_user, admin_password, sign_in_admin

OUT = Path("build/bench.json")


def sh(container: str, cmd: str, check: bool = True) -> str:
    res = subprocess.run(["docker", "exec", container, "bash", "-c", cmd], capture_output=True, text=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{cmd}: {res.stderr.strip()}")
    return res.stdout


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q * (len(values) - 1))))
    return values[k]


def spawn_times(admin: HubUser, n: int) -> list[float]:
    times = []
    for _ in range(n):
        user = added_user(admin, f"bench{secrets.token_hex(3)}", secrets.token_urlsafe(16))
        times.append(user.start())
        user.stop()
    return times


def docker_run_times(container: str, image: str, n: int) -> list[float]:
    """The floor: the same image started with plain `docker run` until its HTTP endpoint answers."""
    times = []
    for i in range(n):
        name = f"bench-floor-{i}"
        t0 = time.monotonic()
        sh(
            container,
            f"docker run -d --rm --name {name} --network skyhub --user 1000:100 {image} "
            "jupyter server --ip=0.0.0.0 --port=8888 --ServerApp.token=bench --no-browser",
        )
        ip = sh(
            container, f"docker inspect -f '{{{{.NetworkSettings.Networks.skyhub.IPAddress}}}}' {name}"
        ).strip()
        sh(
            container,
            f"for i in $(seq 600); do curl -sf -m 1 'http://{ip}:8888/api/status?token=bench' >/dev/null "
            "&& exit 0; sleep 0.05; done; exit 1",
        )
        times.append(time.monotonic() - t0)
        sh(container, f"docker rm -f {name}", check=False)
    return times


def burst(admin: HubUser, n: int) -> tuple[int, list[float]]:
    # sign-up is closed: the admin adds each user, who then signs in
    users = [added_user(admin, f"burst{secrets.token_hex(3)}", secrets.token_urlsafe(16)) for _ in range(n)]
    ok, times = 0, []
    with cf.ThreadPoolExecutor(n) as pool:
        futures = {pool.submit(u.start): u for u in users}
        for fut in cf.as_completed(futures):
            try:
                times.append(fut.result())
                ok += 1
            except Exception as exc:
                print(f"burst spawn failed: {exc}", file=sys.stderr)
    rss = idle_rss_mib(users[0]) if ok else None
    for u in users:
        with contextlib.suppress(Exception):
            u.stop()
    return ok, times, rss


CONTAINER = "skyhub-appliance" + os.environ.get("SKYHUB_INSTANCE_SUFFIX", "")


def idle_rss_mib(user: HubUser) -> float:
    out = sh(CONTAINER, f"docker stats --no-stream --format '{{{{.MemUsage}}}}' jupyter-{user.name}")
    used = out.split("/")[0].strip()
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if used.endswith(unit):
            return round(float(used[: -len(unit)]) * factor, 1)
    raise ValueError(used)


def hub_rss_mib() -> float:
    out = sh(CONTAINER, "ps -C python3,traefik -o rss=,args= | grep -E 'jupyterhub|traefik|idle_culler'")
    return round(sum(int(line.split()[0]) for line in out.splitlines() if line.strip()) / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--image", default="skyhub/astro:2026.11.0")
    args = parser.parse_args()
    ip = sh(CONTAINER, "ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    base = f"http://{ip}"
    admin = sign_in_admin(base, admin_password(sh(CONTAINER, f"cat {ADMIN_PASSWORD_FILE}", check=False)))
    results: dict[str, float | int | None] = {}
    spawn = spawn_times(admin, args.users)
    floor = docker_run_times(CONTAINER, args.image, args.users)
    results["spawn_p50_s"] = round(statistics.median(spawn), 2)
    results["spawn_p95_s"] = round(pct(spawn, 0.95), 2)
    results["docker_run_p50_s"] = round(statistics.median(floor), 2)
    results["spawn_ratio"] = round(results["spawn_p50_s"] / results["docker_run_p50_s"], 2)
    ok, times, rss = burst(admin, 10)
    results["burst10_ok"] = ok
    results["burst10_p95_s"] = round(pct(times, 0.95), 2) if times else None
    results["idle_server_rss_mib"] = rss
    results["hub_rss_mib"] = hub_rss_mib()
    OUT.parent.mkdir(exist_ok=True)
    existing = json.loads(OUT.read_text()) if OUT.exists() else {}
    existing.update(results)
    OUT.write_text(json.dumps(existing, indent=2) + "\n")
    goals = {
        "spawn_ratio": "<= 1.5",
        "burst10_ok": "= 10",
        "burst10_p95_s": "<= 15",
        "idle_server_rss_mib": "<= 150",
        "hub_rss_mib": "<= 300",
    }
    print(f"{'figure':<22} {'value':>10}  goal")
    for key, value in results.items():
        print(f"{key:<22} {value!s:>10}  {goals.get(key, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
