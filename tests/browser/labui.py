"""The hub and JupyterLab as a person meets them, driven through Debian's Chromium with Playwright.

Every step uses what a user sees: the login form, the spawn form, JupyterLab's menus and its rendered
output. The only API call is the clean-up at the end (stop the user's server), made with the browser's own
session the way the hub's web pages make it.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
# Flags for a headless browser in a container without a GPU or a user namespace sandbox, and with no
# traffic of its own beyond the page under test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
]
PNG_DATA_URL = "data:image/png;base64,"
# Every artifact written in this process, for the end-of-run summary (conftest.py).
ARTIFACTS: list[Path] = []


class FlowError(AssertionError):
    pass


@dataclass
class LabSession:
    """One user in one browser context: sign up/in, spawn, open and run a notebook, clean up."""

    browser: Browser
    base: str
    name: str
    password: str
    shots: Path
    context: BrowserContext = field(init=False)
    page: Page = field(init=False)
    saved: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        # SKYHUB_HUB_CERT: the hub's self-signed certificate, which the browser fixture has checked is the one
        # served (a pin); Chromium then accepts it (it has no per-site trust without a profile's NSS store).
        self.context = self.browser.new_context(
            viewport={"width": 1400, "height": 1000},
            ignore_https_errors=bool(os.environ.get("SKYHUB_HUB_CERT")),
        )
        self.page = self.context.new_page()

    # ---- artifacts ----
    def screenshot(self, label: str, locator=None) -> Path:
        path = self.shots / f"{self.name}-{len(self.saved):02d}-{label}.png"
        (locator or self.page).screenshot(path=str(path))
        self.saved.append(path)
        ARTIFACTS.append(path)
        print(f"browser: screenshot {path}")
        return path

    def save_failure(self, label: str) -> list[Path]:
        """A screenshot and the page's HTML, for whoever reads the CI artifacts after a failure."""
        out = []
        try:
            out.append(self.screenshot(f"FAILED-{label}"))
        except Exception as exc:  # the page may be gone; the HTML may still be there
            print(f"browser: no failure screenshot: {exc}")
        try:
            html = self.shots / f"{self.name}-FAILED-{label}.html"
            html.write_text(self.page.content())
            out.append(html)
            ARTIFACTS.append(html)
            print(f"browser: page HTML {html} (url {self.page.url})")
        except Exception as exc:
            print(f"browser: no failure HTML: {exc}")
        return out

    # ---- the hub ----
    def sign_in(self) -> None:
        """The first-use authenticator: the first login of a name the admin added sets this password."""
        self.page.goto(f"{self.base}/hub/login", wait_until="domcontentloaded")
        form = self.page.locator("form:has(input[name=password])")
        form.locator("input[name=username]").fill(self.name)
        form.locator("input[name=password]").fill(self.password)
        form.locator("[type=submit]").click()
        self.page.wait_for_load_state("domcontentloaded")
        if "/hub/login" in self.page.url:
            error = self.page.locator(".login_error, .alert-danger").all_inner_texts()
            raise FlowError(f"login of {self.name} was refused: {error or self.page.url}")

    def spawn(self, image: str, timeout: float = 300) -> float:
        """Choose the image on the spawn form, start, and wait until JupyterLab has loaded. Seconds taken."""
        t0 = time.monotonic()
        self.page.goto(f"{self.base}/hub/spawn", wait_until="domcontentloaded")
        select = self.page.locator("#spawn_form select[name=image]")
        offered = select.locator("option").evaluate_all("opts => opts.map(o => o.value)")
        if image not in offered:
            raise FlowError(f"the spawn form offers {offered}, not {image!r}")
        select.select_option(image)
        self.screenshot("spawn-form")
        self.page.locator("#spawn_form [type=submit]").click()
        self.page.wait_for_url(
            re.compile(rf"/user/{re.escape(self.name)}/lab"), timeout=timeout * 1000, wait_until="commit"
        )
        self.page.locator("#jp-main-dock-panel").wait_for(timeout=120_000)
        return time.monotonic() - t0

    def stop_server(self, timeout: float = 120) -> None:
        """Stop the user's server through the hub's REST API, with the browser's cookie session."""
        xsrf = next(
            (c["value"] for c in self.context.cookies(f"{self.base}/hub/") if c["name"] == "_xsrf"), ""
        )
        api = f"{self.base}/hub/api/users/{self.name}"
        r = self.context.request.delete(f"{api}/server", headers={"X-XSRFToken": xsrf})
        if r.status not in (202, 204):
            raise FlowError(f"stop {self.name}: HTTP {r.status}: {r.text()[:300]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.context.request.get(api, headers={"X-XSRFToken": xsrf})
            if model.ok and not model.json().get("servers"):
                return
            time.sleep(0.5)
        raise FlowError(f"server of {self.name} did not stop in {timeout:.0f} s")

    # ---- JupyterLab ----
    def open_notebook(self, path: str) -> None:
        """Open a notebook by JupyterLab's tree URL and wait for its kernel to be idle."""
        self.page.goto(f"{self.base}/user/{self.name}/lab/tree/{path}", wait_until="domcontentloaded")
        panel = self.notebook_panel()
        panel.locator(".jp-Cell").first.wait_for(timeout=120_000)
        self.wait_kernel_idle(timeout=120)

    def notebook_panel(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    def kernel_status(self) -> str:
        """The status bar's kernel item, e.g. "Python 3 (ipykernel) | Idle" ("No Kernel | ..." before the
        session exists; the toolbar's execution indicator already says idle then, so it is not used)."""
        items = self.page.locator(".jp-StatusBar-TextItem").evaluate_all("els => els.map(e => e.textContent)")
        return next((t.strip() for t in items if re.fullmatch(r".+ \| \w+", t.strip())), "")

    def wait_kernel_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.kernel_status()
            if status.endswith("| Idle") and not status.startswith("No Kernel"):
                return
            time.sleep(0.5)
        raise FlowError(f"kernel not idle after {timeout:.0f} s (status bar: {status!r})")

    def prompts(self) -> list[str]:
        """The input prompts of the code cells ("[ ]:", "[*]:", "[3]:"). textContent, not innerText:
        JupyterLab lays out only the cells near the viewport, and innerText of the others is empty."""
        cells = self.notebook_panel().locator(".jp-CodeCell .jp-InputPrompt")
        return [t.strip() for t in cells.evaluate_all("els => els.map(e => e.textContent)")]

    def run_all_cells(self, timeout: float = 300) -> None:
        """Run → Run All Cells from the menu bar; wait until the queue has drained and the kernel rests."""
        before = self.prompts()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline = time.monotonic() + timeout
        texts: list[str] = before
        started = False
        while time.monotonic() < deadline:
            texts = self.prompts()
            started = started or texts != before
            if started and not any("*" in t for t in texts):
                break  # nothing queued any more: all ran, or Run All stopped at an error
            time.sleep(1)
        else:
            what = "cells still running" if started else "Run All Cells started nothing"
            raise FlowError(f"{what} after {timeout:.0f} s: {texts}")
        self.wait_kernel_idle(timeout=60)

    def dismiss_notifications(self) -> None:
        """JupyterLab's first-run toast ("get notified about official Jupyter news?") covers the page."""
        toast_no = self.page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
        if toast_no.count():
            toast_no.first.click()

    def outputs(self) -> dict:
        """What the notebook rendered: PNG sizes (characters of base64), error tracebacks, prompts."""
        panel = self.notebook_panel()
        images = panel.locator(f".jp-OutputArea-output img[src^='{PNG_DATA_URL}']")
        sizes = images.evaluate_all("imgs => imgs.map(i => i.getAttribute('src').length)")
        stderr = panel.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).evaluate_all("els => els.map(e => e.textContent)")
        # an exception renders as stderr with IPython's traceback; warnings (also stderr) have none
        tracebacks = [t for t in stderr if "Traceback" in t]
        return {
            "png_sizes": [s - len(PNG_DATA_URL) for s in sizes],
            "tracebacks": tracebacks,
            "prompts": self.prompts(),
        }

    def first_plot(self):
        return self.notebook_panel().locator(f".jp-OutputArea-output img[src^='{PNG_DATA_URL}']").first
