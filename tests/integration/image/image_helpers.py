"""Helpers of the image tier (imported by name: never `from conftest import`)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from skyhub.demo import SYSTEMD_FLAGS

REPO = Path(__file__).resolve().parents[3]
LABEL = "org.skyhub.area=image-test"
RUN_FLAGS = ["--label", LABEL, *SYSTEMD_FLAGS]
# The one list of what an image must not carry, and the program the cleanup and the build check it with.
SECRETS_LIST = REPO / "roles" / "first_boot" / "vars" / "main.yml"
SECRETS_PROGRAM = REPO / "roles" / "first_boot" / "files" / "skyhub_image_secrets.py"
# The self-signed certificate first boot makes for an instance without a domain (docs/first-boot.md).
TLS_CERT = "/etc/skyhub/tls/instance.crt"
TLS_KEY = "/etc/skyhub/tls/instance.key"
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def instance_ip(name: str) -> str:
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).strip()


def trust_bundle(name: str, dest: Path) -> Path:
    """The controller's CA bundle plus the instance's own certificate: what a client that trusts this one
    instance (and everything it trusted before) verifies with."""
    cert = in_instance(name, f"cat {TLS_CERT}")
    system = SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else ""
    dest.write_text(system + "\n" + cert)
    return dest


def image_secrets() -> ModuleType:
    """roles/first_boot/files/skyhub_image_secrets.py as a module (`load`, `violations`)."""
    name = "skyhub_image_secrets"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SECRETS_PROGRAM)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def docker(*args: str, check: bool = True) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def in_instance(name: str, cmd: str, check: bool = True) -> str:
    return docker("exec", name, "bash", "-c", cmd, check=check)


def wait_first_boot(name: str, timeout: float = 180) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = in_instance(name, "systemctl is-active skyhub-first-boot.service", check=False).strip()
        if state == "active":
            return time.monotonic() - t0
        if state == "failed":
            raise AssertionError(in_instance(name, "journalctl -u skyhub-first-boot --no-pager", check=False))
        time.sleep(0.5)
    raise AssertionError(f"{name}: skyhub-first-boot did not finish in {timeout} s")


def has_hub(name: str) -> bool:
    return "jupyterhub.service" in in_instance(
        name, "systemctl list-unit-files jupyterhub.service", check=False
    )


def wait_hub(name: str, timeout: float = 600, https: bool = True) -> float:
    """Seconds until the hub's API answers through the proxy inside the instance, over HTTPS with the
    instance's own certificate (its SAN holds 127.0.0.1), or over plain HTTP for an instance whose settings
    switch HTTPS off (https=False)."""
    url = f"--cacert {TLS_CERT} https://127.0.0.1/hub/api" if https else "http://127.0.0.1/hub/api"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        code = in_instance(
            name, f"curl -s -o /dev/null -w '%{{http_code}}' {url} || true", check=False
        ).strip()
        if code == "200":
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"{name}: /hub/api did not answer in {timeout} s")
