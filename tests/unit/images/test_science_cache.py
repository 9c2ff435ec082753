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
