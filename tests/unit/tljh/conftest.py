"""The skyhub TLJH plugin (plugin/) is its own package: import it from its source directory."""

import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[3] / "plugin"
if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
