"""Updates that need a reboot wait until no user server runs (base role: skyhub-reboot-when-idle).

The installed check runs against the host's real Docker with a test copy of its settings: a required-reboot
file under /run/skyhub-reboot-test and a reboot command that only appends the time to a file there, so it is
safe on every target (the Molecule host and the booted image). The unit and timer are checked as installed.
"""

from __future__ import annotations

import json

import pytest

CONFIG = "/etc/skyhub/reboot-when-idle.json"
TOOL = "/usr/local/sbin/skyhub-reboot-when-idle"
WORK = "/run/skyhub-reboot-test"


@pytest.fixture(scope="module")
def settings(host) -> dict:
    if not host.file(CONFIG).exists:
        pytest.skip("the reboot check is turned off on this target (base_reboot_when_idle)")
    return json.loads(host.file(CONFIG).content_string)


@pytest.fixture()
def check(host, settings):
    """Run the installed check with a test config; returns (decision, evidence lines)."""
    host.run(f"rm -rf {WORK} && mkdir -p {WORK}")
    test_config = {
        "required_file": f"{WORK}/reboot-required",
        "container_prefix": settings["container_prefix"],
        "reboot_command": f"sh -c 'date +%s >> {WORK}/rebooted'",
    }
    host.run(f"cat > {WORK}/config.json <<'EOF'\n{json.dumps(test_config)}\nEOF")

    def run(required: bool) -> tuple[dict, list[str]]:
        host.run(f"rm -f {WORK}/rebooted {WORK}/reboot-required*")
        if required:
            host.run(f"touch {WORK}/reboot-required && echo linux-image-amd64 > {WORK}/reboot-required.pkgs")
        out = host.run(f"{TOOL} --config {WORK}/config.json --json")
        assert out.rc == 0, out.stderr
        decision = json.loads(out.stdout.splitlines()[0])
        rebooted = host.file(f"{WORK}/rebooted")
        return decision, rebooted.content_string.split() if rebooted.exists else []

    yield run
    host.run(f"rm -rf {WORK}")


def test_unit_and_timer_use_the_settings(host, settings):
    assert host.service("skyhub-reboot-when-idle.timer").is_enabled
    assert host.service("skyhub-reboot-when-idle.timer").is_running
    unit = host.file("/etc/systemd/system/skyhub-reboot-when-idle.service").content_string
    assert f"--config {CONFIG}" in unit
    # unattended-upgrades installs security updates and leaves the reboot to this check
    auto = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'Unattended-Upgrade "1"' in auto and 'Automatic-Reboot "false"' in auto


def test_a_running_server_postpones_the_reboot_until_it_stops(host, settings, new_user, check):
    decision, rebooted = check(required=False)
    assert decision["action"] == "none" and rebooted == []
    user = new_user("reboot")
    user.start()
    try:
        decision, rebooted = check(required=True)
        assert decision["action"] == "wait", decision
        # a plain name: its container is named prefix + name (DockerSpawner's escaping leaves it as it is)
        assert f"{settings['container_prefix']}{user.name}" in decision["servers"], decision
        assert "linux-image-amd64" in decision["reason"]
        assert rebooted == [], "rebooted while a user server was running"
    finally:
        user.stop()
    # control: the same check with the server gone reboots (the harmless command ran)
    decision, rebooted = check(required=True)
    assert decision["action"] == "reboot", decision
    assert len(rebooted) == 1
