"""Fixtures shared by the appliance checks (tests/appliance) and the attack tests (tests/security).

The target is a testinfra `host` (Molecule passes its inventory; elsewhere `pytest ... --hosts=docker://NAME`),
reached over HTTP at its own address, or at SKYHUB_HUB_URL when that is set."""

from __future__ import annotations

import contextlib
import os
import secrets

import pytest
from hub import ADMIN_PASSWORD_FILE, HubUser, added_user, admin_password, sign_in_admin


@pytest.fixture(scope="module")
def hub_url(host) -> str:
    if os.environ.get("SKYHUB_HUB_URL"):
        return os.environ["SKYHUB_HUB_URL"].rstrip("/")
    # eth0: the instance's own interface (hostname -I may list the nested Docker bridge first)
    ip = host.check_output("ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    return f"http://{ip}"


@pytest.fixture(scope="module")
def admin(hub_url, host) -> HubUser:
    """The hub's admin, signed in (sign-up is closed: the admin adds every other user). Its password:
    SKYHUB_ADMIN_PASSWORD, else the one-time password first boot wrote on an instance of the image, else the
    Molecule appliance's (molecule/appliance/molecule.yml)."""
    text = host.run(f"cat {ADMIN_PASSWORD_FILE}").stdout if host.file(ADMIN_PASSWORD_FILE).exists else None
    return sign_in_admin(hub_url, admin_password(text))


@pytest.fixture(scope="module")
def new_user(hub_url, admin):
    """Make a user the admin adds, who then signs in through the first-use login form and holds an API
    token."""
    made: list[HubUser] = []

    def make(prefix: str) -> HubUser:
        user = added_user(admin, f"{prefix}{secrets.token_hex(3)}", secrets.token_urlsafe(16))
        made.append(user)
        return user

    yield make
    for user in made:
        with contextlib.suppress(Exception):  # best-effort cleanup
            user.stop()
