"""The demo notebooks run headless (nbclient) against mounted data and render their plots.

Kernel: SKYHUB_NB_PYTHON (e.g. the astro image's python, when a test runs inside it) or a venv made on
demand in build/dataset-nbvenv with astropy, matplotlib, ipykernel and nbclient (until the astro image is
wired in: it is another area's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
NB_DIR = ROOT / "notebooks"
VENV = ROOT / "build" / "dataset-nbvenv"
PACKAGES = ["nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0", "matplotlib==3.11.2",
            "astropy==8.0.2", "numpy==2.4.6"]  # fmt: skip

RUNNER = """
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3").execute()
nbformat.write(nb, sys.argv[2])
"""


@pytest.fixture(scope="session")
def nb_python() -> str:
    if os.environ.get("SKYHUB_NB_PYTHON"):
        return os.environ["SKYHUB_NB_PYTHON"]
    python = VENV / "bin" / "python"
    ok = (
        python.exists()
        and subprocess.run([str(python), "-c", "import nbclient, astropy, matplotlib"]).returncode == 0
    )
    if not ok:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return str(python)


def execute(nb_python: str, name: str, tmp_path: Path, env: dict[str, str]) -> dict:
    out = tmp_path / name
    res = subprocess.run([nb_python, "-c", RUNNER, str(NB_DIR / name), str(out)], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(out.read_text())


def outputs(nb: dict) -> list[dict]:
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def text_of(nb: dict) -> str:
    parts = []
    for o in outputs(nb):
        parts.append("".join(o.get("text", "")))
        parts.append("".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_tour_notebook_on_the_mounted_data(nb_python, s3fs_mount, tmp_path):
    nb = execute(nb_python, "01-hst-data-tour.ipynb", tmp_path, {"SKYHUB_DATA_DIR": str(s3fs_mount)})
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    text = text_of(nb)
    assert "is mounted." in text
    assert "jskh/jskh01010/jskh01010_drz.fits" in text
    assert "RA---TAN" in text and "ROOTNAME" in text  # header and WCS shown
    pngs = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(pngs) >= 2  # the image and the spectrum were rendered


def test_tour_notebook_explains_an_unavailable_dataset(nb_python, tmp_path):
    data = tmp_path / "hst"
    data.mkdir()
    (data / "DATASET-UNAVAILABLE.txt").write_text('DATASET UNAVAILABLE: "hst"\n')
    nb = execute(nb_python, "01-hst-data-tour.ipynb", tmp_path, {"SKYHUB_DATA_DIR": str(data)})
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    assert "DATASET UNAVAILABLE" in text_of(nb)


def test_cloud_notebook_explains_itself_offline(nb_python, s3_endpoint, seeded, tmp_path):
    env = {"SKYHUB_OFFLINE": "1", "SKYHUB_S3_ENDPOINT": s3_endpoint,
           "SKYHUB_CLOUD_KEY": "hst/public/jskh/jskh01010/jskh01010_drz.fits"}  # fmt: skip
    nb = execute(nb_python, "02-hst-cloud-native.ipynb", tmp_path, env)
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    text = text_of(nb)
    assert "offline mode: True" in text
    assert ("astroquery is not installed" in text) or ("MAST (mast.stsci.edu) is not reachable" in text)
