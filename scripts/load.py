"""`make load`: the capacity of this host under a population of simulated users (docs/benchmarks.md).

Boots an instance of the image `make demo` boots (Packer's docker source, cached by content key), or uses a
running one (--instance NAME: the container of a booted image or of the Molecule appliance host), ramps
simulated users in steps on the hub's real HTTP interfaces (tests/appliance/loadlib.py) and writes
build/load.json and build/load.png. The instance it booted is removed at the end (--keep leaves it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "appliance"))
import loadlib  # noqa: E402
from hub import HubUser, added_user  # noqa: E402

from skyhub import demo  # noqa: E402
from skyhub.errors import SkyhubError  # noqa: E402

INSTANCE = "skyhub-load" + os.environ.get("SKYHUB_INSTANCE_SUFFIX", "")
ADMIN = "loadadmin"


def say(msg: str) -> None:
    print(f"load: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values) or values != sorted(values):
        raise argparse.ArgumentTypeError(f"--steps needs increasing whole numbers like 2,4,8 (got {text!r})")
    return values


def boot() -> demo.Instance:
    record = demo.build_image()
    inst = demo.Instance(
        INSTANCE,
        record["image"],
        label="load-test",
        persistent=False,
        # plain HTTP on the test network, like the demo: the load is the hub's, not TLS's (docs/benchmarks.md)
        settings={"admins": [ADMIN], "https": {"enabled": False}},
    )
    inst.remove()
    say(f"booting {INSTANCE} from {record['image']}")
    inst.create()
    say(f"hub ready after {inst.wait_ready():.0f} s")
    return inst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instance", help="use this running instance (container name) instead of booting one")
    p.add_argument("--steps", type=positive_ints, default=[2, 4, 8, 10, 12, 16, 24, 32])
    p.add_argument("--images", default="astro,minimal", help="the spawn form's image names, used in turn")
    p.add_argument("--arrival-interval", type=float, default=2.0, help="seconds between two users' arrivals")
    p.add_argument("--idle", type=float, default=20.0, help="seconds every user idles once all are up")
    p.add_argument("--p95-limit", type=float, default=loadlib.SPAWN_P95_LIMIT_S)
    p.add_argument("--budget", type=float, default=40, help="minutes: no new step starts after this")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tljh-config set KEY VALUE on the instance before the ramp (then reload hub); e.g. "
        "limits.memory=1G to size for lighter users. Recorded in the report.",
    )
    p.add_argument("--out", type=Path, default=REPO / "build" / "load.json")
    p.add_argument("--plot", type=Path, default=REPO / "build" / "load.png")
    p.add_argument("--keep", action="store_true", help="leave the booted instance running")
    args = p.parse_args(argv)
    for name, value in (("--arrival-interval", args.arrival_interval), ("--idle", args.idle)):
        if not 0 <= value <= 600:
            p.error(f"{name} must be between 0 and 600 seconds (got {value})")
    if not 0 < args.budget <= 240:
        p.error(f"--budget must be between 0 and 240 minutes (got {args.budget})")
    overrides = {}
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if (
            not sep
            or not re.fullmatch(r"[A-Za-z0-9_.]+", key)
            or not re.fullmatch(r"[A-Za-z0-9_.:/-]+", value)
        ):
            p.error(f"--set needs KEY=VALUE with a tljh-config key, like limits.memory=1G (got {pair!r})")
        overrides[key] = value

    inst = None
    try:
        if args.instance:
            name = args.instance
        else:
            inst = boot()
            name = inst.name
        target = loadlib.Target.of_container(name)
        if overrides:
            configure(target, overrides)
        admin = target.admin()  # first boot's one-time password for ADMIN: the admin adds every user
        settings = loadlib.Settings(
            steps=args.steps,
            images=[i.strip() for i in args.images.split(",") if i.strip()],
            arrival_interval_s=args.arrival_interval,
            idle_s=args.idle,
            p95_limit_s=args.p95_limit,
            budget_s=args.budget * 60,
            admin=admin,
        )
        say(f"hub {target.base} ({name}); steps {settings.steps}; images {settings.images}")
        warm = warm_up(target, settings.images, admin)
        report = loadlib.ramp(target, settings, log=say)
        report["instance"] = name
        report["config_overrides"] = overrides
        report["warm_up_spawn_s"] = warm
        report["host"] = host_facts()
    except (SkyhubError, RuntimeError) as exc:
        say(f"failed: {exc}")
        return 1
    finally:
        if inst is not None and not args.keep:
            inst.remove()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    loadlib.plot(report, args.plot)
    problems = loadlib.check_report(report)
    print_summary(report, args.out, args.plot)
    for problem in problems:
        say(f"report incomplete: {problem}")
    return 1 if problems else 0


def configure(target: loadlib.Target, overrides: dict[str, str]) -> None:
    """tljh-config set each key, reload the hub, wait (bounded) until its API answers again."""
    for key, value in overrides.items():
        target.sh(f"timeout 120 tljh-config set {key} {value}")
    target.sh("timeout 300 tljh-config reload hub", timeout=320)
    for _ in range(300):
        code = target.sh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/hub/api || true").strip()
        if code == "200":
            say(f"hub reloaded with {overrides}")
            return
        time.sleep(1)
    raise RuntimeError(f"the hub did not answer within 300 s of tljh-config reload hub ({overrides})")


def warm_up(target: loadlib.Target, images: list[str], admin: HubUser) -> dict[str, float]:
    """One spawn of each image before the ramp (page cache, first imports), not counted in the steps."""
    out = {}
    for image in images:
        user = added_user(admin, f"ldwarm{os.urandom(2).hex()}", os.urandom(12).hex())
        out[image] = round(user.start({"image": image}), 2)
        user.stop()
    say(f"warm-up spawns (not counted): {out}")
    return out


def host_facts() -> dict:
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {"cores": os.cpu_count(), "mem_gib": round(int(mem.split()[1]) / 2**20, 1)}


def print_summary(report: dict, out: Path, png: Path) -> None:
    print(f"\n{'users':>5} {'ok':>4} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'hub CPU %':>9} {'hub MiB':>8}")
    for s in report["steps"]:
        sp, hub = s["spawn_s"], s["hub"]
        print(
            f"{s['users']:>5} {s['ok']:>4} {sp['p50']!s:>7} {sp['p95']!s:>7} {sp['max']!s:>7} "
            f"{hub['hub_cpu_pct_mean']!s:>9} {hub['hub_rss_mib_peak']!s:>8}"
        )
    print(
        f"\ncapacity of this host: {report['capacity_users']} concurrent users with spawn p95 <= "
        f"{report['settings']['p95_limit_s']:g} s and no errors (stopped: {report['stop_reason']})\n"
        f"report: {out}   plot: {png}"
    )


if __name__ == "__main__":
    sys.exit(main())
