"""Unit tests for roles/ct_monitor/library/ct_monitor_apply.py: preflight, write-test-rollback, durable restart.

systemctl is replaced by a fake that keeps the service's state, so the tests see exactly which commands a
run would issue on a host.
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ct_monitor_apply import ApplyError, apply, plan

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


class FakeHost:
    """systemctl, journalctl and the test command of a host whose service state the test sets."""

    def __init__(self, active: str = "active", enabled: str = "enabled", test_rc: int = 0,
                 dies_on_restart: bool = False) -> None:
        self.state = {"ActiveState": active, "UnitFileState": enabled, "NeedDaemonReload": "no"}
        self.test_rc = test_rc
        self.dies_on_restart = dies_on_restart
        self.commands: list[list[str]] = []
        self.seen_by_test: list[str] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        argv = list(argv)
        self.commands.append(argv)
        if argv[:2] == ["systemctl", "show"]:
            return 0, "".join(f"{k}={v}\n" for k, v in self.state.items()), ""
        if argv[:2] == ["systemctl", "restart"]:
            self.state["ActiveState"] = "failed" if self.dies_on_restart else "active"
        elif argv[:2] == ["systemctl", "enable"]:
            self.state["UnitFileState"] = "enabled"
        elif argv[:2] == ["systemctl", "daemon-reload"]:
            self.state["NeedDaemonReload"] = "no"
        elif argv[0] == "journalctl":
            return 0, "certspotter: error loading log list", ""
        elif argv[0] == "test":
            self.seen_by_test.append(Path(argv[1]).read_text())
            return self.test_rc, "", "" if self.test_rc == 0 else "watch list line 1: bad"
        return 0, "", ""

    @property
    def actions(self) -> list[list[str]]:
        return [c for c in self.commands if c[:2] != ["systemctl", "show"]]


def _params(tmp: Path, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "files": [
            {"path": str(tmp / "etc" / "watchlist"), "content": "www.example.org\n", "mode": "0640", "owner": USER,
             "group": GROUP, "restart": True, "diff": True},
            {"path": str(tmp / "etc" / "config.json"), "content": "{}\n", "mode": "0640", "owner": USER,
             "group": GROUP, "restart": False, "diff": False},
        ],
        "directories": [{"path": str(tmp / "etc"), "mode": "0750", "owner": USER, "group": GROUP}],
        "requires": [],
        "programs": [],
        "test_command": ["test", str(tmp / "etc" / "watchlist")],
        "service": "certspotter",
        "marker_dir": str(tmp / "pending"),
    }
    params.update(overrides)
    return params


def _no_sleep(_seconds: float) -> None:
    return None


def test_a_first_run_writes_tests_and_restarts_and_leaves_no_marker(tmp_path: Path) -> None:
    host = FakeHost(active="inactive", enabled="disabled")
    result = apply(_params(tmp_path), False, host, sleep=_no_sleep)
    assert result["changed"] and result["restarted"]
    assert (tmp_path / "etc" / "watchlist").read_text() == "www.example.org\n"
    assert oct((tmp_path / "etc" / "watchlist").stat().st_mode & 0o777) == "0o640"
    assert oct((tmp_path / "etc").stat().st_mode & 0o777) == "0o750"
    assert host.seen_by_test == ["www.example.org\n"]
    assert ["systemctl", "enable", "certspotter"] in host.actions
    assert ["systemctl", "restart", "certspotter"] in host.actions
    assert not (tmp_path / "pending" / "certspotter.restart").exists()


def test_a_second_run_is_one_read_only_look(tmp_path: Path) -> None:
    apply(_params(tmp_path), False, FakeHost(), sleep=_no_sleep)
    host = FakeHost()
    result = apply(_params(tmp_path), False, host, sleep=_no_sleep)
    assert not result["changed"]
    assert host.actions == []


def test_a_file_read_per_event_changes_without_a_restart(tmp_path: Path) -> None:
    apply(_params(tmp_path), False, FakeHost(), sleep=_no_sleep)
    params = _params(tmp_path)
    params["files"][1]["content"] = '{"known_keys": {}}\n'
    host = FakeHost()
    result = apply(params, False, host, sleep=_no_sleep)
    assert result["changed"] and not result["restarted"]
    assert not any(c[:2] == ["systemctl", "restart"] for c in host.actions)


def test_a_restart_lost_to_a_dead_controller_happens_on_the_next_run(tmp_path: Path) -> None:
    apply(_params(tmp_path), False, FakeHost(), sleep=_no_sleep)
    params = _params(tmp_path)
    params["files"][0]["content"] = "www.example.org\nmail.example.org\n"

    class Killed(Exception):
        pass

    class DiesAtRestart(FakeHost):
        def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
            if list(argv)[:2] == ["systemctl", "restart"]:
                raise Killed
            return super().__call__(argv)

    with pytest.raises(Killed):
        apply(params, False, DiesAtRestart(), sleep=_no_sleep)
    assert (tmp_path / "pending" / "certspotter.restart").exists()
    host = FakeHost()
    result = apply(params, False, host, sleep=_no_sleep)  # the files now look unchanged
    assert result["changed"] and result["restarted"] and result["changed_paths"] == []
    assert ["systemctl", "restart", "certspotter"] in host.actions
    assert not (tmp_path / "pending" / "certspotter.restart").exists()


def test_a_rejected_change_is_rolled_back_and_nothing_restarts(tmp_path: Path) -> None:
    apply(_params(tmp_path), False, FakeHost(), sleep=_no_sleep)
    params = _params(tmp_path)
    params["files"][0]["content"] = "bad..name\n"
    host = FakeHost(test_rc=1)
    with pytest.raises(ApplyError, match="(?s)rejected the new files.*watch list line 1"):
        apply(params, False, host, sleep=_no_sleep)
    assert (tmp_path / "etc" / "watchlist").read_text() == "www.example.org\n"
    assert not any(c[:2] == ["systemctl", "restart"] for c in host.actions)
    assert not (tmp_path / "pending" / "certspotter.restart").exists()


def test_a_new_file_is_removed_when_the_test_fails(tmp_path: Path) -> None:
    host = FakeHost(test_rc=1)
    with pytest.raises(ApplyError):
        apply(_params(tmp_path), False, host, sleep=_no_sleep)
    assert not (tmp_path / "etc" / "watchlist").exists()


def test_a_service_that_dies_after_the_restart_fails_the_run_and_keeps_the_marker(tmp_path: Path) -> None:
    host = FakeHost(dies_on_restart=True)
    with pytest.raises(ApplyError, match="(?s)failed after the restart.*error loading log list"):
        apply(_params(tmp_path), False, host, sleep=_no_sleep)
    assert (tmp_path / "pending" / "certspotter.restart").exists()


def test_check_mode_says_what_would_change_and_changes_nothing(tmp_path: Path) -> None:
    host = FakeHost(active="inactive", enabled="disabled")
    result = apply(_params(tmp_path), True, host, sleep=_no_sleep)
    assert result["changed"] and result["restarted"]
    assert not (tmp_path / "etc").exists()
    assert host.actions == []
    shown = {d["before_header"]: d["after"] for d in result["diff"]}
    assert shown[str(tmp_path / "etc" / "watchlist")] == "www.example.org\n"
    assert "not shown" in shown[str(tmp_path / "etc" / "config.json")]


def test_a_missing_requirement_fails_before_anything_changes(tmp_path: Path) -> None:
    params = _params(tmp_path, requires=[{"path": str(tmp_path / "sendmail"), "msg": "ct_monitor_email needs an MTA"}])
    host = FakeHost()
    with pytest.raises(ApplyError, match="ct_monitor_email needs an MTA"):
        apply(params, False, host, sleep=_no_sleep)
    assert not (tmp_path / "etc").exists()
    assert host.commands == []


def test_a_missing_program_is_reported_and_nothing_changes(tmp_path: Path) -> None:
    params = _params(tmp_path, programs=[str(tmp_path / "certspotter")])
    result = apply(params, False, FakeHost(), sleep=_no_sleep)
    assert result["missing"] == [str(tmp_path / "certspotter")]
    assert not result["changed"]
    assert not (tmp_path / "etc").exists()


def test_systemd_is_reloaded_when_it_asks_for_it(tmp_path: Path) -> None:
    apply(_params(tmp_path), False, FakeHost(), sleep=_no_sleep)
    host = FakeHost()
    host.state["NeedDaemonReload"] = "yes"
    result = apply(_params(tmp_path), False, host, sleep=_no_sleep)
    assert result["changed"]
    assert host.actions == [["systemctl", "daemon-reload"]]


def test_an_unknown_owner_is_named(tmp_path: Path) -> None:
    params = _params(tmp_path)
    params["files"][0]["owner"] = "no-such-user-here"
    with pytest.raises(ApplyError, match="no-such-user-here"):
        plan(params["files"], params["directories"])


class _Captured(Exception):
    pass


@pytest.mark.parametrize("module_name", ["ct_monitor_apply", "ct_monitor_read_keys"])
def test_documentation_names_every_option_of_the_argument_spec(module_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import yaml

    module = importlib.import_module(module_name)
    seen: dict[str, Any] = {}

    def capture(argument_spec: dict[str, Any], **_kwargs: Any) -> None:
        seen.update(argument_spec)
        raise _Captured

    monkeypatch.setattr(module, "AnsibleModule", capture)
    with pytest.raises(_Captured):
        module.main()
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(seen)
    for name, spec in seen.items():
        if "options" in spec:
            assert set(documented[name]["suboptions"]) == set(spec["options"]), name
        assert documented[name].get("default") == spec.get("default"), name
    yaml.safe_load(module.RETURN)
