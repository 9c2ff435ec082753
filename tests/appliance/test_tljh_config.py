"""TLJH as its admins know it: `tljh-config set` + `reload` changes the next spawn, and what the next
Ansible converge does with a key changed by hand (docs/decisions.md, "Who owns a config.yaml key")."""

from __future__ import annotations

import json

import pytest
import yaml

CONFIG = "/opt/tljh/config/config.yaml"
# The keys file the tljh role writes and merges with this very command on every converge.
CONVERGE_APPLY = "/opt/tljh/hub/bin/skyhub-tljh-apply /opt/tljh/state/skyhub-config.json"
MiB = 1024**2


def _config(host) -> dict:
    return yaml.safe_load(host.file(CONFIG).content_string)


def _memory(host, name: str) -> int:
    return json.loads(host.check_output(f"docker inspect jupyter-{name}"))[0]["HostConfig"]["Memory"]


def _tljh_config(host, *args: str) -> str:
    # TLJH's reload waits for the hub without a deadline of its own
    cmd = " ".join(args)
    return host.check_output(f"timeout 300 tljh-config {cmd}")


@pytest.fixture(scope="module")
def converged(host):
    """config.yaml as the converge left it; put back (the way a converge does) after the module."""
    before = _config(host)
    yield before
    host.run(CONVERGE_APPLY)
    host.run("tljh-config unset services.cull.concurrency")
    _tljh_config(host, "reload", "hub")
    assert _config(host) == before


def test_tljh_config_is_tljhs_own_command(host):
    link = host.file("/usr/bin/tljh-config")
    assert link.is_symlink and link.linked_to == "/opt/tljh/hub/bin/tljh-config"
    assert "skyhub" in _config(host) and host.run("tljh-config show").rc == 0
    version = host.check_output(
        "/opt/tljh/hub/bin/python3 -c "
        "\"import importlib.metadata as m; print(m.version('the-littlest-jupyterhub'))\""
    )
    assert version == "2.0.0"
    # the hub runs TLJH's jupyterhub_config.py, with the skyhub plugin registered in TLJH's entry point group
    assert "tljh/jupyterhub_config.py" in host.check_output("systemctl cat jupyterhub")
    plugins = host.check_output(
        '/opt/tljh/hub/bin/python3 -c "from tljh.utils import get_plugin_manager as g; '
        'print(sorted(n for n, _ in g().list_name_plugin()))"'
    )
    assert "skyhub" in plugins


def test_set_and_reload_takes_effect_on_the_next_spawn(host, new_user, converged):
    mem = str(converged["limits"]["memory"])
    default = int(float(mem[:-1]) * {"M": MiB, "G": 1024 * MiB}[mem[-1]])
    plain, special = new_user("cfgplain"), new_user("cfgspecial")
    _tljh_config(host, "set", "limits.memory", "768M")
    _tljh_config(host, "set", f"skyhub.limits.users.{special.name}.mem_limit", "640M")
    _tljh_config(host, "reload", "hub")
    plain.start()
    special.start()
    try:
        assert _memory(host, plain.name) == 768 * MiB != default
        assert _memory(host, special.name) == 640 * MiB  # the per-user override beats TLJH's default
    finally:
        plain.stop()
        special.stop()


def test_next_converge_writes_its_keys_back_and_keeps_the_admins(host, converged):
    _tljh_config(host, "set", "limits.memory", "700M")  # a key the role owns (tljh_spawner_mem_limit)
    _tljh_config(host, "set", "services.cull.concurrency", "3")  # a key the role does not set
    result = json.loads(host.check_output(CONVERGE_APPLY))
    after = _config(host)
    assert result["changed"] and "limits.memory" in result["keys"]
    assert after["limits"]["memory"] == converged["limits"]["memory"]
    assert after["services"]["cull"]["concurrency"] == 3
    # written back once, nothing more to do: the converge is idempotent after it
    assert json.loads(host.check_output(CONVERGE_APPLY)) == {"changed": False, "keys": [], "proxy": False}
    assert host.file(CONFIG).mode == 0o600
