"""DockerSpawner for skyhub: image choice, limits per user/group, homes and the skeleton, lock-down.

Everything comes from TLJH's loaded config.yaml: `limits.memory` / `limits.cpu` (TLJH's own keys) are the
default limits; the `skyhub:` section (settings.py) holds the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from . import safehome
from .form import options_form
from .settings import effective_limits, image_choices, skyhub_settings, tljh_default_limits


def configure(c: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the spawner settings to JupyterHub's config `c`; returns the checked skyhub settings."""
    s = skyhub_settings(config)
    homes = s["homes"]
    images = image_choices(s)

    c.JupyterHub.spawner_class = "docker"
    # The hub listens on the gateway of the user network only: containers reach it, the world does not.
    c.JupyterHub.hub_ip = s["hub_ip"]
    c.JupyterHub.hub_connect_ip = s["hub_ip"]
    c.JupyterHub.concurrent_spawn_limit = s["concurrent_spawn_limit"]

    c.DockerSpawner.image = images[s["default_image"]]
    # Always explicit: the spawn form lists exactly these, and anything else is refused.
    c.DockerSpawner.allowed_images = images
    c.DockerSpawner.options_form = options_form(s)
    c.DockerSpawner.network_name = s["network"]
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.remove = True
    c.DockerSpawner.pull_policy = "never"
    c.DockerSpawner.notebook_dir = homes["container_home"]
    c.DockerSpawner.volumes = {
        os.path.join(homes["root"], "{username}"): {"bind": homes["container_home"], "mode": "rw"}
    }
    c.DockerSpawner.name_template = "jupyter-{username}"
    c.DockerSpawner.extra_create_kwargs = {"user": f"{homes['uid']}:{homes['gid']}"}
    c.DockerSpawner.extra_host_config = {
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "pids_limit": s["pids_limit"],
        "init": True,
    }
    c.DockerSpawner.environment = {"HOME": homes["container_home"]}
    c.Spawner.start_timeout = s["start_timeout"]
    c.Spawner.http_timeout = s["http_timeout"]
    c.Spawner.pre_spawn_hook = pre_spawn_hook(s, tljh_default_limits(config))
    return s


def pre_spawn_hook(settings: Mapping[str, Any], default_limits: Mapping[str, Any]) -> Callable[[Any], None]:
    homes = settings["homes"]

    def skyhub_pre_spawn(spawner: Any) -> None:
        # Bind-mounted homes would be created root-owned by Docker (DockerSpawner #160): make them first,
        # and give them the skeleton, without root ever following a path the user controls (safehome).
        for host_path, bind in spawner.volume_binds.items():
            if bind["bind"] != homes["container_home"]:
                continue
            root, name = os.path.split(os.path.normpath(host_path))
            if root != os.path.normpath(homes["root"]):
                raise safehome.HomeError(f"{host_path} is not under the home root {homes['root']}")
            answer = safehome.copy_skeleton(root, name, homes["skel"], homes["uid"], homes["gid"])
            if answer.get("created"):
                spawner.log.info("skyhub: created home %s for %s", host_path, spawner.user.name)
        limits = effective_limits(
            default_limits, settings["limits"], spawner.user.name, [g.name for g in spawner.user.groups]
        )
        if limits["mem_limit"] is not None:
            spawner.mem_limit = limits["mem_limit"]
        if limits["cpu_limit"] is not None:
            spawner.cpu_limit = float(limits["cpu_limit"])

    return skyhub_pre_spawn
