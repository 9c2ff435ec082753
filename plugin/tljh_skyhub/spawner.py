"""DockerSpawner for skyhub: image choice, limits per user/group, homes and the skeleton, lock-down.

Everything comes from TLJH's loaded config.yaml: `limits.memory` / `limits.cpu` (TLJH's own keys) are the
default limits; the `skyhub:` section (settings.py) holds the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from . import safehome
from .form import options_form
from .settings import (
    SettingsError,
    active_server_limit,
    effective_limits,
    image_choices,
    skyhub_settings,
    tljh_default_limits,
)

# oom_score_adj of every user server's processes (the hub and traefik run at -500)
USER_OOM_SCORE_ADJ = 500


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
    security_opt = ["no-new-privileges:true"]
    if s["seccomp_profile"]:
        security_opt.append(seccomp_option(s["seccomp_profile"]))
    host_config: dict[str, Any] = {
        "security_opt": security_opt,
        "cap_drop": ["ALL"],
        "pids_limit": s["pids_limit"],
        # the kernel's OOM killer takes user servers first: hub, traefik, dockerd and containerd run at -500
        # or less (the tljh and docker roles' OOMScoreAdjust)
        "oom_score_adj": USER_OOM_SCORE_ADJ,
        "init": True,
    }
    if s["read_only_root"]:
        # The image is read-only: a user writes to their home and to a sized /tmp (which counts against the
        # server's memory limit), never to the writable layer on the host's Docker disk.
        host_config["read_only"] = True
        host_config["tmpfs"] = {"/tmp": f"rw,nosuid,nodev,size={s['tmp_size']}"}
    c.DockerSpawner.extra_host_config = host_config
    c.DockerSpawner.environment = {"HOME": homes["container_home"]}
    c.Spawner.start_timeout = s["start_timeout"]
    c.Spawner.http_timeout = s["http_timeout"]
    default_limits = tljh_default_limits(config)
    c.Spawner.pre_spawn_hook = pre_spawn_hook(s, default_limits)
    # How many servers may run at once (past it the hub answers "Active user limit exceeded. Try again in a
    # few minutes." and nobody already working is affected).
    c.JupyterHub.active_server_limit = active_server_limit(s, default_limits["mem_limit"])
    return s


def seccomp_option(path: str) -> str:
    """Docker's security_opt for the seccomp profile at `path` (its JSON, compact). A profile that cannot be
    read stops the hub (SettingsError), rather than user servers running without it."""
    try:
        with open(path) as fh:
            profile = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SettingsError(
            f"skyhub.seccomp_profile: cannot read {path} ({exc}). The docker role writes it "
            "(docker_user_seccomp_profile); the hub does not start without it. Empty: Docker's default "
            "profile."
        ) from None
    return "seccomp=" + json.dumps(profile, separators=(",", ":"))


def pre_spawn_hook(
    settings: Mapping[str, Any], default_limits: Mapping[str, Any]
) -> Callable[[Any], Awaitable[None]]:
    homes = settings["homes"]

    async def skyhub_pre_spawn(spawner: Any) -> None:
        # The home is made (DockerSpawner #160: Docker would make it root-owned) and given the skeleton files
        # it never received, without root ever following a path the user controls (safehome; decision 8).
        # Its name is DockerSpawner's escaped user name, the {username} of the volume.
        # A home that cannot be opened safely stops the spawn; a skeleton the user's own files get in the
        # way of does not (it is logged).
        name, root = spawner.escaped_name, homes["root"]
        uid, gid = homes["uid"], homes["gid"]
        fd, created = await asyncio.to_thread(safehome.open_home, root, name, uid, gid, True)
        os.close(fd)
        if created:
            spawner.log.info("skyhub: created home %s for %s", os.path.join(root, name), spawner.user.name)
        try:
            answer = await asyncio.to_thread(safehome.copy_skeleton, root, name, homes["skel"], uid, gid)
        except safehome.HomeError as exc:
            spawner.log.warning("skyhub: no skeleton files for %s: %s", spawner.user.name, exc)
        else:
            if answer.get("skipped"):
                spawner.log.info(
                    "skyhub: skeleton files left alone for %s: %s", spawner.user.name, answer["skipped"]
                )
        limits = effective_limits(
            default_limits, settings["limits"], spawner.user.name, [g.name for g in spawner.user.groups]
        )
        if limits["mem_limit"] is not None:
            spawner.mem_limit = limits["mem_limit"]
        if limits["cpu_limit"] is not None:
            spawner.cpu_limit = float(limits["cpu_limit"])

    return skyhub_pre_spawn
