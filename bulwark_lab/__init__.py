"""Bulwark's lab: Docker engine bootstrap, locally built Debian images, systemd lab hosts, test suite.

Standard library only, so that `./bulwark` works on a fresh machine before anything is installed.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".lab"
VENV_DIR = ROOT / ".venv"
