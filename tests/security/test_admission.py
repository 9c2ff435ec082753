"""A full host refuses new servers clearly and keeps everyone already working (issue 17, item 2).

The appliance host sets `tljh_active_server_limit: 12` (molecule/appliance); on a real host the limit comes
from its memory. Through the hub: users start servers until the hub refuses one (bounded), the refusal says
the hub is full and to try again, a user who was already working still runs code, and once one server stops
the refused user starts."""

from __future__ import annotations

import contextlib

import pytest
from hub import run_code

pytestmark = pytest.mark.security
MOST = 16  # attempts: the appliance's limit is 12, and other modules' servers may still be running


def test_a_full_hub_refuses_new_servers_clearly_and_keeps_the_working_ones(working_user, new_user):
    worker = working_user("busy")
    started = []
    beats = []  # fillers report activity: the appliance's culler stops servers idle for 60 s, which made room
    refused = None
    try:
        for _ in range(MOST):
            user = new_user("filler")
            r = user.api("POST", f"/users/{user.name}/server", json={"image": "minimal"})
            if r.status_code == 429:
                refused = (user, r)
                break
            assert r.status_code in (201, 202), f"start {user.name}: HTTP {r.status_code}: {r.text[:300]}"
            user.wait_ready(180)
            started.append(user)
            beats.append(user.heartbeat())
        if refused is None:
            running = sum(1 for u in started if u.model().get("servers"))
            pytest.fail(
                f"{len(started)} servers started ({running} still running) and the hub never said it was full"
            )
        user, r = refused
        assert "Try again in a few minutes" in r.json()["message"], r.text
        # the browser's way: the spawn form's POST gets the same reason on a page, not a crash
        page = user.session.post(
            f"{user.base}/hub/spawn/{user.url_name}",
            data={"image": "minimal", "_xsrf": user.session.cookies.get("_xsrf", "")},
            timeout=60,
        )
        assert page.status_code == 429 and "Try again in a few minutes" in page.text, page.status_code
        # nobody already working is affected
        assert run_code(worker, "print(6 * 7)").strip() == "42"
        assert all(u.model()["servers"][""]["ready"] for u in started)
        # room again: one server stops (a filler; the worker when other modules' servers had filled the hub),
        # and the refused user starts
        (started.pop() if started else worker).stop()
        user.start({"image": "minimal"})
        started.append(user)
    finally:
        for beat in beats:
            beat.set()
        for u in started:
            with contextlib.suppress(Exception):
                u.stop()
