"""Fault injection: SIGKILL the controller at moments read from the target, then check what must always hold.

After every kill: SSH on the custom port answers right away; one repair run succeeds and the host serves exactly
its declaration (over HTTPS, from outside); a second run changes nothing; nothing of ours is left over. After
all trials, a reboot of every host keeps all of that. Windows and hosts: windows.py. BULWARK_FAULTS_WINDOWS
(comma-separated words) runs only the windows whose name contains one of them.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from faultlab import FaultLab
from windows import SSH_PORT, WINDOWS, Window

SELECTED = [w for w in WINDOWS if not os.environ.get("BULWARK_FAULTS_WINDOWS")
            or any(word.strip() in w.name for word in os.environ["BULWARK_FAULTS_WINDOWS"].split(","))]


def trial(faults: FaultLab, window: Window) -> list[str]:
    host = window.host
    problems: list[str] = []
    run = faults.site_killed_at(window)
    if not run.killed:
        return [f"the moment never came (run ended rc={run.rc} after {run.seconds:.0f}s):\n{run.tail(8)}"]
    faults.record(f"  [{window.name}] killed after {run.seconds:.0f}s")
    if not faults.wait_for_ssh(host, 5):
        problems.append(f"SSH on {SSH_PORT} did not answer right after the kill")
    repair = faults.site(host)
    faults.record(f"  [{window.name}] repair run: rc={repair.rc} changed={repair.changed} in {repair.seconds:.0f}s"
                  + (" (nothing left to repair: the kill came after the work was done)" if not repair.changed else ""))
    if repair.rc != 0:
        problems.append(f"the repair run failed:\n{repair.tail()}")
    if not faults.wait_for_ssh(host, 5):
        problems.append(f"SSH on {SSH_PORT} did not answer after the repair run")
    problems += faults.served_problems(host)
    second = faults.site(host)
    if second.rc != 0 or second.changed:
        problems.append(f"second run: rc={second.rc} changed={second.changed}:\n{second.tail(12)}")
    problems += [f"left over: {item}" for item in faults.left_overs(host)]
    if not problems:
        faults.converged.add(host)
    return problems


def run_phase(faults: FaultLab, phase: str) -> None:
    windows = [w for w in SELECTED if w.phase == phase]
    if not windows:
        pytest.skip(f"no {phase} window selected")
    assert len({w.host for w in windows}) == len(windows), "one window per host and phase: they run side by side"
    if phase in ("change", "revert"):
        for window in windows:
            if window.host not in faults.converged:  # its earlier window was not run, or failed: converge it first
                faults.set_phase(window.host, {"change": "fresh", "revert": "change"}[phase])
                run = faults.site(window.host)
                assert run.rc == 0, f"{window.host}: converging before the change failed:\n{run.tail()}"
                faults.converged.add(window.host)
            faults.set_phase(window.host, phase)
    with ThreadPoolExecutor(len(windows)) as pool:
        results = dict(zip(windows, pool.map(lambda w: trial(faults, w), windows)))
    for window, problems in results.items():
        faults.record(f"{'PASS' if not problems else 'FAIL'} {window.name}"
                      + "".join(f"\n    - {p}" for p in problems))
    failed = [w.name for w, p in results.items() if p]
    assert not failed, f"kill windows that broke a promise: {failed} (details above)"


def test_kills_during_a_fresh_install(faults: FaultLab) -> None:
    run_phase(faults, "fresh")


def test_kills_while_changing_a_converged_host(faults: FaultLab) -> None:
    run_phase(faults, "change")


def test_kills_of_the_controller_and_the_module_while_changing_back(faults: FaultLab) -> None:
    run_phase(faults, "revert")


def test_a_reboot_keeps_every_host_reachable_and_serving_its_declaration(faults: FaultLab) -> None:
    # Every host a window was tried on: SSH must answer after a reboot even where a repair failed.
    hosts = sorted({w.host for w in SELECTED})
    faults.reboot()
    problems = []
    for host in hosts:
        if not faults.wait_for_ssh(host, 90):
            problems.append(f"{host}: SSH on {SSH_PORT} does not answer after the reboot")
            continue
        if host not in faults.converged:
            problems.append(f"{host}: its repair failed (above); only SSH was checked after the reboot")
            continue
        faults.sh(host, "timeout 120 systemctl is-system-running --wait")  # firewalld may still be activating
        deadline = time.monotonic() + 60
        while (served := faults.served_problems(host)) and time.monotonic() < deadline:
            time.sleep(2)
        problems += served
        state = faults.sh(host, "systemctl is-active firewalld; systemctl is-enabled firewalld").stdout.split()
        if state != ["active", "enabled"]:
            problems.append(f"{host}: firewalld is {state} after the reboot, not active and enabled")
        problems += [f"{host}: left over: {item}" for item in faults.left_overs(host)]
    faults.record(f"{'PASS' if not problems else 'FAIL'} reboot of {', '.join(hosts)}"
                  + "".join(f"\n    - {p}" for p in problems))
    assert not problems
