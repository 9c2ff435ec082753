"""Fixtures for the browser test: the hub's address (SKYHUB_HUB_URL; SKYHUB_HUB_CERT pins a self-signed hub's
certificate), its admin (SKYHUB_ADMIN_PASSWORD: sign-up is closed, the admin adds the user the browser signs
in as), Debian's Chromium under Playwright, and build/browser/ for screenshots (a CI artifact)."""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "appliance"))
from hub import HubUser, sign_in_admin
from labui import ARTIFACTS as WRITTEN
from labui import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "browser"


SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="session")
def hub_url(tmp_path_factory) -> str:
    url = os.environ.get("SKYHUB_HUB_URL", "").rstrip("/")
    if not url:
        pytest.skip("SKYHUB_HUB_URL is not set: point it at a running hub (e.g. the booted demo image)")
    pinned = os.environ.get("SKYHUB_HUB_CERT")
    if pinned:
        check_served_certificate(url, Path(pinned))
        # the admin's REST calls (requests) trust that one certificate besides the system's
        bundle = tmp_path_factory.mktemp("hub-tls") / "bundle.pem"
        system = SYSTEM_CA.read_text() if SYSTEM_CA.is_file() else ""
        bundle.write_text(system + "\n" + Path(pinned).read_text())
        os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    return url


def check_served_certificate(url: str, pinned: Path) -> None:
    """SKYHUB_HUB_CERT (a self-signed hub's certificate, PEM): the hub at url must serve exactly it, over
    https. Only then does the browser accept it without a CA (labui's ignore_https_errors)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        pytest.fail(f"SKYHUB_HUB_CERT is set but SKYHUB_HUB_URL is not https: {url}")
    served = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=30)
    if ssl.PEM_cert_to_DER_cert(served) != ssl.PEM_cert_to_DER_cert(pinned.read_text()):
        pytest.fail(f"{url} serves another certificate than {pinned} (SKYHUB_HUB_CERT)")


@pytest.fixture(scope="session")
def admin(hub_url) -> HubUser:
    """The hub's admin through the REST API (adds the user the browser signs in as)."""
    password = os.environ.get("SKYHUB_ADMIN_PASSWORD", "")
    if not password:
        pytest.fail(
            "SKYHUB_ADMIN_PASSWORD is not set: sign-up is closed, so the test signs in as admin to add its "
            "user (an instance of the image: `docker exec NAME cat /root/skyhub-admin-password`)"
        )
    return sign_in_admin(hub_url, password)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(hub_url):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `.venv/bin/skyhub host-deps browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Debian's Chromium: Playwright's own browser download is not reachable from these machines
        # a pinned self-signed hub (SKYHUB_HUB_CERT, checked by hub_url): also for the kernel's websocket
        pinned = ["--ignore-certificate-errors"] if os.environ.get("SKYHUB_HUB_CERT") else []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + pinned, headless=True)
        yield browser
        browser.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if WRITTEN:
        terminalreporter.section("browser artifacts")
        for path in WRITTEN:
            terminalreporter.write_line(str(path))
