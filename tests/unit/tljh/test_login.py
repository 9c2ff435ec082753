"""The plugin's login check (tljh_skyhub.login): names the hub cannot give a home or a route are refused,
with the reason on the login form."""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace

import pytest
from tljh_skyhub import login


class FakeWeb:
    """tornado.web's HTTPError and Finish as the login hook uses them (tornado is the hub's)."""

    class HTTPError(Exception):
        def __init__(self, status_code, log_message):
            super().__init__(log_message)
            self.status_code = status_code

    class Finish(Exception):
        pass


class FakeLoginHandler:
    """JupyterHub's login form handler as the hook uses it: a status and the form rendered with an error."""

    status = 200

    def set_status(self, status):
        self.status = status

    async def _render(self, login_error=None, username=None):
        return f"<form>{username}: {login_error}</form>"


class FakeOAuthHandler:
    """Any other handler (an OAuth callback): no login form to show."""


@pytest.fixture
def hub_modules(monkeypatch):
    # the hub's environment has these; here: DockerSpawner's escaping of names (one-to-one: every character
    # outside a-z0-9 becomes -XX; its real code runs on the appliance), tornado's web and JupyterHub's
    # login handler
    escape = lambda s: "".join(c if c.isascii() and c.isalnum() else f"-{ord(c):02x}" for c in s)  # noqa: E731
    monkeypatch.setitem(
        sys.modules, "dockerspawner", SimpleNamespace(DockerSpawner=SimpleNamespace(_escape=escape))
    )
    monkeypatch.setitem(sys.modules, "tornado", SimpleNamespace(web=FakeWeb))
    monkeypatch.setitem(sys.modules, "jupyterhub", SimpleNamespace())
    monkeypatch.setitem(sys.modules, "jupyterhub.handlers", SimpleNamespace())
    monkeypatch.setitem(
        sys.modules, "jupyterhub.handlers.login", SimpleNamespace(LoginHandler=FakeLoginHandler)
    )


def test_login_refuses_names_too_long_for_a_home_or_with_control_characters_and_keeps_others(hub_modules):
    def check(name, handler):
        log = SimpleNamespace(warning=lambda *a: None)
        return asyncio.run(login.check_name(SimpleNamespace(log=log), handler, {"name": name}))

    for name in ["jane.doe@example.org", "o'brien", "zoë", "x" * 48, "a+b", "(x)|y"]:
        assert check(name, FakeLoginHandler()) == {"name": name}
    for name in ["x`)||hostregexp(`.+`)||hostregexp(`y", "50%", "a;b", "a?b", "a#b", "a\\b"]:
        with pytest.raises(FakeWeb.Finish) as done:
            check(name, FakeLoginHandler())
        assert "cannot route" in done.value.args[0], name
    # the login form comes back with the reason (not an error page: see the hook)
    form = FakeLoginHandler()
    with pytest.raises(FakeWeb.Finish) as done:
        check("é" * 80, form)
    assert form.status == 403 and "too long" in done.value.args[0]
    with pytest.raises(FakeWeb.Finish) as done:
        check("ann\x01", FakeLoginHandler())
    assert "control or invisible characters" in done.value.args[0]
    for name in ["ale\u00adams", "ann\x90", "a\u00a0b", "a\u2028b", "a\ufeffb"]:  # invisible ones too
        with pytest.raises(FakeWeb.Finish) as done:
            check(name, FakeLoginHandler())
        assert "invisible" in done.value.args[0], repr(name)
    # other handlers (OAuth callbacks): JupyterHub's error page with the reason
    with pytest.raises(FakeWeb.HTTPError, match="too long") as err:
        check("é" * 80, FakeOAuthHandler())
    assert err.value.status_code == 403
