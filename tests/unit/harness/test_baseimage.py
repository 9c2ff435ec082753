"""Content keys of the local base images: stable for the same inputs, new for any change."""

from __future__ import annotations

import dataclasses

from skyhub.baseimage import BASES, BaseSpec

SPEC = BaseSpec(name="t", repository="skyhub/t", packages=("python3", "systemd"), cmd="/sbin/init")


def test_key_is_stable_and_order_independent():
    same = dataclasses.replace(SPEC, packages=("systemd", "python3"))
    assert SPEC.key(b"script") == same.key(b"script")
    assert len(SPEC.key(b"script")) == 12


def test_key_changes_with_each_input():
    base = SPEC.key(b"script")
    assert dataclasses.replace(SPEC, suite="trixie").key(b"script") != base
    assert dataclasses.replace(SPEC, packages=("python3",)).key(b"script") != base
    assert dataclasses.replace(SPEC, mirror="http://example.invalid/debian").key(b"script") != base
    assert dataclasses.replace(SPEC, cmd="/bin/sh").key(b"script") != base
    assert SPEC.key(b"script v2") != base


def test_default_key_covers_the_build_script():
    assert SPEC.key() != SPEC.key(b"")


def test_bases_are_distinct_images():
    refs = {spec.ref() for spec in BASES.values()}
    assert len(refs) == len(BASES)
    assert "systemd" in BASES["host"].packages and BASES["host"].cmd == "/sbin/init"
