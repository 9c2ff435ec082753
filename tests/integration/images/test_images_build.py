"""Build both science images with the science_images role on this host's engine and check what users get."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from images_helpers import ROOT, TEST_VERSION, docker, image_exists, inspect, record, run_role

pytestmark = pytest.mark.integration

ASTRO = f"skyhub/astro:{TEST_VERSION}"
MINIMAL = f"skyhub/minimal:{TEST_VERSION}"
KEY_LABEL = "org.skyhub.image.content-key"


def _hub_pin() -> str:
    packages = yaml.safe_load((ROOT / "roles/tljh/defaults/main.yml").read_text())["tljh_hub_packages"]
    return next(p.split("==", 1)[1] for p in packages if p.startswith("jupyterhub=="))


def test_first_converge_builds_both_images(first_converge) -> None:
    for ref in (ASTRO, MINIMAL):
        assert image_exists(ref), ref
        assert len(inspect(ref)["Config"]["Labels"][KEY_LABEL]) == 64
    assert "Smoke-test" in first_converge.output or "Verify" in first_converge.output


def test_second_converge_changes_nothing(first_converge, role_vars, images_workdir: Path) -> None:
    ids = {ref: inspect(ref)["Id"] for ref in (ASTRO, MINIMAL)}
    again = run_role(role_vars(["astro", "minimal"]), images_workdir)
    assert again.rc == 0, again.output[-4000:]
    assert again.changed == 0, again.output[-4000:]
    assert {ref: inspect(ref)["Id"] for ref in (ASTRO, MINIMAL)} == ids
    record("noop_converge_s", round(again.seconds, 1))


@pytest.mark.parametrize("ref", [ASTRO, MINIMAL])
def test_runs_as_jovyan_uid_1000_not_root(first_converge, ref: str) -> None:
    config = inspect(ref)["Config"]
    assert config["User"] == "1000"
    assert config["WorkingDir"] == "/home/jovyan"
    assert config["Cmd"] == ["jupyterhub-singleuser"]
    probe = "id -u; id -g; id -un; echo $HOME"
    out = docker("run", "--rm", "--network", "none", ref, "sh", "-c", probe).stdout
    assert out.split() == ["1000", "100", "jovyan", "/home/jovyan"]


@pytest.mark.parametrize("ref", [ASTRO, MINIMAL])
def test_singleuser_version_matches_the_hub(first_converge, ref: str) -> None:
    out = docker("run", "--rm", "--network", "none", ref, "jupyterhub-singleuser", "--version").stdout
    assert out.strip() == _hub_pin() == "5.5.4"


def test_astro_imports_the_science_stack(first_converge) -> None:
    modules = "astropy, astroquery, s3fs, numpy, scipy, matplotlib, boto3, nbclient, ipykernel"
    code = f"import {modules}; print('ok')"
    out = docker("run", "--rm", "--network", "none", ASTRO, "python", "-c", code).stdout
    assert out.strip() == "ok"
    smoke = (ROOT / "images/astro/smoke.py").read_text()
    proc = subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", "none", ASTRO, "python", "-"],
        input=smoke,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "astropy 8.0.2" in proc.stdout


@pytest.mark.parametrize("ref", [ASTRO, MINIMAL])
def test_build_ca_bundle_is_not_in_the_image(first_converge, ref: str) -> None:
    probe = "test ! -e /tmp/skyhub-build && ! find / -xdev -name build-ca.pem 2>/dev/null | grep -q ."
    assert docker("run", "--rm", "--network", "none", ref, "sh", "-c", probe, check=False).returncode == 0
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref).stdout
    assert "build-ca" not in history


def test_minimal_serves_jupyterlab(first_converge) -> None:
    """The image's server answers HTTP (the spawner starts the same server with hub settings)."""
    name = f"skyhub-images-test-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "-d", "--name", name, MINIMAL,
        "jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser",
        "--IdentityProvider.token=imagestest",
    )  # fmt: skip
    try:
        ip = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.strip()
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{ip}:8888/api/status?token=imagestest", timeout=2) as r:
                    status = json.load(r)
                    break
            except OSError:
                time.sleep(0.5)
        assert status is not None, docker("logs", name, check=False).stderr[-3000:]
        assert "started" in status
        with urllib.request.urlopen(f"http://{ip}:8888/lab?token=imagestest", timeout=5) as r:
            assert "JupyterLab" in r.read().decode()
    finally:
        docker("rm", "-f", name, check=False)


def test_image_sizes_are_reported(first_converge) -> None:
    sizes = {ref: round(inspect(ref)["Size"] / 2**20) for ref in (ASTRO, MINIMAL)}
    record("image_size_mib", sizes)
    print(f"image sizes (MiB): {sizes}")
    assert sizes[MINIMAL] < 800
    assert sizes[MINIMAL] < sizes[ASTRO] < 2500


def test_a_dockerfile_change_rebuilds_only_that_image(
    first_converge, role_vars, images_workdir: Path
) -> None:
    before = {ref: inspect(ref) for ref in (ASTRO, MINIMAL)}
    dockerfile = images_workdir / "src/minimal/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# a comment changes the content key, not the layers\n")
    rebuilt = run_role(role_vars(["astro", "minimal"]), images_workdir)
    assert rebuilt.rc == 0, rebuilt.output[-4000:]
    assert rebuilt.changed >= 1
    after = {ref: inspect(ref) for ref in (ASTRO, MINIMAL)}
    assert after[ASTRO]["Id"] == before[ASTRO]["Id"]
    new_key = after[MINIMAL]["Config"]["Labels"][KEY_LABEL]
    assert new_key != before[MINIMAL]["Config"]["Labels"][KEY_LABEL]
    settled = run_role(role_vars(["astro", "minimal"]), images_workdir)
    assert settled.rc == 0 and settled.changed == 0, settled.output[-4000:]
