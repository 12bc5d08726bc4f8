"""The whole test suite, in order: yamllint, ansible-lint, pytest unit tests, every molecule scenario.

Prints one line per step with its wall time and closes with a pytest-style `N passed, N failed`.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from . import ROOT
from .host import venv_env

# Scenarios that also run on Debian 12 (bookworm): those whose behaviour depends on the distribution
# (OpenSSL 3.0 vs 3.5, nginx and Apache versions, and firewalld versions). The rest run on Debian 13 only.
DEBIAN12_SCENARIOS = ("firewalld", "nginx_tls", "apache_tls", "acme_certificates")


@dataclass
class Step:
    name: str
    argv: list[str]
    extra_env: dict[str, str]
    seconds: float = 0.0
    passed: bool = False


def scenarios() -> list[str]:
    found = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
    # The whole-site scenario goes last: it repeats what the role scenarios proved, together.
    return sorted(found, key=lambda name: name == "default")


def plan(only: list[str] | None, lint: bool, unit: bool, debian12: bool) -> list[Step]:
    steps: list[Step] = []
    if lint:
        steps.append(Step("yamllint", ["yamllint", "--strict", "."], {}))
        steps.append(Step("ansible-lint", ["ansible-lint", "--profile", "production", "--offline"], {}))
    if unit:
        steps.append(Step("pytest unit", ["python", "-m", "pytest", "-q", "tests/unit"], {}))
    for scenario in scenarios():
        if only is not None and scenario not in only:
            continue
        steps.append(Step(f"molecule {scenario} (Debian 13)", ["molecule", "test", "-s", scenario],
                          {"BULWARK_DEBIAN": "13"}))
        if debian12 and scenario in DEBIAN12_SCENARIOS:
            steps.append(Step(f"molecule {scenario} (Debian 12)", ["molecule", "test", "-s", scenario],
                              {"BULWARK_DEBIAN": "12"}))
    return steps


def run_steps(steps: list[Step]) -> int:
    env = venv_env()
    for step in steps:
        print(f"\n=== {step.name}: {' '.join(step.argv)}", flush=True)
        started = time.monotonic()
        proc = subprocess.run(step.argv, cwd=ROOT, env={**env, **step.extra_env}, check=False)
        step.seconds = time.monotonic() - started
        step.passed = proc.returncode == 0
        print(f"=== {step.name}: {'PASSED' if step.passed else 'FAILED'} in {step.seconds:.0f}s", flush=True)
    passed = sum(s.passed for s in steps)
    failed = len(steps) - passed
    total = sum(s.seconds for s in steps)
    print("\n=== summary", flush=True)
    for step in steps:
        print(f"{'PASSED' if step.passed else 'FAILED'}  {step.seconds:7.1f}s  {step.name}")
    print(f"total {total:.0f}s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and steps else 1


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value not in ("0", "false", "no", "")
