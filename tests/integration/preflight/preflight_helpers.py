"""Helpers of the preflight tier (imported by name: never `from conftest import`). Run roles (or
playbooks/site.yml) against a throwaway container of the test-host image, to prove that bad
input stops the play in preflight, with a message naming the variable, before anything on the host changed
(`docker diff`).

Cheap by batching: every case is an inventory host of its own (an alias of the same container, with the case's
variables as host variables), so one ansible-playbook run checks many cases; each host stops at its own first
failure. The JSON callback gives each host's failure message and changed count."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# Paths Ansible itself writes while connecting; anything else in `docker diff` is a change to the host.
ANSIBLE_OWN = re.compile(r"^/(root/\.ansible|tmp|root)(/|$)")


@dataclass
class HostResult:
    failed: bool = False
    message: str = ""  # the first failure's message (an assert's fail_msg, an argument spec error)
    changed: int = 0


@dataclass
class BatchRun:
    rc: int
    hosts: dict[str, HostResult]
    changed: list[str]  # paths `docker diff` reports, minus Ansible's own temp files
    stderr: str = ""
    raw: dict = field(default_factory=dict)


def _host_image() -> str:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/skyhub"), "base-image", "host", "--print-ref"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def start_container() -> str:
    name = f"skyhub-preflight-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "run", "-d", "--name", name, _host_image(), "sleep", "infinity"],
        check=True,
        capture_output=True,
    )
    return name


def _failure_message(result: dict) -> str:
    failed_items = [r for r in result.get("results", []) if r.get("failed")]
    parts = [str(r.get("msg", "")) for r in failed_items] or [str(result.get("msg", ""))]
    errors = result.get("argument_errors") or []
    return " ".join(" ".join([*parts, *map(str, errors)]).split())


def _ansible_env(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        # facts come from a cache primed once per container (see prime_facts); plays that ask for facts
        # explicitly (site.yml) still gather their own
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(workdir / "facts"),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "3600",
    }


def prime_facts(container: str, hosts: list[str], workdir: Path) -> None:
    """Gather the container's facts once (the min subset: distribution and OS family, all a preflight reads)
    and store them for every case host: every alias is the same machine, and gathering through `docker exec`
    costs seconds per host on a busy machine."""
    env = _ansible_env(workdir)
    env.pop("ANSIBLE_STDOUT_CALLBACK")
    play = workdir / "facts.yml"
    play.write_text("- {name: Facts, hosts: all, gather_facts: true, gather_subset: [min], tasks: []}\n")
    subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", f"{container},", "-c", "community.docker.docker",
         str(play)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=600,
    )  # fmt: skip
    # the cache file is <prefix><host> (ansible-core 2.19 writes a schema prefix such as "s1_")
    (cached,) = (workdir / "facts").glob(f"*{container}")
    prefix = cached.name.removesuffix(container)
    for host in hosts:
        (workdir / "facts" / f"{prefix}{host}").write_text(cached.read_text())


def run_batch(
    container: str,
    playbook: Path,
    cases: dict[str, tuple[str, dict]],
    workdir: Path,
    args: tuple[str, ...] = (),
) -> BatchRun:
    """cases: {host alias: (group, variables)}; the playbook's plays target the groups."""
    prime_facts(container, list(cases), workdir)
    groups: dict[str, dict] = {}
    for host, (group, variables) in cases.items():
        groups.setdefault(group, {"hosts": {}})["hosts"][host] = {"ansible_host": container, **variables}
    inventory = workdir / "inventory.yml"
    connection = {"ansible_connection": "community.docker.docker"}
    inventory.write_text(yaml.safe_dump({"all": {"children": groups, "vars": connection}}))
    env = _ansible_env(workdir)
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inventory), *args, str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1800,
    )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        msg = f"ansible-playbook gave no JSON (rc {proc.returncode}): {proc.stderr[-3000:]}"
        raise AssertionError(msg) from exc
    hosts = {h: HostResult() for h in cases}
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                failed = result.get("failed") or any(r.get("failed") for r in result.get("results", []))
                if failed and host in hosts and not hosts[host].failed:
                    hosts[host].failed = True
                    hosts[host].message = _failure_message(result)
    for host, stats in data.get("stats", {}).items():
        if host in hosts:
            hosts[host].changed = stats.get("changed", 0)
    diff = subprocess.run(["docker", "diff", container], capture_output=True, text=True, check=True)
    changed = [
        line.split(maxsplit=1)[1]
        for line in diff.stdout.splitlines()
        if line.strip() and not ANSIBLE_OWN.match(line.split(maxsplit=1)[1])
    ]
    return BatchRun(proc.returncode, hosts, changed, proc.stderr, data)


def roles_playbook(roles: list[str], path: Path) -> Path:
    """One play over every case host; each role runs (as a play runs it) only on its group role_<name>.

    One play, not one per role: Ansible ends the whole run when every host of a play has failed."""
    play = {
        "name": "Preflight probe",
        "hosts": "all",
        # no gather_facts: with ANSIBLE_GATHERING=smart the play takes the facts prime_facts cached
        "roles": [{"role": r, "when": f"'role_{r}' in group_names"} for r in roles],
    }
    path.write_text("---\n" + yaml.safe_dump([play], sort_keys=False))
    return path
