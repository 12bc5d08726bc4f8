"""The fault lab is shared by the tests of this directory; this suite runs on its own (bulwark_lab/suite.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from faultlab import FaultLab, fault_lab  # noqa: E402


@pytest.fixture(scope="session")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    lab = FaultLab(fault_lab(), tmp_path_factory.mktemp("faults"), os.environ.get("BULWARK_DEBIAN", "13"))
    lab.up()
    try:
        yield lab
    finally:
        print(f"fault log: {lab.save_log()}")
        if os.environ.get("BULWARK_FAULTS_KEEP") != "1":
            lab.down()
