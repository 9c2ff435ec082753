"""A controller-side cache of the science images, keyed exactly like the science_images role keys them.

The astro stack is the most expensive thing skyhub builds (pip resolving and installing astropy, scipy,
matplotlib, ...). The Molecule appliance host, the Packer-built local image and `make demo` would each
build it again in their own nested Docker. Instead, `skyhub science-images` builds the images once on the
controller's Docker with the role's own Dockerfiles and build arguments, and writes one `docker save`
archive named by the images' content keys. The role loads that archive (`science_images_prebuilt_archive`)
and then plans as always: an image is rebuilt on the host exactly when its content-key label differs from
the key the role computes there, so a stale or foreign archive can cost time but never ship wrong content.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
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


@functools.cache
def _filters():
    """The role's filter plugin, loaded once (the one definition of the content key, shared with the role)."""
    path = ROLE / "filter_plugins" / "science_images.py"
    spec = importlib.util.spec_from_file_location("skyhub_science_images_filters", path)
    if spec is None or spec.loader is None:
        raise SkyhubError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def _build(entry: dict, base_ref: str, source_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="skyhub-science-") as tmp:
        ctx = Path(tmp) / entry["name"]
        shutil.copytree(source_dir / entry["name"], ctx)
        shutil.copyfile(CA_BUNDLE, ctx / "build-ca.pem")
        argv = [
            "docker", "build", "--pull=false", "--rm", "-t", entry["ref"],
            "--build-arg", f"BASE_IMAGE={base_ref}",
            "--build-arg", f"SKYHUB_IMAGE_VERSION={entry['version']}",
            "--build-arg", f"SKYHUB_CONTENT_KEY={entry['key']}",
            str(ctx),
        ]  # fmt: skip
        print(
            f"skyhub: building {entry['ref']} (key {entry['key'][:12]}) on this machine",
            file=sys.stderr,
            flush=True,
        )
        # docker's own build output goes to stderr: stdout carries only the archive path
        res = subprocess.run(argv, stdout=sys.stderr, check=False)
        if res.returncode != 0:
            raise SkyhubError(f"docker build of {entry['ref']} failed (exit {res.returncode}); see above")


def ensure(base_ref: str, cache_dir: Path, images: list[dict] | None = None) -> Path:
    """The archive of the images for `base_ref` under `cache_dir`, built and saved when missing."""
    source_dir = REPO / "images"
    entries = plan(base_ref, images, source_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / archive_name(entries)
    if archive.is_file():
        print(f"skyhub: science images cached in {archive} (keys unchanged)", file=sys.stderr, flush=True)
        return archive
    start = time.monotonic()
    for entry in entries:
        if content_key_label(entry["ref"]) == entry["key"]:
            print(f"skyhub: {entry['ref']} is current in the local Docker", file=sys.stderr, flush=True)
            continue
        _build(entry, base_ref, source_dir)
        if content_key_label(entry["ref"]) != entry["key"]:
            raise SkyhubError(f"{entry['ref']} was built but does not carry content key {entry['key'][:12]}")
    partial = archive.with_suffix(".partial")
    subprocess.run(["docker", "save", "-o", str(partial), *[e["ref"] for e in entries]], check=True)
    partial.rename(archive)
    for old in cache_dir.glob(f"{ARCHIVE_PREFIX}*.tar"):
        if old != archive:
            old.unlink()
            print(f"skyhub: removed stale {old.name}", file=sys.stderr, flush=True)
    size = archive.stat().st_size / 2**20
    print(
        f"skyhub: science images saved to {archive} ({size:.0f} MiB) in {time.monotonic() - start:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return archive
