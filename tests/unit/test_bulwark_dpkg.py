"""Unit tests for roles/shared/module_utils/bulwark_dpkg.py: what a killed package install leaves, and the repair."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from ansible.module_utils import bulwark_dpkg

AUDIT = """The following packages have been unpacked but not yet configured.
They must be configured using dpkg --configure or the configure
menu option in dselect for them to work:
 firewalld            dynamically managed firewall with support for network zones
 python3-firewall     Python3 bindings for firewalld

The following packages are only half configured, probably due to problems
configuring them the first time.  The configuration should be retried using
dpkg --configure <package> or the configure menu option in dselect:
 polkitd              framework for managing administrative policies and privileges
"""


def test_audit_lists_the_half_done_packages() -> None:
    assert bulwark_dpkg.audit_packages(AUDIT) == ["firewalld", "python3-firewall", "polkitd"]
    assert bulwark_dpkg.audit_packages("") == []


def test_only_the_stub_an_apt_call_writes_counts_as_left_over() -> None:
    assert bulwark_dpkg.is_left_over_stub("#!/bin/sh\nexit 101\n")
    assert not bulwark_dpkg.is_left_over_stub("#!/bin/sh\n# the admin's own\nexit 101\n")
    assert not bulwark_dpkg.is_left_over_stub(None)


class FakeHost(bulwark_dpkg.HostState):
    """dpkg that answers the audit from a script of outputs, and a policy-rc.d in a temporary directory."""

    def __init__(self, tmp_path: Path, audits: list[str], stub: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.audits = audits
        path = tmp_path / "policy-rc.d"
        if stub is not None:
            path.write_text(stub)
        super().__init__(self.runner, str(path))
        self.has_dpkg = True

    def runner(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[:2] == ["dpkg", "--audit"]:
            return 0, self.audits.pop(0) if len(self.audits) > 1 else self.audits[0], ""
        return 0, "", ""


def test_nothing_left_means_nothing_done(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [""])
    assert bulwark_dpkg.repair(host, wait=lambda timeout: True) == []
    assert host.calls == [["dpkg", "--audit"]]


def test_the_stub_goes_and_dpkg_is_finished(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [AUDIT, ""], stub="#!/bin/sh\nexit 101\n")
    done = bulwark_dpkg.repair(host, wait=lambda timeout: True)
    assert not Path(host.policy_rc_d).exists()
    assert ["dpkg", "--configure", "-a"] in host.calls
    assert not any(call[0] == "apt-get" for call in host.calls)
    assert len(done) == 2 and "firewalld" in done[1]


def test_an_admins_stub_stays(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [""], stub="#!/bin/sh\n# mine\nexit 101\n")
    assert bulwark_dpkg.repair(host, wait=lambda timeout: True) == []
    assert Path(host.policy_rc_d).exists()


def test_half_installed_packages_are_unpacked_again_by_apt(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [AUDIT, AUDIT, AUDIT, ""])
    done = bulwark_dpkg.repair(host, wait=lambda timeout: True)
    assert host.calls[-2][:3] == ["apt-get", "install", "-y"]
    assert "apt-get install -f" in done[-1]


def test_packages_that_stay_broken_are_an_error(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [AUDIT])
    with pytest.raises(RuntimeError, match="firewalld, python3-firewall, polkitd"):
        bulwark_dpkg.repair(host, wait=lambda timeout: True)


def test_a_running_install_is_waited_for_and_then_given_up_on(tmp_path: Path) -> None:
    clock = iter(range(0, 1000, 30))
    assert bulwark_dpkg.wait_until_idle(60, busy=lambda: True, sleep=lambda s: None, clock=lambda: next(clock)) is False
    host = FakeHost(tmp_path, [AUDIT])
    with pytest.raises(RuntimeError, match="still holds its lock"):
        bulwark_dpkg.repair(host, wait=lambda timeout: False)


def test_a_free_lock_is_not_busy(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.write_text("")
    assert bulwark_dpkg.dpkg_busy([str(lock), str(tmp_path / "missing")]) is False
