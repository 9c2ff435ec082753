"""Run a role against a throwaway container of the test-host image, to prove that bad input stops the play
in preflight, with a message naming the variable, before anything on the host changed (`docker diff`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Paths Ansible itself writes while connecting; anything else in `docker diff` is a change to the host.
ANSIBLE_OWN = re.compile(r"^/(root/\.ansible|tmp|root)(/|$)")


@dataclass
class RoleRun:
    rc: int
    output: str
    changed: list[str]  # paths `docker diff` reports, minus Ansible's own temp files

    @property
    def recap_changed(self) -> int:
        m = re.search(r"changed=(\d+)", self.output)
        return int(m.group(1)) if m else -1


def _host_image() -> str:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/skyhub"), "base-image", "host", "--print-ref"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def target_container():
    name = f"skyhub-preflight-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, _host_image(), "sleep", "infinity"],
        check=True,
        capture_output=True,
    )
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _run_playbook(container: str, playbook: Path, variables: dict, tmp_path: Path, args: tuple = ()) -> RoleRun:
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        # facts gathered once per container and reused (every case asks for the same host's facts)
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path.parent / "facts"),
    }
    proc = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"),
            "-i",
            f"{container},",
            "-c",
            "community.docker.docker",
            "-e",
            f"@{extra}",
            *args,
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    diff = subprocess.run(["docker", "diff", container], capture_output=True, text=True, check=True)
    changed = [
        line.split(maxsplit=1)[1]
        for line in diff.stdout.splitlines()
        if line.strip() and not ANSIBLE_OWN.match(line.split(maxsplit=1)[1])
    ]
    return RoleRun(proc.returncode, proc.stdout + proc.stderr, changed)


@pytest.fixture
def run_role(target_container, tmp_path):
    def run(role: str, variables: dict) -> RoleRun:
        playbook = tmp_path / "play.yml"
        playbook.write_text(
            textwrap.dedent(
                f"""\
                ---
                - name: Preflight probe
                  hosts: all
                  gather_facts: true
                  roles:
                    - role: {role}
                """
            )
        )
        return _run_playbook(target_container, playbook, variables, tmp_path)

    return run


@pytest.fixture
def run_site(target_container, tmp_path):
    """playbooks/site.yml against the container (as the hub host), with the given extra variables."""

    def run(variables: dict, *args: str, container: str | None = None) -> RoleRun:
        return _run_playbook(
            container or target_container,
            ROOT / "playbooks" / "site.yml",
            {"skyhub_hosts": "all", **variables},
            tmp_path,
            args,
        )

    return run


@pytest.fixture
def fresh_container():
    """A container of its own, for a test that lets a role change the host."""
    name = f"skyhub-preflight-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, _host_image(), "sleep", "infinity"],
        check=True,
        capture_output=True,
    )
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
