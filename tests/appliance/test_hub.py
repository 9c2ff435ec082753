"""The hub as a user meets it: sign in, start a server, keep files, limits and isolation."""

from __future__ import annotations

import json
import time

import pytest
import requests
import yaml
from hub import HubError


@pytest.fixture(scope="module")
def idler(new_user):
    """A server started first and then left alone, for the culler check at the end."""
    user = new_user("idle")
    user.start()
    return user, time.monotonic()


@pytest.fixture(scope="module")
def alice(new_user, idler):
    user = new_user("alice")
    user.start()
    return user


def _inspect(host, name: str) -> dict:
    return json.loads(host.check_output(f"docker inspect jupyter-{name}"))[0]


def _cpus(host_config: dict) -> float:
    """CPU limit in cores, however Docker was told (DockerSpawner uses quota/period)."""
    if host_config.get("NanoCpus"):
        return host_config["NanoCpus"] / 1e9
    if host_config.get("CpuQuota", 0) > 0 and host_config.get("CpuPeriod"):
        return host_config["CpuQuota"] / host_config["CpuPeriod"]
    return 0.0


def test_hub_api_answers_through_the_proxy(hub_url):
    r = requests.get(f"{hub_url}/hub/api", timeout=30)
    assert r.status_code == 200 and r.json()["version"].startswith("5.")


def test_units_have_tljh_names(host):
    assert host.service("jupyterhub").is_running and host.service("jupyterhub").is_enabled
    assert host.service("traefik").is_running and host.service("traefik").is_enabled


def test_signed_in_user_server_answers_through_proxy(alice):
    r = alice.server("GET", "api/status")
    assert r.status_code == 200
    assert alice.model()["servers"][""]["ready"] is True


def test_file_written_survives_stop_and_start(alice, host):
    alice.write_file("notes.txt", "hello from skyhub\n")
    alice.stop()
    assert host.run(f"docker inspect jupyter-{alice.name}").rc != 0, "container must be removed on stop"
    alice.start()
    assert alice.read_file("notes.txt") == "hello from skyhub\n"


def test_home_is_on_the_home_volume_owned_by_the_container_user(alice, host):
    home = host.file(f"/srv/skyhub/home/{alice.name}")
    assert home.is_directory and home.uid == 1000
    assert host.file(f"/srv/skyhub/home/{alice.name}/notes.txt").content_string == "hello from skyhub\n"


def test_container_is_locked_down(alice, host):
    info = _inspect(host, alice.name)
    hc = info["HostConfig"]
    assert hc["Memory"] > 0
    assert _cpus(hc) > 0
    assert info["Config"]["User"] not in ("", "0", "root", "0:0")
    assert "no-new-privileges:true" in (hc.get("SecurityOpt") or [])
    assert "ALL" in (hc.get("CapDrop") or [])
    mounts = [m["Source"] for m in info["Mounts"]] + [m["Destination"] for m in info["Mounts"]]
    assert not any("docker.sock" in m for m in mounts)
    # every process of the server runs as uid 1000 (`docker top`: `docker exec` fails in nested Docker)
    rows = host.check_output(f"docker top jupyter-{alice.name} -o pid,uid").splitlines()[1:]
    uids = [row.split()[1] for row in rows if row.strip()]
    assert uids and set(uids) == {"1000"}


def test_memory_and_cpu_limits_match_settings(alice, host):
    cfg = yaml.safe_load(host.file("/opt/tljh/config/config.yaml").content_string)
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    mem = str(cfg["limits"]["memory"])
    expected = int(float(mem[:-1]) * units[mem[-1]])
    hc = _inspect(host, alice.name)["HostConfig"]
    assert hc["Memory"] == expected
    assert _cpus(hc) == pytest.approx(float(cfg["limits"]["cpu"]))


def test_second_user_cannot_see_first_users_files(alice, new_user):
    bob = new_user("bob")
    bob.start()
    assert "notes.txt" not in bob.list_dir()
    # nor reach the first user's server with their own credentials
    r = bob.server("GET", "api/status")
    assert r.status_code == 200
    url = f"{alice.base}/user/{alice.name}/api/contents/notes.txt"
    other = requests.get(url, headers=bob.auth, timeout=30)
    assert other.status_code in (403, 404) or "hello from skyhub" not in other.text


def test_hub_api_port_is_not_exposed_outside_the_host(host, hub_url):
    listeners = host.check_output("ss -Hltn")
    assert ":15001" in listeners
    assert "0.0.0.0:15001" not in listeners and "*:15001" not in listeners
    # plain HTTP whatever the hub's scheme: the hub's own port speaks HTTP, so an HTTPS request to an exposed
    # port would fail with an SSLError (a ConnectionError too) and hide the exposure
    address = hub_url.split("://", 1)[1].rstrip("/")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}:15001/hub/api", timeout=5)


def test_second_image_can_be_chosen(new_user, host):
    carol = new_user("carol")
    carol.start({"image": "minimal"})
    image = _inspect(host, carol.name)["Config"]["Image"]
    assert "minimal" in image


def test_image_not_in_the_list_is_refused(new_user, host):
    dave = new_user("dave")
    with pytest.raises(HubError):
        dave.start({"image": "evil/miner:latest"}, timeout=60)
    assert host.run(f"docker inspect jupyter-{dave.name}").rc != 0
    assert not dave.model().get("servers")


def test_idle_server_is_culled(idler, host):
    cfg = yaml.safe_load(host.file("/opt/tljh/config/config.yaml").content_string)
    cull = cfg["services"]["cull"]
    if int(cull["timeout"]) > 120:
        pytest.skip(f"culler timeout is {cull['timeout']} s here; the Molecule scenario sets a short one")
    user, started = idler
    deadline = started + int(cull["timeout"]) + 3 * int(cull["every"]) + 60
    while time.monotonic() < deadline:
        if not user.model().get("servers"):
            break
        time.sleep(2)
    assert not user.model().get("servers"), "idle server was not culled"
    assert host.run(f"docker inspect jupyter-{user.name}").rc != 0
