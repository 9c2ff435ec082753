"""The hub's proxy: TLJH's traefik file-provider proxy with routing rules that a user name cannot break.

jupyterhub-traefik-proxy 2.1 (TLJH 2.0.0's proxy) pastes the decoded user name between backticks into
traefik's rule, so a user named x`)||hostregexp(`.+`)||hostregexp(`y would route every request of the hub to
their own server; and traefik 3 matches a request on its still percent-encoded path, so names holding ' or +
never reached their servers. docs/security.md has the whole story.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote


def _rule_safe(text: str) -> bool:
    """A string traefik's rule and the rules file keep as it is: printable (the file's TOML writer mangles
    some invisible characters, and traefik's raw strings drop a CR) and without a backtick (it ends the
    string)."""
    return text.isprintable() and "`" not in text


def route_rule(routespec: str) -> str:
    """traefik's rule for a JupyterHub route, one-to-one with the route.

    The hub's routespecs are percent-encoded (/user/o%27brien/: only A-Z a-z 0-9 _ . - ~ @ % /), and
    traefik matches a request on its normalized, still encoded path, so the encoded form is always matched
    (upstream matches only the decoded form: users whose names hold ' or + never reached their server). The
    decoded form is matched too when it cannot be read as anything else: printable, no backtick (upstream
    pastes the decoded name into the rule, so a user named x`)||hostregexp(`.+`)||hostregexp(`y routed every
    request of the hub to their own server), and no % (/user/o%27brien/ decoded from a user named
    o%2527brien is the encoded path of o'brien). Raises ValueError only for a routespec JupyterHub never
    makes (no trailing slash), as upstream does; any other input gets a safe rule (a route that cannot be
    written keeps the hub from starting)."""
    host, path = "", routespec
    if not routespec.startswith("/"):
        host, slash, rest = routespec.partition("/")
        path = slash + rest
    if not path.endswith("/"):
        raise ValueError(f"routespec must end with /: {routespec!r}")
    if not _rule_safe(path):  # not one of JupyterHub's routespecs: encode what is left
        path = quote(path, safe="/@~%")
    forms = [path]
    decoded = unquote(path)
    if decoded != path and _rule_safe(decoded) and "%" not in decoded:
        forms.insert(0, decoded)
    matchers = []
    for form in forms:
        matchers.append(f"PathPrefix(`{form}`)")
        if form.rstrip("/"):
            matchers.append(f"Path(`{form.rstrip('/')}`)")
    rule = "( " + " || ".join(matchers) + " )" if len(matchers) > 1 else matchers[0]
    if host:
        host = unquote(host) if _rule_safe(unquote(host)) else quote(host, safe=".-:%")
        return f"Host(`{host}`) && {rule}"
    return rule


def proxy_class() -> type:
    """TLJH's traefik proxy (file provider) with route_rule for every route, for c.JupyterHub.proxy_class.
    The rules of the routes in the hub's rules file (an older release's) are rewritten when the hub starts:
    the hub re-adds a route only when its target changed, so a rule would never be renewed otherwise. TLJH's
    settings for TraefikFileProviderProxy (the rules file, should_start) apply to the subclass."""
    from jupyterhub_traefik_proxy.fileprovider import TraefikFileProviderProxy
    from traitlets import default

    class SkyhubTraefikProxy(TraefikFileProviderProxy):
        @default("dynamic_config")
        def _skyhub_dynamic_config(self) -> dict[str, Any]:
            # rewritten here, written to the file when the hub starts (_setup_traefik_dynamic_config)
            config = TraefikFileProviderProxy._load_dynamic_config(self)
            routers = config.get("http", {}).get("routers", {})
            for route in config.get("jupyterhub", {}).get("routes", {}).values():
                router = routers.get(route.get("router"))
                rule = route_rule(route.get("routespec", ""))
                if router is not None and router.get("rule") != rule:
                    self.log.warning("skyhub: rewriting the rule of %s: %s", route["routespec"], rule)
                    router["rule"] = rule
            return config

        def _dynamic_config_for_route(self, routespec: str, target: str, data: Any) -> Any:
            traefik_config, jupyterhub_config = super()._dynamic_config_for_route(routespec, target, data)
            for router in traefik_config["http"]["routers"].values():
                router["rule"] = route_rule(routespec)
            return traefik_config, jupyterhub_config

    return SkyhubTraefikProxy
