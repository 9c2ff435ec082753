"""Issue #6: a person the admin added opens the hub in a browser, signs in (the first login sets the
password), starts the `astro` image, opens the demo notebook in JupyterLab, runs all cells and sees the plot.
Headless Debian Chromium, driven by Playwright, against the hub at SKYHUB_HUB_URL; screenshots go to
build/browser/."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import yaml
from labui import FlowError, LabSession

REPO = Path(__file__).resolve().parents[2]
IMAGE = "astro"
# A plot worth the name: a 6x6 inch figure at matplotlib's inline DPI is tens of KiB of PNG.
MIN_PNG_BYTES = 10_000


def _demo_notebook() -> str:
    """Where the demo lands in a new home: the dataset_mount role's skeleton folder and first notebook."""
    role_vars = yaml.safe_load((REPO / "roles/dataset_mount/vars/main.yml").read_text())
    return f"{role_vars['_dataset_mount_demo_dir']}/{role_vars['_dataset_mount_notebooks'][0]}"


def test_demo_notebook_runs_in_the_browser_and_shows_the_plot(browser, hub_url, admin, artifacts):
    user = LabSession(
        browser, hub_url, f"web{secrets.token_hex(3)}", secrets.token_urlsafe(16), shots=artifacts
    )
    admin.add_users(user.name)  # sign-up is closed: the admin adds the user first
    notebook = _demo_notebook()
    t0 = time.monotonic()
    step, failed = "login", False
    try:
        user.sign_in()
        step = "spawn"
        spawn_s = user.spawn(IMAGE)
        print(f"browser: {user.name} signed in, {IMAGE} server with JupyterLab in {spawn_s:.0f} s")
        step = "open"
        user.open_notebook(notebook)
        user.dismiss_notifications()
        user.screenshot("notebook-opened")
        step = "run"
        user.run_all_cells()
        out = user.outputs()
        step = "check"
        assert not out["tracebacks"], f"the notebook raised: {out['tracebacks'][0][-800:]}"
        assert out["prompts"], "the notebook shows no code cells"
        assert all(p[1:-2].isdigit() for p in out["prompts"]), f"cells that did not run: {out['prompts']}"
        big = [n for n in out["png_sizes"] if n * 3 // 4 >= MIN_PNG_BYTES]
        assert big, f"no rendered PNG plot of {MIN_PNG_BYTES} bytes or more: {out}"
        plot = user.first_plot()
        plot.scroll_into_view_if_needed()
        width, height = plot.evaluate("i => i.decode().then(() => [i.naturalWidth, i.naturalHeight])")
        assert width > 200 and height > 200, f"the plot decodes to {width}x{height} pixels"
        user.screenshot("notebook-with-plot")
        user.screenshot("plot", locator=plot)
        print(
            f"browser: {len(out['prompts'])} code cells ran, {len(out['png_sizes'])} PNG plot(s) "
            f"({', '.join(str(n * 3 // 4) for n in out['png_sizes'])} bytes); "
            f"whole flow {time.monotonic() - t0:.0f} s"
        )
    except BaseException:
        failed = True
        user.save_failure(step)
        raise
    finally:
        try:
            if step != "login":
                user.stop_server()
        except FlowError as exc:
            if not failed:
                raise
            print(f"browser: clean-up after the failure: {exc}")  # the failure above is the news
        finally:
            user.context.close()
