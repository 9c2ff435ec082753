"""The TLJH hooks: TLJH's jupyterhub_config.py calls tljh_custom_jupyterhub_config(c) after applying
config.yaml and before loading jupyterhub_config.d/*.py."""

from __future__ import annotations

from typing import Any

import pluggy

from . import spawner

hookimpl = pluggy.HookimplMarker("tljh")


@hookimpl
def tljh_custom_jupyterhub_config(c: Any) -> None:
    from tljh.configurer import load_config  # the hub environment's TLJH

    spawner.configure(c, load_config())
