"""The whole test suite, in order: yamllint, ansible-lint, pytest unit tests, then the lab steps (the
fault-injection test of tests/faults, the portable tests of tests/portable - vendored roles and the built
collection on one lab of their own - and every molecule scenario) side by side in lanes, each lane on its own
lab network (BULWARK_LAB_SLOT).

Prints one line per step with its wall time and closes with a pytest-style `N passed, N failed`. A lab step's
output goes to .lab/logs/<step>.log and is printed in one piece when the step ends (the tail of it when it
failed), so that lanes running side by side do not interleave their output.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from . import ROOT, STATE_DIR
from .host import venv_env

# Scenarios that also run on Debian 12 (bookworm): those whose behaviour depends on the distribution
# (OpenSSL 3.0 vs 3.5, nginx and Apache versions, firewalld versions, certspotter 0.16 vs 0.18, Knot 3.2 vs
# 3.4, Postfix 3.7 vs 3.10 and Dovecot 2.3 vs 2.4). The rest run on Debian 13 only.
DEBIAN12_SCENARIOS = ("firewalld", "nginx_tls", "apache_tls", "ct_monitor", "dns_zone", "mail_tls", "acme_certificates")
# The step name `./bulwark test portable` selects, like a scenario name.
PORTABLE = "portable"
# Lanes: lab steps that run at once, each on its own lab network. Two keep both cores busy while the other
# lane waits on package downloads or timed rollovers; more only make every step slower on 2 cores.
DEFAULT_LANES = 2
LOG_DIR = STATE_DIR / "logs"
FAILED_TAIL_LINES = 300


@dataclass
class Step:
    name: str
    argv: list[str]
    extra_env: dict[str, str]
    # A lab step starts lab hosts: it runs in a lane, which gives it BULWARK_LAB_SLOT.
    lab: bool = False
    seconds: float = 0.0
    passed: bool = False
    log: str = ""
    slot: str = field(default="", compare=False)


def scenarios() -> list[str]:
    found = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
    # The whole-site scenario goes last: it repeats what the role scenarios proved, together.
    return sorted(found, key=lambda name: name == "default")


# The fault-injection suite: its own lab (172.30.(91+slot).0/24) in a lane like a scenario; `./bulwark test faults`
# runs it alone. Debian 13 only: the windows do not depend on the distribution's versions.
FAULTS = "faults"


def plan(only: list[str] | None, lint: bool, unit: bool, debian12: bool) -> list[Step]:
    steps: list[Step] = []
    if lint:
        steps.append(Step("yamllint", ["yamllint", "--strict", "."], {}))
        steps.append(Step("ansible-lint", ["ansible-lint", "--profile", "production", "--offline"], {}))
    if unit:
        steps.append(Step("pytest unit", ["python", "-m", "pytest", "-q", "tests/unit"], {}))
    # The longest lab step goes first, so that the other lane runs scenarios beside it.
    if only is None or FAULTS in only:
        steps.append(Step("pytest faults (Debian 13)", ["python", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                                                         "tests/faults"], {"BULWARK_DEBIAN": "13"}, lab=True))
    if only is None or PORTABLE in only:
        steps.append(Step(f"{PORTABLE}: vendored roles and the collection (Debian 13)",
                          ["python", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/portable"],
                          {"BULWARK_DEBIAN": "13"}, lab=True))
    for scenario in scenarios():
        if only is not None and scenario not in only:
            continue
        steps.append(Step(f"molecule {scenario} (Debian 13)", ["molecule", "test", "-s", scenario],
                          {"BULWARK_DEBIAN": "13"}, lab=True))
        if debian12 and scenario in DEBIAN12_SCENARIOS:
            steps.append(Step(f"molecule {scenario} (Debian 12)", ["molecule", "test", "-s", scenario],
                              {"BULWARK_DEBIAN": "12"}, lab=True))
    return steps


def _slug(step: Step) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", step.name).strip("-").lower()


def _log_path(step: Step) -> str:
    return str(LOG_DIR / (_slug(step) + ".log"))


_print_lock = threading.Lock()


def _run(step: Step, env: dict[str, str], capture: bool) -> None:
    started = time.monotonic()
    step_env = {**env, **step.extra_env}
    if step.slot:
        step_env["BULWARK_LAB_SLOT"] = step.slot
    if step.lab:
        # Molecule keeps a scenario's inventory and files in one directory per scenario name: two lanes running
        # the same scenario (Debian 13 and 12) at once would share it. One directory per step instead.
        step_env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(STATE_DIR / "molecule" / _slug(step))
    where = f" [lab slot {step.slot}]" if step.slot else ""
    with _print_lock:
        print(f"\n=== {step.name}{where}: {' '.join(step.argv)}", flush=True)
    if capture:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        step.log = _log_path(step)
        with open(step.log, "w", encoding="utf-8") as out:
            proc = subprocess.run(step.argv, cwd=ROOT, env=step_env, check=False, stdout=out,
                                  stderr=subprocess.STDOUT)
    else:
        proc = subprocess.run(step.argv, cwd=ROOT, env=step_env, check=False)
    step.seconds = time.monotonic() - started
    step.passed = proc.returncode == 0
    with _print_lock:
        if capture:
            with open(step.log, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
            shown = lines if step.passed else lines[-FAILED_TAIL_LINES:]
            if not step.passed and len(lines) > len(shown):
                print(f"--- {step.name}: last {len(shown)} of {len(lines)} lines (whole log: {step.log})")
            print("\n".join(shown))
        print(f"=== {step.name}: {'PASSED' if step.passed else 'FAILED'} in {step.seconds:.0f}s", flush=True)


def run_steps(steps: list[Step], lanes: int = DEFAULT_LANES, slots: list[str] | None = None) -> int:
    """Run the steps that need no lab one after the other, then the lab steps in ``lanes`` lanes."""
    env = venv_env()
    started = time.monotonic()
    for step in (s for s in steps if not s.lab):
        _run(step, env, capture=False)
    lab_steps = [s for s in steps if s.lab]
    lanes = max(1, min(lanes, len(lab_steps) or 1))
    slots = slots or [str(n) for n in range(lanes)]
    if lanes == 1:
        for step in lab_steps:
            step.slot = slots[0]
            _run(step, env, capture=False)
    else:
        todo: queue.Queue[Step] = queue.Queue()
        for step in lab_steps:
            todo.put(step)

        def lane(slot: str) -> None:
            while True:
                try:
                    step = todo.get_nowait()
                except queue.Empty:
                    return
                step.slot = slot
                _run(step, env, capture=True)

        threads = [threading.Thread(target=lane, args=(slots[n],)) for n in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    passed = sum(s.passed for s in steps)
    failed = len(steps) - passed
    print("\n=== summary", flush=True)
    for step in steps:
        where = f"  (lab slot {step.slot})" if step.slot else ""
        print(f"{'PASSED' if step.passed else 'FAILED'}  {step.seconds:7.1f}s  {step.name}{where}")
    print(f"total {time.monotonic() - started:.0f}s wall, {sum(s.seconds for s in steps):.0f}s of steps, "
          f"{lanes} lane(s)")
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.stdout.flush()
    return 0 if failed == 0 and steps else 1


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value not in ("0", "false", "no", "")
