"""Fixtures for the browser test: the hub's address (SKYHUB_HUB_URL), its admin (SKYHUB_ADMIN_PASSWORD:
sign-up is closed, the admin adds the user the browser signs in as), Debian's Chromium under Playwright, and
build/browser/ for screenshots (a CI artifact)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "appliance"))
from hub import HubUser, sign_in_admin
from labui import ARTIFACTS as WRITTEN
from labui import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "browser"


@pytest.fixture(scope="session")
def hub_url() -> str:
    url = os.environ.get("SKYHUB_HUB_URL", "").rstrip("/")
    if not url:
        pytest.skip("SKYHUB_HUB_URL is not set: point it at a running hub (e.g. the booted demo image)")
    return url


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
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if WRITTEN:
        terminalreporter.section("browser artifacts")
        for path in WRITTEN:
            terminalreporter.write_line(str(path))
