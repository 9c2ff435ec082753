"""A controller-side cache of the science images, keyed exactly like the science_images role keys them.

The astro stack is the most expensive thing skyhub builds (pip resolving and installing astropy, scipy,
matplotlib, ...). The Molecule appliance host, the Packer-built local image and `make demo` would each
build it again in their own nested Docker. Instead, `skyhub science-images` builds the images once on the
controller's Docker with the role's own Dockerfiles and build arguments, and writes one `docker save`
archive named by the images' content keys. The role loads that archive (`science_images_prebuilt_archive`)
and then plans as always: an image is rebuilt on the host exactly when its content-key label differs from
the key the role computes there, so a stale or foreign archive can cost time but never ship wrong content.

Each image installs exactly its hashed requirements.lock. The files of a lock are kept in a wheel cache,
CACHE_DIR/wheels/<image>-<lock sha256[:16]>-<base id[:12]>/, downloaded once by pip inside a throwaway
container of the base (so the wheels fit the base's Python and platform; the host's CA bundle mounted
read-only; pip's HTTP cache in CACHE_DIR/pip, so a lock that changes one pin downloads one file). The
wheels go into the build context and the build installs them with --no-index; the lock's hashes are
checked at download and again at install, so the cache can save time but never change what is installed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from skyhub.build import image
from skyhub.errors import SkyhubError

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "science_images"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
ARCHIVE_PREFIX = "science-images-"
WHEELS_DIR = "wheels"
PIP_CACHE_DIR = "pip"
COMPLETE = ".complete"
# pip download inside the base: its own venv's pip (Debian's python3 has no pip module outside a venv).
_DOWNLOAD = (
    "set -eu; python3 -m venv /tmp/dl; "
    "PIP_CERT=/skyhub/ca.pem PIP_CACHE_DIR=/skyhub/pip-cache PIP_DISABLE_PIP_VERSION_CHECK=1 "
    "/tmp/dl/bin/pip download --progress-bar off --no-input --require-hashes --no-deps --only-binary=:all: "
    "--dest /skyhub/wheels -r /skyhub/requirements.lock"
)


@functools.cache
def _filters():
    """The role's filter plugin, loaded once (one definition of the content key, for the role and here)."""
    path = ROLE / "filter_plugins" / "science_images.py"
    spec = importlib.util.spec_from_file_location("skyhub_science_images_filters", path)
    if spec is None or spec.loader is None:
        raise SkyhubError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _say(message: str) -> None:
    """Progress on stderr (stdout carries only the archive path)."""
    print(f"skyhub: {message}", file=sys.stderr, flush=True)


def default_images() -> list[dict]:
    """science_images_list from the role's defaults (what a site.yml run builds)."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return list(defaults["science_images_list"])


def content_key_label(ref: str) -> str:
    """The content key the image `ref` carries (empty when it is missing or has none)."""
    key = _filters().KEY_LABEL
    res = subprocess.run(
        ["docker", "image", "inspect", "-f", '{{index .Config.Labels "' + key + '"}}', ref],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def plan(base_ref: str, images: list[dict] | None = None, source_dir: Path | None = None) -> list[dict]:
    base_id = image.image_id(base_ref)
    if base_id is None:
        raise SkyhubError(
            f"the science images' base {base_ref} is not in the local Docker; run `skyhub base-image python`"
        )
    filters = _filters()
    return filters.build_plan(
        images or default_images(), str(source_dir or REPO / "images"), base_ref, base_id, []
    )


def archive_name(entries: list[dict]) -> str:
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e["ref"]):
        h.update(f"{e['ref']}={e['key']}\0".encode())
    return f"{ARCHIVE_PREFIX}{h.hexdigest()[:12]}.tar"


def wheel_dir(entry: dict, base_id: str, cache_dir: Path) -> Path:
    """Where the wheel cache of this image's lock on this base lives (keyed by the lock's hash)."""
    base = base_id.split(":")[-1][:12]
    return cache_dir / WHEELS_DIR / f"{entry['name']}-{entry['lock_sha256'][:16]}-{base}"


def ensure_wheels(entry: dict, base_ref: str, base_id: str, source_dir: Path, cache_dir: Path) -> Path:
    """The wheels of the image's lock for this base, downloaded (hash-checked) when not cached yet."""
    dest = wheel_dir(entry, base_id, cache_dir)
    if (dest / COMPLETE).is_file():
        count = sum(1 for _ in dest.glob("*.whl"))
        _say(f"{entry['name']}: {count} wheels cached in {dest}")
        return dest
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    pip_cache = cache_dir / PIP_CACHE_DIR
    pip_cache.mkdir(parents=True, exist_ok=True)
    lock = source_dir / entry["name"] / "requirements.lock"
    _say(f"{entry['name']}: downloading the wheels of its lock into {dest}")
    start = time.monotonic()
    argv = [
        "docker", "run", "--rm", "--user", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp",
        "-v", f"{CA_BUNDLE}:/skyhub/ca.pem:ro", "-v", f"{lock.resolve()}:/skyhub/requirements.lock:ro",
        "-v", f"{partial.resolve()}:/skyhub/wheels", "-v", f"{pip_cache.resolve()}:/skyhub/pip-cache",
        base_ref, "sh", "-c", _DOWNLOAD,
    ]  # fmt: skip
    res = subprocess.run(argv, stdout=sys.stderr, check=False)
    if res.returncode != 0:
        raise SkyhubError(f"downloading the wheels of {lock} failed (exit {res.returncode}); see above")
    (partial / COMPLETE).write_text(entry["lock_sha256"] + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    for old in (cache_dir / WHEELS_DIR).glob(f"{entry['name']}-*"):
        if old != dest:
            shutil.rmtree(old, ignore_errors=True)
            _say(f"removed stale wheel cache {old.name}")
    count = sum(1 for _ in dest.glob("*.whl"))
    _say(f"{entry['name']}: {count} wheels in {time.monotonic() - start:.0f} s")
    return dest


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a directory by hard links where possible (the context is on the cache's filesystem)."""

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link, ignore=shutil.ignore_patterns(COMPLETE))


def _build(entry: dict, base_ref: str, source_dir: Path, wheels: Path | None, cache_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="context-", dir=cache_dir) as tmp:
        ctx = Path(tmp) / entry["name"]
        shutil.copytree(source_dir / entry["name"], ctx)
        shutil.copyfile(CA_BUNDLE, ctx / "build-ca.pem")
        if wheels is None:
            (ctx / WHEELS_DIR).mkdir()
        else:
            _link_tree(wheels, ctx / WHEELS_DIR)
        argv = [
            "docker", "build", "--pull=false", "--rm", "-t", entry["ref"],
            "--build-arg", f"BASE_IMAGE={base_ref}",
            "--build-arg", f"SKYHUB_IMAGE_VERSION={entry['version']}",
            "--build-arg", f"SKYHUB_CONTENT_KEY={entry['key']}",
            "--build-arg", f"SKYHUB_LOCK_SHA256={entry['lock_sha256']}",
            str(ctx),
        ]  # fmt: skip
        _say(f"building {entry['ref']} (key {entry['key'][:12]}) on this machine")
        # docker's own build output goes to stderr: stdout carries only the archive path
        res = subprocess.run(argv, stdout=sys.stderr, check=False)
        if res.returncode != 0:
            raise SkyhubError(f"docker build of {entry['ref']} failed (exit {res.returncode}); see above")


def ensure(
    base_ref: str, cache_dir: Path, images: list[dict] | None = None, use_wheel_cache: bool = True
) -> Path:
    """The archive of the images for `base_ref` under `cache_dir`, built and saved when missing."""
    source_dir = REPO / "images"
    entries = plan(base_ref, images, source_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / archive_name(entries)
    if archive.is_file():
        _say(f"science images cached in {archive} (keys unchanged)")
        return archive
    start = time.monotonic()
    for entry in entries:
        if content_key_label(entry["ref"]) == entry["key"]:
            _say(f"{entry['ref']} is current in the local Docker")
            continue
        base_id = image.image_id(base_ref) or ""
        wheels = ensure_wheels(entry, base_ref, base_id, source_dir, cache_dir) if use_wheel_cache else None
        _build(entry, base_ref, source_dir, wheels, cache_dir)
        if content_key_label(entry["ref"]) != entry["key"]:
            raise SkyhubError(f"{entry['ref']} was built but does not carry content key {entry['key'][:12]}")
    partial = archive.with_suffix(".partial")
    subprocess.run(["docker", "save", "-o", str(partial), *[e["ref"] for e in entries]], check=True)
    partial.rename(archive)
    for old in cache_dir.glob(f"{ARCHIVE_PREFIX}*.tar"):
        if old != archive:
            old.unlink()
            _say(f"removed stale {old.name}")
    size = archive.stat().st_size / 2**20
    print(
        f"skyhub: science images saved to {archive} ({size:.0f} MiB) in {time.monotonic() - start:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return archive
