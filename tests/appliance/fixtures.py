"""Fixtures shared by the appliance checks (tests/appliance) and the attack tests (tests/security).

The target is a testinfra `host` (Molecule passes its inventory; elsewhere `pytest ... --hosts=docker://NAME`),
reached at its own address (HTTPS when it redirects HTTP there), or at SKYHUB_HUB_URL when that is set."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import pytest
from hub import ADMIN_PASSWORD_FILE, HubUser, added_user, admin_password, sign_in_admin

# The certificate first boot makes for an instance without a domain (roles/first_boot: https_settings)
INSTANCE_CERT = "/etc/skyhub/tls/instance.crt"
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="module")
def hub_url(host, tmp_path_factory) -> str:
    if os.environ.get("SKYHUB_HUB_URL"):
        return os.environ["SKYHUB_HUB_URL"].rstrip("/")
    # eth0: the instance's own interface (hostname -I may list the nested Docker bridge first)
    ip = host.check_output("ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    # A host whose first boot switched HTTPS on (no domain: its own self-signed certificate, its addresses in
    # the SAN) redirects HTTP: speak HTTPS to it, trusting that one certificate besides the system's (requests
    # and websocket-client read the bundle from the environment). A host upgraded from a release before HTTPS
    # keeps plain HTTP (first boot ran once, under that release).
    code = host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1/hub/api").stdout.strip()
    if code in ("301", "302", "307", "308") and host.file(INSTANCE_CERT).exists:
        bundle = tmp_path_factory.mktemp("hub-tls") / "bundle.pem"
        system = SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else ""
        bundle.write_text(system + "\n" + host.file(INSTANCE_CERT).content_string)
        os.environ["REQUESTS_CA_BUNDLE"] = os.environ["WEBSOCKET_CLIENT_CA_BUNDLE"] = str(bundle)
        return f"https://{ip}"
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
