"""Docker engine bootstrap: use the one that answers, or install Debian's docker.io and start dockerd."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from . import STATE_DIR
from .errors import StepError
from .host import apt_install
from .shell import say

STEP = "docker-engine"
START_TIMEOUT = 60.0
# Each systemd container holds several inotify instances; the kernel's default of 128 per user stops systemd in the
# twentieth or so ("Failed to allocate manager object: Too many open files"), e.g. in benchmarks/site_rerun.py
# --hosts 20 or two big scenarios side by side.
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_MINIMUM = 1024


def ensure_inotify_instances(path: Path = INOTIFY_INSTANCES, minimum: int = INOTIFY_MINIMUM) -> None:
    """Raise the per-user inotify instance limit to ``minimum`` when it is lower (never lower it)."""
    try:
        current = int(path.read_text().strip())
        if current < minimum:
            path.write_text(f"{minimum}\n")
            say(f"raised {path} from {current} to {minimum} (systemd containers need several each)")
    except (OSError, ValueError) as exc:
        say(f"could not check or raise {path} ({exc}); many lab hosts at once may fail to boot")


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True, check=False, timeout=30)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _dockerd_running() -> bool:
    return subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, check=False).returncode == 0


def _wait_for_engine(log_hint: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(1)
    raise StepError(STEP, f"dockerd did not answer `docker info` within {START_TIMEOUT:.0f}s; see {log_hint}")


def ensure_engine() -> None:
    """Make `docker info` answer. Never starts a second dockerd."""
    ensure_inotify_instances()
    if engine_answers():
        return
    log = STATE_DIR / "dockerd.log"
    if _dockerd_running():
        say("a dockerd is already starting; waiting for it")
        _wait_for_engine("the running dockerd's log")
        return
    if shutil.which("dockerd") is None:
        apt_install(STEP, ("docker.io",))
    if shutil.which("dockerd") is None:
        raise StepError(STEP, "docker.io is installed but dockerd is not on PATH")
    STATE_DIR.mkdir(exist_ok=True)
    say(f"starting dockerd (log: {log})")
    with open(log, "ab") as out:
        subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    _wait_for_engine(str(log))
