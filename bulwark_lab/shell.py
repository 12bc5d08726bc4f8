"""Running commands with clear failures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from .errors import StepError


def run(
    step: str,
    cmd: Sequence[str],
    *,
    check: bool = True,
    capture: bool = True,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; on failure raise StepError naming ``step`` with the command's last output lines."""
    try:
        proc = subprocess.run(
            list(cmd),
            check=False,
            text=True,
            input=input_text,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            env=env,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise StepError(step, f"command not found: {cmd[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StepError(step, f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from exc
    if check and proc.returncode != 0:
        output = ((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()
        tail = "\n    ".join(output[-15:]) or "(no output)"
        raise StepError(step, f"`{' '.join(cmd)}` exited {proc.returncode}:\n    {tail}")
    return proc


def say(message: str) -> None:
    """Progress line on stderr, so stdout stays machine-readable (lab up prints JSON)."""
    print(f"bulwark: {message}", file=sys.stderr, flush=True)
