"""The hub snippet 20-datasets.py: rendered from the role's template, loaded by traitlets like JupyterHub.

It must add the dataset binds without dropping the volumes an earlier snippet (the tljh role's home bind)
assigned, and also work when it is the first to touch DockerSpawner.volumes (a LazyConfigValue).
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

traitlets = pytest.importorskip("traitlets")
from traitlets.config import Configurable, PyFileConfigLoader  # noqa: E402

ROLE = Path(__file__).resolve().parents[3] / "roles" / "dataset_mount"


class DockerSpawner(Configurable):
    volumes = traitlets.Dict(config=True)


def render(tmp_path: Path, datasets: list[dict]) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    text = env.get_template("20-datasets.py.j2").render(
        ansible_managed="test",
        _dataset_mount_datasets=datasets,
        dataset_mount_root="/srv/skyhub/data",
        dataset_mount_container_root="/data",
    )
    path = tmp_path / "20-datasets.py"
    path.write_text(text)
    return path


def load(tmp_path: Path, *files: Path) -> dict:
    config = traitlets.config.Config()
    for f in files:
        loader = PyFileConfigLoader(f.name, path=str(f.parent))
        config.merge(loader.load_config())
    return DockerSpawner(config=config).volumes


DATASETS = [{"name": "hst"}, {"name": "jwst"}]
# the whole root, so remounts under it propagate (rslave) into running containers
EXPECTED = {"/srv/skyhub/data": {"bind": "/data", "mode": "ro,rslave"}}


def test_snippet_alone(tmp_path):
    assert load(tmp_path, render(tmp_path, DATASETS)) == EXPECTED
    text = render(tmp_path, DATASETS).read_text()
    assert "/data/hst  <- s3://" in text and "/data/jwst  <- s3://" in text


def test_snippet_after_one_that_assigns_volumes(tmp_path):
    snippet = render(tmp_path, DATASETS)
    combined = tmp_path / "combined.py"  # JupyterHub runs config.d snippets in one namespace, in order
    combined.write_text(
        'c.DockerSpawner.volumes = {"/srv/skyhub/home/{username}": {"bind": "/home/jovyan", "mode": "rw"}}\n'
        + snippet.read_text()
    )
    volumes = load(tmp_path, combined)
    assert volumes == {**EXPECTED, "/srv/skyhub/home/{username}": {"bind": "/home/jovyan", "mode": "rw"}}


def test_snippet_in_a_separate_file_merged_with_an_assignment(tmp_path):
    home = tmp_path / "10-home.py"
    home.write_text('c.DockerSpawner.volumes = {"/h/{username}": "/home/jovyan"}\n')
    volumes = load(tmp_path, home, render(tmp_path, DATASETS))
    assert volumes == {**EXPECTED, "/h/{username}": "/home/jovyan"}
