"""skyhub science-images: the archive is named by the images' content keys (the role's own key function)."""

from __future__ import annotations

from pathlib import Path

from skyhub.build import science_cache

REPO = Path(__file__).resolve().parents[3]


def _entries(**keys: str) -> list[dict]:
    return [{"ref": f"skyhub/{n}:1.0", "key": k} for n, k in keys.items()]


def test_archive_name_follows_refs_and_keys_not_order():
    a = science_cache.archive_name(_entries(astro="k1", minimal="k2"))
    assert a == science_cache.archive_name(list(reversed(_entries(astro="k1", minimal="k2"))))
    assert a != science_cache.archive_name(_entries(astro="k1", minimal="k3"))
    assert a.startswith(science_cache.ARCHIVE_PREFIX) and a.endswith(".tar")


def test_the_cache_uses_the_roles_key_function_and_default_list():
    filters = science_cache._filters()
    plan = filters.build_plan(
        science_cache.default_images(), str(REPO / "images"), "skyhub/debian12-python:x", "sha256:1", []
    )
    assert {e["name"] for e in plan} == {"astro", "minimal"}
    direct = filters.content_key(REPO / "images" / "astro", "skyhub/debian12-python:x", "sha256:1")
    assert next(e for e in plan if e["name"] == "astro")["key"] == direct
    # another base (reference or id) is another key: an archive built on another base is never taken as is
    other = filters.content_key(REPO / "images" / "astro", "skyhub/debian12-python:x", "sha256:2")
    assert other != direct


def test_the_wheel_cache_is_keyed_by_the_lock_and_the_base(tmp_path: Path):
    entry = {"name": "astro", "lock_sha256": "ab" * 32}
    here = science_cache.wheel_dir(entry, "sha256:" + "1" * 64, tmp_path)
    assert here == tmp_path / "wheels" / f"astro-{'ab' * 8}-{'1' * 12}"
    assert (
        science_cache.wheel_dir({**entry, "lock_sha256": "cd" * 32}, "sha256:" + "1" * 64, tmp_path) != here
    )
    assert science_cache.wheel_dir(entry, "sha256:" + "2" * 64, tmp_path) != here
    # the download is hash-checked against the lock and takes wheels only (nothing built from source)
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r /skyhub/requirements.lock"):
        assert flag in science_cache._DOWNLOAD


def test_a_complete_wheel_cache_is_reused_without_docker(tmp_path: Path, monkeypatch):
    entry = {"name": "minimal", "lock_sha256": "ef" * 32}
    cached = science_cache.wheel_dir(entry, "sha256:" + "3" * 64, tmp_path)
    cached.mkdir(parents=True)
    (cached / "x-1.0-py3-none-any.whl").write_bytes(b"PK")
    (cached / science_cache.COMPLETE).write_text("ef" * 32)

    def no_docker(*a, **k):
        raise AssertionError("a complete cache must not run docker")

    monkeypatch.setattr(science_cache.subprocess, "run", no_docker)
    got = science_cache.ensure_wheels(entry, "base", "sha256:" + "3" * 64, REPO / "images", tmp_path)
    assert got == cached
