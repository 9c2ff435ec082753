"""Idle shutdown on the host, decided by its real systemd timer: a running user server keeps the instance up
(and the journal says why); with no server and no activity for the window, the power-off command runs.

The Molecule scenario injects a power-off command that only appends the time to EVIDENCE, with a 36 s window
and a 10 s timer. On a target whose command would really power off, or whose window is long, those checks are
skipped; what the settings promise (timer on/off, hub registration) is checked everywhere.
"""

from __future__ import annotations

import json
import time

import pytest

from skyhub.aws.idle_probe import run_idle_check

CONFIG = "/etc/skyhub/idle-shutdown.json"
SNIPPET = "/opt/tljh/config/jupyterhub_config.d/40-idle-shutdown.py"
SERVICE = "skyhub-idle-shutdown.service"
TIMER = "skyhub-idle-shutdown.timer"
EVIDENCE = "/run/skyhub-idle-poweroff"
DECISION = "skyhub-idle-shutdown: "


@pytest.fixture(scope="module")
def settings(host) -> dict:
    if not host.file(CONFIG).exists:
        pytest.skip("the idle_shutdown role is not on this target")
    return json.loads(host.file(CONFIG).content_string)


@pytest.fixture(scope="module")
def watchable(host, settings) -> dict:
    """The settings, where the timer may be watched deciding: enabled, harmless command, short window."""
    if not host.service(TIMER).is_enabled:
        pytest.skip("idle shutdown is disabled on this target")
    if EVIDENCE not in settings["poweroff_command"]:
        pytest.skip(f"the power-off command here is real ({settings['poweroff_command']!r})")
    if float(settings["idle_hours"]) * 3600 > 120:
        pytest.skip(f"window is {settings['idle_hours']} h here; the Molecule scenario sets a short one")
    host.run(f"rm -f {EVIDENCE}")
    yield settings
    host.run(f"rm -f {EVIDENCE}")  # the timer keeps deciding; its later evidence is harmless (tmpfs)


def _now(host) -> float:
    return float(host.check_output("date +%s.%N"))


def _next_decision(host, after: float, timeout: float) -> tuple[float, str]:
    """(start time, decision line) of the first run of the service that started after `after` (host clock),
    read from the journal: systemd's "Starting ..." entry, then the checker's own line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = host.check_output(f"journalctl -u {SERVICE} --since @{int(after)} -o json --no-pager")
        started = None
        for line in out.splitlines():
            entry = json.loads(line)
            ts = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
            msg = entry.get("MESSAGE", "")
            if not isinstance(msg, str) or ts < after:
                continue
            if started is None and msg.startswith("Starting ") and entry.get("_PID") == "1":
                started = ts
            elif started is not None and msg.startswith(DECISION):
                return started, msg
        time.sleep(2)
    raise AssertionError(f"no run of {SERVICE} started and decided within {timeout:.0f} s")


def _evidence_since(host, since: float) -> list[float]:
    f = host.file(EVIDENCE)
    if not f.exists:
        return []
    return [float(x) for x in f.content_string.split() if float(x) >= since]


def test_timer_and_registration_follow_the_setting(host, settings):
    timer = host.service(TIMER)
    if host.file(SNIPPET).exists:  # enabled: registered with the hub, token made, timer running
        assert timer.is_enabled and timer.is_running
        assert host.file(settings["token_file"]).mode == 0o600
    else:  # disabled: installed but inert
        assert not timer.is_enabled and not timer.is_running


def test_running_server_keeps_the_instance_up(host, new_user, watchable):
    interval_budget = 60
    user = new_user("busy")
    host.run(f"rm -f {EVIDENCE}")
    user.start()
    ready = _now(host)
    started, decision = _next_decision(host, ready, interval_budget)
    assert decision.startswith(f"{DECISION}stay up: servers running: "), decision
    assert f"{user.name}/" in decision
    assert _evidence_since(host, started) == [], "powered off while a server was running"
    # the checker run by hand (harmless command) agrees even with a window of a third of a second
    direct = run_idle_check(host, idle_hours=0.0001)
    assert direct["poweroff"] is False and direct["powered_off"] is False
    assert f"{user.name}/" in direct["reason"]
    user.stop()


def test_no_server_for_the_window_powers_off(host, new_user, watchable):
    # a fresh sign-in is activity: the power-off may come only a full window after it. Earlier modules'
    # servers were stopped by their fixtures (or the 60 s culler); nobody acts from here on.
    new_user("quiet")
    quiet_from = _now(host)
    window = float(watchable["idle_hours"]) * 3600
    budget = window + 60 + 90  # the window, a few timer runs, a straggling server for the culler
    deadline = time.monotonic() + budget
    after = quiet_from
    while True:
        started, decision = _next_decision(host, after, max(deadline - time.monotonic(), 1))
        if "POWER OFF" in decision:
            break
        assert time.monotonic() < deadline, f"still up after {budget:.0f} s of quiet: {decision}"
        after = started + 0.001
    assert decision.startswith(f"{DECISION}POWER OFF: no server running"), decision
    assert started >= quiet_from + window - 5, f"powered off {started - quiet_from:.0f} s after a sign-in"
    assert _evidence_since(host, int(started)), "decided to power off, but the command left no evidence"
