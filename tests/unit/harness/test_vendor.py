"""`skyhub vendor`: where this checkout finds the vendored upstream releases."""

from __future__ import annotations

import pytest

from skyhub import cli, vendor
from skyhub.errors import SkyhubError


def test_finds_each_item_under_the_directory_the_variable_names(tmp_path):
    for rel in vendor.ITEMS.values():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    env = {vendor.ENV: str(tmp_path)}
    assert (
        vendor.vendor_path("tljh-archive", env) == tmp_path / "tljh" / "the_littlest_jupyterhub-2.0.0.tar.gz"
    )
    assert vendor.vendor_path("z2jh-schema", env).name == "values.schema.yaml"
    # control: with the file gone the same call fails, naming the variable that points elsewhere
    (tmp_path / vendor.ITEMS["tljh-archive"]).unlink()
    with pytest.raises(SkyhubError, match=r"tljh-archive: not found .*Set SKYHUB_VENDOR_DIR"):
        vendor.vendor_path("tljh-archive", env)


def test_this_checkout_finds_the_releases_without_the_variable():
    # the development and CI machines keep them beside the repository (../shared/vendor)
    for item in vendor.ITEMS:
        assert vendor.vendor_path(item, {}).is_file()


def test_cli_prints_the_path_and_errors_without_a_traceback(tmp_path, capsys):
    assert cli.main(["vendor", "tljh-archive"]) == 0
    assert capsys.readouterr().out.strip().endswith("the_littlest_jupyterhub-2.0.0.tar.gz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(vendor.ENV, str(tmp_path))
        assert cli.main(["vendor", "z2jh-schema"]) != 0
    assert "skyhub: error: z2jh-schema: not found" in capsys.readouterr().err
