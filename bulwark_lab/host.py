"""Controller-side set-up: Debian packages and the Python virtualenv from requirements.txt."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

from . import ROOT, VENV_DIR
from .errors import StepError
from .shell import run, say

# What the controller itself runs: image builds, SSH to the lab, the independent checkers that the unit
# tests compare our filter plugins against, the audit's clients (nmap, curl, openssl; sslyze and dnspython
# are in .venv) and the headless browser that renders its report in the tests.
HOST_PACKAGES = (
    "debootstrap",
    "openssh-client",
    "openssl",
    "gnutls-bin",
    "ldnsutils",
    "hash-slinger",
    "nmap",
    "curl",
    "chromium",
)
REQUIREMENTS = ROOT / "requirements.txt"
STAMP = VENV_DIR / ".bulwark-requirements.sha256"


def _missing_packages(names: tuple[str, ...]) -> list[str]:
    missing = []
    for name in names:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in proc.stdout:
            missing.append(name)
    return missing


def apt_install(step: str, names: tuple[str, ...]) -> None:
    """Install the Debian packages of ``names`` that are not installed yet (needs root)."""
    missing = _missing_packages(names)
    if not missing:
        return
    if os.geteuid() != 0:
        raise StepError(step, f"packages {', '.join(missing)} are missing and installing them needs root")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(step, ["apt-get", "update", "-qq"], env=env, timeout=600)
    run(step, ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, timeout=1200)


def venv_python() -> str:
    return str(VENV_DIR / "bin" / "python")


def ensure_venv() -> None:
    """Create .venv and install requirements.txt; a no-op while requirements.txt is unchanged."""
    step = "python-venv"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not (VENV_DIR / "bin" / "python").exists():
        say("creating .venv")
        run(step, [sys.executable, "-m", "venv", str(VENV_DIR)])
    say("installing requirements.txt into .venv (a few minutes on a fresh machine)")
    run(step, [venv_python(), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], timeout=1800)
    STAMP.write_text(wanted + "\n")


def venv_env() -> dict[str, str]:
    """Environment for tools from .venv (molecule calls ansible-config, so bin/ must be on PATH)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_DIR / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV_DIR)
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    env.setdefault("PY_COLORS", "0")
    return env


def free_gib(path: str) -> float:
    usage = shutil.disk_usage(path)
    return usage.free / 2**30


def setup_host() -> None:
    apt_install("host-packages", HOST_PACKAGES)
    ensure_venv()
