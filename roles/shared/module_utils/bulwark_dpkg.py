# -*- coding: utf-8 -*-
"""What a killed package install leaves on a Debian host, and how a later run finishes it.

A controller that dies during `apt-get install` does not stop apt on the host: dpkg usually finishes, but a
host that goes down (or a dpkg killed with it) leaves packages unpacked or half-configured, and every later
apt call fails until `dpkg --configure -a` runs. Ansible's apt module with ``policy_rc_d`` writes a stub
``/usr/sbin/policy-rc.d`` for the length of the install; when the module dies, the stub stays and every later
package install on the host silently skips its service starts.

Decided from the host's state only: ``dpkg --audit`` (empty when nothing is half done) and the stub's content.
The pure parts take text and a runner, so they are unit-tested without dpkg (tests/unit/test_bulwark_dpkg.py).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Sequence

Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]

POLICY_RC_D = "/usr/sbin/policy-rc.d"
# Exactly what ansible.builtin.apt writes for policy_rc_d: 101 (Bulwark's firewalld role used it until issue 17).
LEGACY_STUB = "#!/bin/sh\nexit 101\n"
DPKG_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")
NONINTERACTIVE = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}


def is_left_over_stub(content: str | None) -> bool:
    """Whether ``content`` of policy-rc.d is the stub an apt module call writes and removes when it ends."""
    return content == LEGACY_STUB


def audit_packages(audit_output: str) -> list[str]:
    """Package names ``dpkg --audit`` lists (indented ``name   description`` lines); empty when nothing is half
    done."""
    names = []
    for line in audit_output.splitlines():
        if line.startswith(" ") and line.strip():
            names.append(line.split()[0])
    return names


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def dpkg_busy(locks: Sequence[str] = DPKG_LOCKS) -> bool:
    """Whether apt or dpkg holds its lock now (a run killed on the controller may still be installing here)."""
    for path in locks:
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            return True
        finally:
            os.close(fd)
    return False


def wait_until_idle(timeout: float, busy: Callable[[], bool] = dpkg_busy, sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> bool:
    """Wait for apt and dpkg to release their locks; False when they still hold them after ``timeout`` seconds."""
    deadline = clock() + timeout
    while busy():
        if clock() >= deadline:
            return False
        sleep(1.0)
    return True


class HostState:
    """The package system's leftovers on this host, read once."""

    def __init__(self, run: Runner, policy_rc_d: str = POLICY_RC_D) -> None:
        self.run = run
        self.policy_rc_d = policy_rc_d
        self.has_dpkg = os.path.exists("/usr/bin/dpkg")

    def stub_left_over(self) -> bool:
        return is_left_over_stub(_read(self.policy_rc_d))

    def interrupted(self) -> list[str]:
        """Packages dpkg left half done (``dpkg --audit``)."""
        if not self.has_dpkg:
            return []
        _rc, out, _err = self.run(["dpkg", "--audit"])
        return audit_packages(out)


def repair(state: HostState, timeout: float = 300.0, wait: Callable[[float], bool] = wait_until_idle) -> list[str]:
    """Finish what a killed install left: remove a left-over policy-rc.d stub, complete interrupted packages.

    Waits for a still-running apt or dpkg first. Returns what it did, as sentences; raises RuntimeError with
    dpkg's or apt's words when the packages cannot be completed.
    """
    done: list[str] = []
    if not (state.stub_left_over() or state.interrupted()):
        return done
    if not wait(timeout):
        raise RuntimeError(f"apt or dpkg still holds its lock after {timeout:.0f}s: another install is running")
    if state.stub_left_over():
        os.remove(state.policy_rc_d)
        done.append(f"removed the {state.policy_rc_d} stub a killed package install left (it blocked service starts)")
    pending = state.interrupted()
    if pending:
        rc, out, err = state.run(["dpkg", "--configure", "-a"])
        done.append(f"finished the interrupted dpkg run (dpkg --configure -a): {', '.join(pending)}")
        still = state.interrupted()
        if still:
            # Half-installed packages (a dpkg killed while unpacking) need apt to unpack them again.
            rc, out, err = state.run(["apt-get", "install", "-y", "-f", "--no-install-recommends",
                                      "-o", "Dpkg::Options::=--force-confold"])
            done.append(f"reinstalled what dpkg could not configure (apt-get install -f): {', '.join(still)}")
            still = state.interrupted()
            if still:
                raise RuntimeError(f"dpkg still lists {', '.join(still)} as half done after `dpkg --configure -a` "
                                   f"and `apt-get install -f` (exit {rc}): {(err or out).strip()[-400:]}")
    return done
