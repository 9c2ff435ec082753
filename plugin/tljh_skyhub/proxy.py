"""The hub's proxy: TLJH's traefik file-provider proxy with routing rules that a user name cannot break.

jupyterhub-traefik-proxy 2.1 (TLJH 2.0.0's proxy) pastes the decoded user name between backticks into
traefik's rule, so a user named x`)||hostregexp(`.+`)||hostregexp(`y would route every request of the hub to
their own server; and traefik 3 matches a request on its still percent-encoded path, so names holding ' or +
never reached their servers. docs/security.md has the whole story.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote


def route_rule(routespec: str) -> str:
    """traefik's rule for a JupyterHub route. The hub's routespecs are percent-encoded (/user/o%27brien/);
    traefik matches a request on its normalized, still encoded path, so the rule matches both the decoded
    and the encoded form (upstream matches only the decoded form: users whose names hold ' or + never reach
    their server). Neither form may hold a backtick: upstream pastes the decoded name into the rule, so a user
    named x`)||hostregexp(`.+`)||hostregexp(`y would route every request of the hub to their own server.
    Raises ValueError for a route that cannot be written safely."""
    host, path = "", routespec
    if not routespec.startswith("/"):
        host, slash, rest = routespec.partition("/")
        path = slash + rest
    if not path.endswith("/") or "`" in unquote(host) or "`" in host:
        raise ValueError(f"refusing to route {routespec!r}")
    matchers = []
    for form in dict.fromkeys([unquote(path), path]):  # decoded first, then encoded; once each
        if "`" in form:
            continue  # only the decoded form can hold one: the encoded form still routes the user
        matchers.append(f"PathPrefix(`{form}`)")
        if form.rstrip("/"):
            matchers.append(f"Path(`{form.rstrip('/')}`)")
    rule = "( " + " || ".join(matchers) + " )" if len(matchers) > 1 else matchers[0]
    return f"Host(`{unquote(host)}`) && {rule}" if host else rule


def proxy_class() -> type:
    """TLJH's traefik proxy (file provider) with route_rule for every route, for c.JupyterHub.proxy_class.
    The rules already in the file (from before this fix, or hand-edited) are rewritten when the hub starts:
    the hub re-adds a route only when its target changed, so a rule is never renewed otherwise. TLJH's
    settings for TraefikFileProviderProxy (the rules file, should_start) apply to the subclass."""
    from jupyterhub_traefik_proxy.fileprovider import TraefikFileProviderProxy
    from traitlets import default

    class SkyhubTraefikProxy(TraefikFileProviderProxy):
        @default("dynamic_config")
        def _skyhub_dynamic_config(self) -> dict[str, Any]:
            config = TraefikFileProviderProxy._load_dynamic_config(self)
            routers = config.get("http", {}).get("routers", {})
            changed = False
            for alias, route in list(config.get("jupyterhub", {}).get("routes", {}).items()):
                router = routers.get(route.get("router"))
                if router is None:
                    continue
                try:
                    rule = route_rule(route["routespec"])
                except ValueError:
                    self.log.error("skyhub: dropping the route %r: it cannot be routed safely", route)
                    routers.pop(route["router"])
                    config["http"].get("services", {}).pop(route.get("service"), None)
                    config["jupyterhub"]["routes"].pop(alias)
                    changed = True
                    continue
                if router.get("rule") != rule:
                    self.log.warning("skyhub: rewriting the rule of %s: %s", route["routespec"], rule)
                    router["rule"] = rule
                    changed = True
            if changed:
                self.dynamic_config_handler.atomic_dump(config)
            return config

        def _dynamic_config_for_route(self, routespec: str, target: str, data: Any) -> Any:
            traefik_config, jupyterhub_config = super()._dynamic_config_for_route(routespec, target, data)
            for router in traefik_config["http"]["routers"].values():
                router["rule"] = route_rule(routespec)
            return traefik_config, jupyterhub_config

    return SkyhubTraefikProxy
