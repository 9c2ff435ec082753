"""Closed sign-up (issue 15, item 1): only the admin and the users the admin adds can log in, and the admin
name cannot be claimed by whoever logs in first. Runs on the Molecule appliance (the tljh role's default,
with the admin's password hash from the inventory) and on an instance of the image (the one-time password
first boot made)."""

from __future__ import annotations

import secrets

from hub import ADMIN, HubUser

# The login form answers a successful login with a redirect; a refused one renders the form again.
SIGNED_IN = (302, 303)


def test_a_name_nobody_added_cannot_sign_up(hub_url, admin):
    name = f"stranger{secrets.token_hex(3)}"
    stranger = HubUser(hub_url, name, secrets.token_urlsafe(16))
    refused = stranger.try_login()
    assert refused.status_code not in SIGNED_IN, f"{name} signed up on a closed hub"
    assert not admin.exists(name), f"the refused login still made the user {name}"
    # control: the same name and password work once the admin has added the name
    admin.add_users(name)
    assert HubUser(hub_url, name, stranger.password).try_login().status_code in SIGNED_IN


def test_the_admin_name_cannot_be_claimed_without_its_password(hub_url, admin):
    claim = HubUser(hub_url, ADMIN, secrets.token_urlsafe(16)).try_login()
    assert claim.status_code not in SIGNED_IN, f"a random password signed in as {ADMIN}"
    # control: the admin's own password signs in (as the `admin` fixture did), and the name is an admin
    assert HubUser(hub_url, ADMIN, admin.password).try_login().status_code in SIGNED_IN
    r = admin.api("GET", f"/users/{ADMIN}")
    assert r.status_code == 200 and r.json()["admin"] is True, r.text[:300]


def test_an_added_user_keeps_the_password_of_their_first_login(hub_url, admin):
    """First use: an added name takes the password of its first login; later logins need that password."""
    name = f"added{secrets.token_hex(3)}"
    admin.add_users(name)
    first = HubUser(hub_url, name, secrets.token_urlsafe(16))
    assert first.try_login().status_code in SIGNED_IN
    assert HubUser(hub_url, name, secrets.token_urlsafe(16)).try_login().status_code not in SIGNED_IN
    assert HubUser(hub_url, name, first.password).try_login().status_code in SIGNED_IN  # control
