"""Where the vendored upstream releases are: TLJH 2.0.0's release sdist, Zero to JupyterHub 4.4.0.

They sit beside the repository (`../shared/vendor/`), not in it, because GitHub is not reachable from the
machines skyhub is built and tested on (docs/decisions.md). A checkout somewhere else finds them through
`SKYHUB_VENDOR_DIR`, or at the machines' shared path.
"""

from __future__ import annotations

import os
from pathlib import Path

from skyhub.errors import SkyhubError

ENV = "SKYHUB_VENDOR_DIR"
REPO = Path(__file__).resolve().parents[2]
# looked for in this order when SKYHUB_VENDOR_DIR is not set
DEFAULT_DIRS = (REPO.parent / "shared" / "vendor", Path("/work/shared/vendor"))
ITEMS = {
    # TLJH 2.0.0 as released (tag 2.0.0, commit a47a1718), see its README there
    "tljh-archive": Path("tljh") / "the_littlest_jupyterhub-2.0.0.tar.gz",
    # the chart the eks role pins: its values schema validates the rendered values over its default values
    "z2jh-schema": Path("z2jh-4.4.0") / "jupyterhub" / "values.schema.yaml",
    "z2jh-values": Path("z2jh-4.4.0") / "jupyterhub" / "values.yaml",
}


def vendor_path(item: str, environ: dict[str, str] | None = None) -> Path:
    """The path of a vendored item (a key of ITEMS); a clear error naming SKYHUB_VENDOR_DIR when absent."""
    env = os.environ if environ is None else environ
    rel = ITEMS[item]
    dirs = (Path(env[ENV]),) if env.get(ENV) else DEFAULT_DIRS
    for base in dirs:
        if (base / rel).is_file():
            return base / rel
    looked = ", ".join(str(d / rel) for d in dirs)
    raise SkyhubError(
        f"{item}: not found (looked at {looked}). Set {ENV} to the directory that holds the vendored "
        "releases (tljh/, z2jh-4.4.0/; the development machines have it at ../shared/vendor)."
    )
