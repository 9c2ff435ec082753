"""Offline twin of TLJH's configurer: read /opt/tljh/config/config.yaml (TLJH's keys) into JupyterHub config.

Installed by the skyhub `tljh` role when `tljh_source: offline`. It understands the subset of TLJH's
config.yaml that skyhub writes — base_url, auth (type + per-class settings), users (admin, allowed,
banned), limits, user_environment.default_app, services.cull, https, traefik_api — with TLJH 2.0.0's
defaults, so the same config.yaml drives the upstream and the offline hub.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

INSTALL_PREFIX = os.environ.get("TLJH_INSTALL_PREFIX", "/opt/tljh")
CONFIG_DIR = os.path.join(INSTALL_PREFIX, "config")
STATE_DIR = os.path.join(INSTALL_PREFIX, "state")
CONFIG_FILE = os.path.join(CONFIG_DIR, "config.yaml")

# TLJH 2.0.0's defaults for the keys we read (tljh/configurer.py).
DEFAULTS: dict[str, Any] = {
    "base_url": "/",
    "auth": {
        "type": "firstuseauthenticator.FirstUseAuthenticator",
        "FirstUseAuthenticator": {"create_users": False},
    },
    "users": {"allowed": [], "banned": [], "admin": []},
    "limits": {"memory": None, "cpu": None},
    "http": {"address": "", "port": 80},
    "https": {
        "enabled": False,
        "address": "",
        "port": 443,
        "tls": {"cert": "", "key": ""},
        "letsencrypt": {"email": "", "domains": [], "staging": False},
    },
    "traefik_api": {"ip": "127.0.0.1", "port": 8099, "username": "api_admin", "password": ""},
    "user_environment": {"default_app": "jupyterlab"},
    "services": {
        "cull": {
            "enabled": True,
            "timeout": 600,
            "every": 60,
            "concurrency": 5,
            "users": False,
            "max_age": 0,
            "remove_named_servers": False,
        }
    },
}


def merge(a: dict, b: dict) -> dict:
    """Recursively merge b into a copy of a (b wins)."""
    out = copy.deepcopy(a)
    for key, value in b.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(config_file: str = CONFIG_FILE, state_dir: str = STATE_DIR) -> dict:
    import yaml

    overrides: dict = {}
    if os.path.exists(config_file):
        with open(config_file) as fh:
            overrides = yaml.safe_load(fh) or {}
    secrets: dict = {}
    secret_path = os.path.join(state_dir, "traefik-api.secret")
    if os.path.exists(secret_path):
        with open(secret_path) as fh:
            secrets = {"traefik_api": {"password": fh.read().strip()}}
    return merge(merge(DEFAULTS, secrets), overrides)


def apply_config(config: dict, c: Any) -> None:
    config = merge(DEFAULTS, config)
    c.JupyterHub.base_url = config["base_url"]
    _auth(config, c)
    users = config["users"]
    if not users["allowed"] and config["auth"]["type"] == DEFAULTS["auth"]["type"]:
        c.FirstUseAuthenticator.allow_all = True
    c.Authenticator.allowed_users = set(users["allowed"])
    c.Authenticator.blocked_users = set(users["banned"])
    c.Authenticator.admin_users = set(users["admin"])
    limits = config["limits"]
    if limits["memory"] is not None:
        c.Spawner.mem_limit = limits["memory"]
    if limits["cpu"] is not None:
        c.Spawner.cpu_limit = float(limits["cpu"])
    app = config["user_environment"]["default_app"]
    c.Spawner.default_url = {"jupyterlab": "/lab", "classic": "/tree"}.get(app, "/lab")
    api = config["traefik_api"]
    c.TraefikProxy.traefik_api_url = f"http://{api['ip']}:{api['port']}"
    c.TraefikProxy.traefik_api_username = api["username"]
    c.TraefikProxy.traefik_api_password = api["password"]
    c.TraefikProxy.traefik_entrypoint = "https" if config["https"]["enabled"] else "http"
    _services(config, c)


def _auth(config: dict, c: Any) -> None:
    auth = config["auth"]
    c.JupyterHub.authenticator_class = auth["type"]
    for key, value in auth.items():
        if key == "type":
            continue
        if not (key[:1].isupper() and isinstance(value, dict)):
            raise ValueError(f"auth.{key} in config.yaml is not a ClassName: {{settings}} mapping")
        for name, setting in value.items():
            if setting is not None:
                setattr(c[key], name, setting)


def culler_service(config: dict) -> dict:
    cull = config["services"]["cull"]
    cmd = [
        sys.executable,
        "-m",
        "jupyterhub_idle_culler",
        f"--timeout={int(cull['timeout'])}",
        f"--cull-every={int(cull['every'])}",
        f"--concurrency={int(cull['concurrency'])}",
        f"--max-age={int(cull['max_age'])}",
    ]
    if cull["users"]:
        cmd.append("--cull-users")
    if cull["remove_named_servers"]:
        cmd.append("--remove-named-servers")
    return {"name": "cull-idle", "command": cmd}


def _services(config: dict, c: Any) -> None:
    if not config["services"]["cull"]["enabled"]:
        return
    services = list(c.JupyterHub.services) if isinstance(c.JupyterHub.services, list) else []
    services.append(culler_service(config))
    c.JupyterHub.services = services
    roles = list(c.JupyterHub.load_roles) if isinstance(c.JupyterHub.load_roles, list) else []
    roles.append(
        {
            "name": "cull-idle",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["cull-idle"],
        }
    )
    c.JupyterHub.load_roles = roles
