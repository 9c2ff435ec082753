"""User names that need escaping work end to end, and two names never share a home (issue 12, item 4).

Through the hub: the admin adds the user (sign-up is closed), who signs in, starts a server, reaches it
through the proxy and writes a file; on the host the file is in that user's own home directory
(DockerSpawner's escaped name), owned by the container user, and no other user's home holds it. A name whose
home directory name would be too long is refused at login with a clear message, and so is a name holding a
character the proxy cannot route."""

from __future__ import annotations

import secrets
import shlex
import time

import pytest
import requests
from hub import HubUser, added_user

HOME_ROOT = "/srv/skyhub/home"
pytestmark = pytest.mark.security


def escaped(name: str) -> str:
    """DockerSpawner 14's escaping of a (lower-case) name: a-z and 0-9 stay, every other UTF-8 byte is -xx."""
    safe = set("abcdefghijklmnopqrstuvwxyz0123456789")
    return "".join(c if c in safe else "".join(f"-{b:02x}" for b in c.encode()) for c in name)


NAMES = [
    "o'brien{}",
    "jane.doe+{}@example.org",
    "Upper.Case{}",  # JupyterHub lower-cases it
    "zoë-ünï{}",
    "a-very-long-user-name-of-forty-eight-chars-{}",
]


@pytest.mark.parametrize("pattern", NAMES)
def test_name_works_end_to_end_in_its_own_home(pattern, admin, host):
    tag = secrets.token_hex(2)
    user = added_user(admin, pattern.format(tag), secrets.token_urlsafe(16))  # login sets the hub's name
    try:
        user.start()
        user.write_file("whoami.txt", f"{user.name}\n")
        home = f"{HOME_ROOT}/{escaped(user.name)}"
        mine = shlex.quote(f"{home}/whoami.txt")
        assert host.check_output(f"cat {mine}") == user.name
        assert host.check_output(f"stat -c %u {mine}") == "1000"
        grep = f"grep -rlsF --include=whoami.txt -x {shlex.quote(user.name)} {HOME_ROOT}"
        holders = host.check_output(grep).split("\n")
        assert holders == [f"{home}/whoami.txt"], holders  # two names never share a home
        # the quota report names the user by their login name, not the escaped directory name
        assert user.name in host.check_output("skyhub-quota report")
    finally:
        user.stop()


def test_lookalike_names_get_different_homes(admin, host):
    tag = secrets.token_hex(2)
    made = []
    for name in (f"ab-{tag}", f"ab.{tag}", f"ab_{tag}"):  # would collide if punctuation were dropped
        user = added_user(admin, name, secrets.token_urlsafe(16))
        user.start()
        user.write_file("mine.txt", name)
        made.append(user)
    try:
        homes = {escaped(u.name) for u in made}
        assert len(homes) == 3
        for user in made:
            assert host.check_output(f"cat {HOME_ROOT}/{escaped(user.name)}/mine.txt") == user.name
    finally:
        for user in made:
            user.stop()


def login(admin: HubUser, name: str) -> requests.Response:
    """The admin adds the name (sign-up is closed), then the login form is POSTed as a browser does (first-use
    login: the first login of an added name sets its password)."""
    admin.add_users(name)
    return HubUser(admin.base, name, secrets.token_urlsafe(16)).try_login()


def test_name_too_long_for_a_home_is_refused_at_login_with_a_clear_message(admin):
    tag = secrets.token_hex(1)  # a new name each run: first-use login keeps the password of a name it saw
    refused = login(admin, "é" * 78 + tag)
    assert refused.status_code == 403, refused.status_code
    assert "too long" in refused.text, refused.text[-2000:]  # the login form, with the reason shown
    # control: a name of the same length in plain letters is accepted
    assert login(admin, "e" * 78 + tag).status_code in (302, 303)


def hub_answers(hub_url: str) -> bool:
    """The hub itself answers its API (not a user's server that took its route)."""
    r = requests.get(f"{hub_url}/hub/api", timeout=30)
    return r.status_code == 200 and r.headers.get("Content-Type", "").startswith("application/json")


def wait_for(predicate, seconds: float = 30) -> bool:
    for _ in range(int(seconds * 2)):
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def test_a_name_that_would_rewrite_the_proxy_rules_is_refused_and_the_hub_keeps_its_traffic(
    hub_url, admin, host
):
    """jupyterhub-traefik-proxy pastes the decoded user name into traefik's rule between backticks: a user
    named x`)||hostregexp(`.+`)||hostregexp(`y who starts a server gets a route that matches every request, so
    their server would serve everyone's login page (seen on an appliance before the fix). Such a name is
    refused at login with the reason, and the hub's proxy never writes a name's backtick into a rule."""
    name = "x`)||hostregexp(`.+`)||hostregexp(`y" + secrets.token_hex(2)
    refused = login(admin, name)
    assert refused.status_code == 403, refused.status_code
    assert "cannot route" in refused.text, refused.text[-2000:]
    assert hub_answers(hub_url)
    # control: the rule upstream writes for that name, dropped into traefik's rules directory by root (with a
    # target that is closed), does take the hub's own traffic, so the check above would see the hijack
    rule = f"( PathPrefix(`/user/{name}/`) || Path(`/user/{name}`) )"
    control = "/opt/tljh/state/rules/zz-skyhub-security-control.toml"
    toml = (
        f'[http.routers.skyhub-control]\nrule = "{rule}"\nservice = "skyhub-control"\n'
        "[http.services.skyhub-control.loadBalancer]\n"
        '[[http.services.skyhub-control.loadBalancer.servers]]\nurl = "http://127.0.0.1:9"\n'
    )
    try:
        host.run_expect([0], f"printf %s {shlex.quote(toml)} > {control}")
        assert wait_for(lambda: not hub_answers(hub_url)), "the upstream rule did not take the hub's traffic"
    finally:
        host.run(f"rm -f {control}")
    assert wait_for(lambda: hub_answers(hub_url)), "the hub did not get its traffic back"
