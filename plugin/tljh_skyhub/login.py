"""Login names the hub refuses, with the reason shown on the login form (the Authenticator's post_auth_hook).

Every other name works end to end: DockerSpawner's escaping (one-to-one: "-" is escaped too) names the
container and the home directory, so two names never share a home.
"""

from __future__ import annotations

from typing import Any

# The longest escaped user name whose home directory name (and container name) still works.
USERNAME_MAX_ESCAPED = 200
# Characters a login name must not hold: traefik rejects paths with their percent-encoded forms (so the user's
# server could never be reached), and a backtick would end a string in traefik's routing rules (proxy.py).
NAME_UNROUTABLE = "`%\\;?#"


def name_problem(name: str) -> str | None:
    """Why this login name cannot be used on this hub, or None."""
    from dockerspawner import DockerSpawner

    escaped = DockerSpawner._escape(name)
    if not name.isprintable():  # control characters, and invisible ones (soft hyphen, no-break space, ...)
        return (
            "This user name contains control or invisible characters. Choose a name of letters, digits and "
            "punctuation."
        )
    if any(char in NAME_UNROUTABLE for char in name):
        return (
            f"This user name contains one of {' '.join(NAME_UNROUTABLE)}, which this hub cannot route to a "
            "server. Choose a name without them."
        )
    if len(escaped.encode()) > USERNAME_MAX_ESCAPED:
        return (
            f"This user name is too long for this hub: its escaped form ({len(escaped)} characters) must be "
            f"at most {USERNAME_MAX_ESCAPED}. Letters a-z and digits count once, other characters three "
            "times or more. Choose a shorter name."
        )
    return None


async def check_name(authenticator: Any, handler: Any, authentication: dict[str, Any]) -> dict[str, Any]:
    """Refuse, at login and with a clear message, a name whose home directory name would be too long, that
    holds control or invisible characters or that traefik cannot route (name_problem)."""
    from jupyterhub.handlers.login import LoginHandler
    from tornado import web

    name = authentication["name"]
    problem = name_problem(name)
    if problem is None:
        return authentication
    authenticator.log.warning("Refused login name %r: %s", name[:16], problem)
    if isinstance(handler, LoginHandler):
        # The login form again, with the reason. (Raising HTTPError here gives an EMPTY 403 page with the
        # first-use authenticator: its login handler's render_template lacks the `sync` argument JupyterHub's
        # error page rendering passes, so the error page itself fails.)
        handler.set_status(403)
        raise web.Finish(await handler._render(login_error=problem, username=name[:32]))
    raise web.HTTPError(403, problem)  # OAuth callbacks (GitHub, OIDC): JupyterHub's error page
