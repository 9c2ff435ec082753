#!/usr/bin/env python3
"""Installs before and after issue 13, side by side in one run (docs/benchmarks.md).

    .venv/bin/python scripts/bench_installs.py [--skip-venv] [--skip-images] [--base REF]

Before: the controller venv made with pip from requirements.txt; the astro image built from the Dockerfile
and requirements.txt of git ref BEFORE_REF (pip resolving the top-level pins inside the build).
After: the venv made as `make setup` makes it (pip installs uv from the lock, uv syncs the hashed lock);
the astro image built as `skyhub science-images` builds it (wheel cache per lock, uv installs the lock).

cold = no cache of any kind (pip/uv caches empty, `docker build --no-cache`, no wheel cache);
warm = the caches a second run has: pip's or uv's download cache for the venv; for the image, the
wheel cache of the lock with `docker build --no-cache` (what a lock change or a fresh Docker costs)
and, last, Docker's layer cache (what an unchanged image costs). Writes build/bench-installs.json.
Costs ~20-30 min on 2 cores (three cold astro installs); not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from skyhub.build import science_cache  # noqa: E402

BEFORE_REF = os.environ.get("SKYHUB_BENCH_BEFORE_REF", "b82e2e0")
CA = "/etc/ssl/certs/ca-certificates.crt"
OUT = REPO / "build" / "bench-installs.json"


def timed(label: str, argv: list[str], **kw) -> float:
    print(f"bench: {label} ...", flush=True)
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kw)
    took = round(time.monotonic() - start, 1)
    print(f"bench: {label}: {took} s", flush=True)
    return took


def load() -> float:
    return round(os.getloadavg()[0], 1)


def venv_before(tmp: Path, env: dict) -> float:
    venv = tmp / "venv-before"
    shutil.rmtree(venv, ignore_errors=True)
    reqs = tmp / "requirements-before.txt"
    reqs.write_text(subprocess.run(["git", "show", f"{BEFORE_REF}:requirements.txt"], cwd=REPO, check=True,
                                   capture_output=True, text=True).stdout)  # fmt: skip
    script = (
        f"python3 -m venv {venv} && {venv}/bin/python -m pip install -q --upgrade 'pip>=24.2' "
        f"&& {venv}/bin/python -m pip install -q -r {reqs} -e {REPO}"
    )
    return timed("venv before (pip)", ["bash", "-c", script], env=env, stderr=subprocess.DEVNULL)


def venv_after(tmp: Path, env: dict) -> float:
    venv = tmp / "venv-after"
    shutil.rmtree(venv, ignore_errors=True)
    script = (
        f"python3 -m venv {venv} && awk '/^uv==/{{p=1}} p{{print}} p&&!/\\\\$/{{exit}}' requirements.lock"
        f" > {tmp}/uv.txt && {venv}/bin/python -m pip install -q --no-deps --require-hashes -r {tmp}/uv.txt"
        f" && UV_SYSTEM_CERTS=1 {venv}/bin/uv pip sync -q --python {venv}/bin/python --require-hashes"
        f" requirements.lock && {venv}/bin/uv pip install -q --python {venv}/bin/python --no-deps"
        " --no-build-isolation -e ."
    )
    return timed(
        "venv after (uv, lock)", ["bash", "-c", script], env=env, cwd=REPO, stderr=subprocess.DEVNULL
    )


def image_before(tmp: Path, base: str, tag: str, no_cache: bool) -> float:
    ctx = tmp / "ctx-before"
    if not ctx.exists():
        ctx.mkdir()
        for name in ("Dockerfile", "requirements.txt"):
            text = subprocess.run(["git", "show", f"{BEFORE_REF}:images/astro/{name}"], cwd=REPO, check=True,
                                  capture_output=True, text=True).stdout  # fmt: skip
            (ctx / name).write_text(text)
        shutil.copyfile(CA, ctx / "build-ca.pem")
    argv = ["docker", "build", "-q", "--pull=false", "-t", tag, "--build-arg", f"BASE_IMAGE={base}"]
    argv += ["--build-arg", "SKYHUB_IMAGE_VERSION=bench", "--build-arg", "SKYHUB_CONTENT_KEY=bench"]
    return timed(f"astro before ({'cold' if no_cache else 'layer cache'})",
                 [*argv, *(["--no-cache"] if no_cache else []), str(ctx)])  # fmt: skip


def image_after(cache: Path, base: str, tag: str, no_cache: bool, label: str) -> float:
    entry = next(e for e in science_cache.plan(base) if e["name"] == "astro")
    entry = {**entry, "ref": tag}
    base_id = science_cache.image.image_id(base) or ""
    start = time.monotonic()
    print(f"bench: astro after ({label}) ...", flush=True)
    wheels = science_cache.ensure_wheels(entry, base, base_id, REPO / "images", cache)
    with tempfile.TemporaryDirectory(prefix="context-", dir=cache) as tmp:
        ctx = Path(tmp) / "astro"
        shutil.copytree(REPO / "images" / "astro", ctx)
        shutil.copyfile(CA, ctx / "build-ca.pem")
        science_cache._link_tree(wheels, ctx / "wheels")
        argv = ["docker", "build", "-q", "--pull=false", "-t", tag, "--build-arg", f"BASE_IMAGE={base}"]
        argv += [
            "--build-arg",
            "SKYHUB_IMAGE_VERSION=bench",
            "--build-arg",
            f"SKYHUB_CONTENT_KEY={entry['key']}",
        ]
        argv += ["--build-arg", f"SKYHUB_LOCK_SHA256={entry['lock_sha256']}"]
        subprocess.run([*argv, *(["--no-cache"] if no_cache else []), str(ctx)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    took = round(time.monotonic() - start, 1)
    print(f"bench: astro after ({label}): {took} s", flush=True)
    return took


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-venv", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--base", default="skyhub/debian12-python:latest")
    args = parser.parse_args()
    results: dict[str, object] = {"before_ref": BEFORE_REF, "cpus": os.cpu_count(), "load_at_start": load()}
    with tempfile.TemporaryDirectory(prefix="bench-installs-", dir=REPO / "build") as tmpname:
        tmp = Path(tmpname)
        if not args.skip_venv:
            cold_pip = {**os.environ, "PIP_NO_CACHE_DIR": "1"}
            warm_pip = {**os.environ, "PIP_CACHE_DIR": str(tmp / "pip-cache")}
            uv_env = {**os.environ, "UV_CACHE_DIR": str(tmp / "uv-cache")}
            results["venv_before_cold_s"] = venv_before(tmp, cold_pip)
            venv_before(tmp, warm_pip)  # fills pip's cache
            results["venv_before_warm_s"] = venv_before(tmp, warm_pip)
            results["venv_after_cold_s"] = venv_after(tmp, uv_env)
            results["venv_after_warm_s"] = venv_after(tmp, uv_env)
        if not args.skip_images:
            tags = ["skyhub-bench/astro:before", "skyhub-bench/astro:after"]
            try:
                results["astro_before_cold_s"] = image_before(tmp, args.base, tags[0], no_cache=True)
                results["astro_before_layer_cache_s"] = image_before(tmp, args.base, tags[0], no_cache=False)
                cache = tmp / "cache"
                cache.mkdir()
                results["astro_after_cold_s"] = image_after(cache, args.base, tags[1], True, "cold")
                results["astro_after_wheel_cache_s"] = image_after(
                    cache, args.base, tags[1], True, "wheel cache"
                )
                results["astro_after_layer_cache_s"] = image_after(
                    cache, args.base, tags[1], False, "layer cache"
                )
                results["wheel_cache_mib"] = round(
                    sum(f.stat().st_size for f in (cache / "wheels").rglob("*") if f.is_file()) / 2**20
                )
            finally:
                subprocess.run(["docker", "image", "rm", *tags], capture_output=True, check=False)
    results["load_at_end"] = load()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
