"""Where the package's shared folders (scenarios/, models/, config/, launch/) live.

In a source checkout they sit beside the package; `pip install .` puts them under
``<prefix>/share/edge_autopilot/`` (setup.py data_files), and so does colcon for ROS 2, where
``AMENT_PREFIX_PATH`` lists the prefixes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "edge_autopilot"
_CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def share_dir(folder: str) -> Path:
    """The first existing ``folder`` among checkout, install prefix and ament prefixes.

    Falls back to the checkout path (which may not exist) so that callers report a clear
    "no such file" naming a sensible place.
    """
    candidates = [_CHECKOUT_ROOT / folder, Path(sys.prefix) / "share" / PACKAGE / folder]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / folder)
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]
