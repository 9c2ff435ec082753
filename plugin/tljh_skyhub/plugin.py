"""The TLJH hooks: TLJH's jupyterhub_config.py calls tljh_custom_jupyterhub_config(c) after applying
config.yaml and its own settings (among them c.JupyterHub.proxy_class = "traefik_file") and before loading
jupyterhub_config.d/*.py, so what configure() sets wins over TLJH's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from . import login, proxy, spawner

hookimpl = pluggy.HookimplMarker("tljh")


def configure(c: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """skyhub's hub: the spawner, the login name check and the proxy class; returns the skyhub settings."""
    settings = spawner.configure(c, config)
    c.Authenticator.post_auth_hook = login.check_name
    # TLJH's traefik file provider with rules a user name cannot break (proxy.py); TLJH's settings for
    # TraefikFileProviderProxy and TraefikProxy apply to it
    c.JupyterHub.proxy_class = proxy.proxy_class()
    return settings


@hookimpl
def tljh_custom_jupyterhub_config(c: Any) -> None:
    from tljh.configurer import load_config  # the hub environment's TLJH

    configure(c, load_config())
