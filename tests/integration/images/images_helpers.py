"""Helpers for the science images tests: run the science_images role against this machine's Docker engine.

The role runs with a local connection (the target is this host), images tagged skyhub/<name>:<version>
with test-only versions ending in "-imagestest", build contexts and image sources in a temporary
directory. Test images are removed at the end of the session; Docker's layer cache is kept, so a re-run
only re-does what changed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BASE_IMAGE = "skyhub/debian12-python:latest"
TEST_VERSION = "0.0.1-imagestest"
REPORT = ROOT / "build" / "images-report.json"


@dataclass
class Converge:
    rc: int
    output: str
    seconds: float

    @property
    def changed(self) -> int:
        m = re.search(r"localhost\s+:.*?changed=(\d+)", self.output)
        return int(m.group(1)) if m else -1


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def image_exists(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def inspect(ref: str) -> dict:
    return json.loads(docker("image", "inspect", ref).stdout)[0]


def run_role(variables: dict, workdir: Path, tags: str = "") -> Converge:
    """ansible-playbook with the science_images role against localhost; returns rc, output and duration."""
    playbook = workdir / "play.yml"
    playbook.write_text(
        textwrap.dedent(
            """\
            ---
            - name: Science images on this host
              hosts: localhost
              connection: local
              gather_facts: true
              roles:
                - role: science_images
            """
        )
    )
    extra = workdir / "vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    argv = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-e", f"@{extra}", str(playbook)]
    if tags:
        argv += ["--tags", tags]
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    return Converge(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)


def record(key: str, value: object) -> None:
    """Add a figure (build time, image size) to build/images-report.json for the report."""
    REPORT.parent.mkdir(exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[key] = value
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
