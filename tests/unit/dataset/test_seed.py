"""Seeding: valid FITS in the archive's key layout, deterministic bytes, manifest and tree checks."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skyhub.dataset import fitsgen, seed
from skyhub.errors import SkyhubError

KEY_RE = re.compile(r"^hst/public/(?P<p4>[a-z0-9]{4})/(?P<id>[a-z0-9]{9})/(?P=id)_[a-z0-9]+\.fits$")


@pytest.fixture(scope="module")
def objects() -> list[fitsgen.SeedObject]:
    return fitsgen.demo_objects()


def _open(obj: fitsgen.SeedObject) -> fits.HDUList:
    hdul = fits.open(io.BytesIO(obj.data))
    hdul.verify("exception")
    return hdul


def test_keys_follow_the_archive_layout(objects):
    for obj in objects:
        m = KEY_RE.match(obj.key)
        assert m, obj.key
        assert m["id"].startswith(m["p4"])
    assert fitsgen.hst_key("u9o40504m", "c3m") == "hst/public/u9o4/u9o40504m/u9o40504m_c3m.fits"
    with pytest.raises(ValueError, match="9 letters"):
        fitsgen.hst_key("short", "raw")


def test_files_are_valid_fits_and_deterministic(objects):
    again = fitsgen.demo_objects()
    assert [o.data for o in objects] == [o.data for o in again]
    for obj in objects:
        assert len(obj.data) % 2880 == 0
        hdul = _open(obj)
        assert hdul[0].header["TELESCOP"] == "HST"
        assert hdul[0].header["ROOTNAME"] == obj.key.split("/")[3]


def test_image_has_a_celestial_wcs(objects):
    drz = _open(next(o for o in objects if o.key.endswith("_drz.fits")))
    sci = drz["SCI"]
    assert sci.data.shape == (128, 128) and sci.header["BITPIX"] == -32
    wcs = WCS(sci.header)
    assert wcs.has_celestial
    centre = wcs.pixel_to_world(63.5, 63.5)
    assert centre.ra.deg == pytest.approx(150.1163213, abs=1e-4)
    assert centre.dec.deg == pytest.approx(2.2058593, abs=1e-4)
    assert sci.data.max() > 10 * np.median(sci.data)  # there are stars


def test_spectrum_is_a_table_with_units(objects):
    x1d = _open(next(o for o in objects if o.key.endswith("_x1d.fits")))
    table = x1d[1]
    assert isinstance(table, fits.BinTableHDU)
    assert table.columns["WAVELENGTH"].unit == "Angstrom"
    wave, flux = table.data["WAVELENGTH"], table.data["FLUX"]
    assert np.all(np.diff(wave) > 0)
    assert abs(wave[np.argmax(flux)] - 1548.2) < 5  # the emission line


def test_raw_and_calibrated_pair_match(objects):
    raw = _open(next(o for o in objects if o.key.endswith("_raw.fits")))
    flt = _open(next(o for o in objects if o.key.endswith("_flt.fits")))
    assert raw["SCI"].data.dtype.kind == "u" and raw["SCI"].header["BITPIX"] == 16
    assert flt["SCI"].header["BUNIT"] == "ELECTRONS/S"
    recon = (raw["SCI"].data.astype(np.float32) - 1000.0) * 1.5 / 300.0
    assert np.allclose(recon, flt["SCI"].data)


def test_manifest_tree_and_verify(tmp_path, objects):
    manifest = seed.build_manifest("stpubdata", objects)
    assert [e["key"] for e in manifest["objects"]] == sorted(o.key for o in objects)
    path = tmp_path / "m.json"
    seed.write_manifest(path, manifest)
    assert seed.load_manifest(path) == manifest

    seed.write_tree(tmp_path / "seed", "stpubdata", objects)
    mount_like = tmp_path / "seed" / "stpubdata" / "hst" / "public"
    assert seed.verify_tree(mount_like, manifest, "hst/public/") == []
    victim = mount_like / objects[0].key.removeprefix("hst/public/")
    victim.write_bytes(b"changed")
    problems = seed.verify_tree(mount_like, manifest, "hst/public/")
    assert len(problems) == 1 and "sha256" in problems[0]
    victim.unlink()
    assert "No such file" in seed.verify_tree(mount_like, manifest, "hst/public/")[0]


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(SkyhubError, match="not a valid S3 bucket name"):
        seed.check_bucket_name("Bad_Bucket")
    seed.check_bucket_name("stpubdata")
    with pytest.raises(SkyhubError, match="must be an http"):
        seed.s3_client("127.0.0.1:9000")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SkyhubError, match="not a skyhub dataset manifest"):
        seed.load_manifest(tmp_path / "x.json")


def test_cli_writes_tree_and_manifest(tmp_path, capsys):
    from skyhub.cli import main

    assert main(["seed", "--output", str(tmp_path)]) == 0
    manifest = seed.load_manifest(tmp_path / "stpubdata.manifest.json")
    assert len(manifest["objects"]) == 4
    assert (
        main(
            [
                "dataset-verify",
                str(tmp_path / "stpubdata/hst/public"),
                "--manifest",
                str(tmp_path / "stpubdata.manifest.json"),
            ]
        )
        == 0
    )
    assert main(["seed"]) == 2
    assert "give --endpoint URL" in capsys.readouterr().err
