"""Make the filter plugin and the test helpers importable by path."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parent.parent

for _path in (_REPO / "filter_plugins", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
