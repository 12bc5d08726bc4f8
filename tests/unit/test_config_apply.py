"""Unit tests for roles/shared/library/config_apply.py: write, test, roll back as one unit; durable reloads."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from config_apply import (ApplyFailed, Journal, ServiceState, apply, plan, recover, service_state,
                          sync_service)
from config_apply import directory_entries, reload_units, unit_paths


class FakeTest:
    """A test command whose verdict the test chooses; it records what the files said when it ran."""

    def __init__(self, *verdicts: int, watch: Path | None = None) -> None:
        self.verdicts = list(verdicts)
        self.watch = watch
        self.seen: list[str | None] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.seen.append(self.watch.read_text() if self.watch and self.watch.exists() else None)
        rc = self.verdicts.pop(0)
        return rc, "", "" if rc == 0 else "nginx: [emerg] bad directive"


@pytest.fixture()
def etc(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "sites-available").mkdir()
    (tmp_path / "conf.d" / "tls.conf").write_text("old\n")
    (tmp_path / "conf.d" / "tls.conf").chmod(0o640)
    (tmp_path / "conf.d" / "bulwark-site-gone.conf").write_text("gone\n")
    (tmp_path / "sites-available" / "default").write_text("default site\n")
    (tmp_path / "sites-enabled" / "default").symlink_to("../sites-available/default")
    return tmp_path


def declared(etc: Path) -> dict[str, object]:
    return {
        "files": [{"path": str(etc / "conf.d" / "tls.conf"), "content": "new\n", "mode": "0644"},
                  {"path": str(etc / "conf.d" / "bulwark-site-www.conf"), "content": "www\n", "mode": "0644"}],
        "links": [{"path": str(etc / "sites-enabled" / "www.conf"), "src": "../sites-available/www.conf"}],
        "absent": [str(etc / "sites-enabled" / "default")],
        "directories": [str(etc / "acme" / ".well-known" / "acme-challenge")],
        "exclusive": [str(etc / "conf.d" / "bulwark-site-*.conf")],
    }


def snapshot(root: Path) -> dict[str, tuple[str, str, int]]:
    state = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path), 0)
        elif path.is_file():
            state[rel] = ("file", path.read_text(), path.stat().st_mode & 0o777)
        else:
            state[rel] = ("dir", "", 0)
    return state


def test_plan_lists_every_change_and_touches_nothing(etc: Path) -> None:
    before = snapshot(etc)
    todo = plan(**declared(etc))
    assert snapshot(etc) == before
    assert sorted(Path(p).name for p in todo.paths) == sorted(
        ["acme-challenge", "tls.conf", "bulwark-site-www.conf", "www.conf", "default", "bulwark-site-gone.conf"])
    diffs = {d["before_header"]: d for d in todo.diff}
    assert diffs[str(etc / "conf.d" / "tls.conf")]["before"] == "old\n"


def test_apply_then_nothing_left_to_do(etc: Path) -> None:
    test = FakeTest(0)
    apply(plan(**declared(etc)), test, ["nginx", "-t"])
    state = snapshot(etc)
    assert state["conf.d/tls.conf"] == ("file", "new\n", 0o644)
    assert state["conf.d/bulwark-site-www.conf"] == ("file", "www\n", 0o644)
    assert state["sites-enabled/www.conf"] == ("link", "../sites-available/www.conf", 0)
    assert "sites-enabled/default" not in state and "conf.d/bulwark-site-gone.conf" not in state
    assert state["acme/.well-known/acme-challenge"] == ("dir", "", 0)
    assert not [name for name in state if ".bulwark-" in name]
    assert plan(**declared(etc)).paths == []


def test_the_test_sees_the_new_files(etc: Path) -> None:
    test = FakeTest(0, watch=etc / "conf.d" / "tls.conf")
    apply(plan(**declared(etc)), test, ["nginx", "-t"])
    assert test.seen == ["new\n"]


def test_failed_test_puts_everything_back(etc: Path) -> None:
    (etc / "acme").mkdir()
    before = snapshot(etc)
    test = FakeTest(1, 0, watch=etc / "conf.d" / "tls.conf")
    with pytest.raises(ApplyFailed) as failed:
        apply(plan(**declared(etc)), test, ["nginx", "-t"])
    assert failed.value.output == "nginx: [emerg] bad directive"
    assert failed.value.restored_ok is True
    assert test.seen == ["new\n", "old\n"]  # tested the new files, then the restored ones
    after = snapshot(etc)
    # Only the directory the run created stays (empty, harmless); every file, mode and link is as before.
    assert {k: v for k, v in after.items() if not k.startswith("acme/")} == \
        {k: v for k, v in before.items() if not k.startswith("acme/")}


def test_restored_state_failing_too_is_reported(etc: Path) -> None:
    with pytest.raises(ApplyFailed) as failed:
        apply(plan(**declared(etc)), FakeTest(1, 1), ["nginx", "-t"])
    assert failed.value.restored_ok is False


def test_mode_change_alone_is_a_change(etc: Path) -> None:
    files = [{"path": str(etc / "conf.d" / "tls.conf"), "content": "old\n", "mode": "0644"}]
    todo = plan(files, [], [], [], lookup_id=lambda kind, name: 0)
    assert todo.paths == [str(etc / "conf.d" / "tls.conf")]
    apply(todo, FakeTest(0), ["true"])
    assert (etc / "conf.d" / "tls.conf").stat().st_mode & 0o777 == 0o644


def _ids(kind: str, name: str) -> int:
    return {"root": os.getuid(), "knot": os.getgid()}[name]


def test_owner_and_group_are_part_of_the_state(etc: Path) -> None:
    path = etc / "conf.d" / "tls.conf"
    stat = path.stat()
    files = [{"path": str(path), "content": "old\n", "mode": "0640", "owner": "root", "group": "knot"}]
    assert plan(files, [], [], [], lookup_id=_ids).paths == ([] if (stat.st_uid, stat.st_gid) == (os.getuid(), os.getgid())
                                                             else [str(path)])


def test_hidden_content_is_not_in_the_diff(etc: Path) -> None:
    files = [{"path": str(etc / "conf.d" / "secret.conf"), "content": "key: s3cret\n", "diff": False}]
    todo = plan(files, [], [], [], lookup_id=lambda kind, name: 0)
    assert "s3cret" not in json.dumps(todo.diff)


def test_a_directory_given_as_a_path_is_created_and_otherwise_left_alone(etc: Path) -> None:
    (etc / "private").mkdir(mode=0o700)
    todo = plan([], [], [], [str(etc / "private"), str(etc / "new")])
    assert todo.paths == [str(etc / "new")] and todo.diff == []
    apply(todo, FakeTest(0), ["true"])
    assert (etc / "private").stat().st_mode & 0o7777 == 0o700 and (etc / "new").is_dir()


def test_a_directory_mapping_sets_mode_owner_and_group(etc: Path) -> None:
    log = etc / "log"
    directories = [{"path": str(log), "mode": "2750", "owner": "root", "group": "knot"}]
    todo = plan([], [], [], directories, lookup_id=_ids)
    assert todo.paths == [str(log)] and todo.diff[0]["before"] == ""
    apply(todo, FakeTest(0), ["true"])
    assert log.stat().st_mode & 0o7777 == 0o2750
    assert plan([], [], [], directories, lookup_id=_ids).paths == []
    # An existing directory is corrected, with the change in the diff; the default mode is 0755.
    todo = plan([], [], [], [{"path": str(log)}, {"path": str(etc / "conf.d"), "mode": "0750"}], lookup_id=_ids)
    assert todo.paths == [str(etc / "conf.d")]
    assert todo.diff[0]["after"].startswith("directory 0750 ")
    apply(todo, FakeTest(0), ["true"])
    assert (etc / "conf.d").stat().st_mode & 0o7777 == 0o750
    assert plan([], [], [], [{"path": str(log), "mode": "0755"}], lookup_id=_ids).paths == [str(log)]


@pytest.mark.parametrize("entry,message", [
    (7, "directories[0] must be a path or a mapping"),
    ({"mode": "0755"}, "directories[0] must be a path or a mapping"),
    ({"path": "/srv/x", "recurse": "yes"}, "got a dict with path, recurse"),
    ({"path": "/srv/x", "mode": 493}, "directories[0] must be a path or a mapping"),
    ({"path": "/srv/x", "mode": "rwxr-x---"}, "directories[0].mode must be an octal mode"),
    ("srv/x", "directories[0].path must be an absolute path, got 'srv/x'"),
    ({"path": "~/x"}, "directories[0].path must be an absolute path, got '~/x'"),
])
def test_a_bad_directory_entry_is_refused(entry: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        directory_entries([entry])


def test_unit_paths_are_those_systemd_reads() -> None:
    assert unit_paths(["/etc/systemd/system/certspotter.service.d/bulwark.conf", "/etc/systemd/system.conf",
                       "/etc/systemd/system/certspotter.service.d", "/lib/systemd/system/knot.service",
                       "/etc/certspotter/watchlist", "/etc/systemd/system/../journald.conf"]) == [
        "/etc/systemd/system/certspotter.service.d/bulwark.conf", "/etc/systemd/system/certspotter.service.d",
        "/lib/systemd/system/knot.service"]


class FakeUnits:
    """systemctl for reload_units: what `show NeedDaemonReload` answers, and the calls made."""

    def __init__(self, need: str = "no", fail: bool = False) -> None:
        self.need, self.fail = need, fail
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[1] == "show":
            return 0, self.need + "\n", ""
        return (1, "", "Access denied") if self.fail else (0, "", "")


RELOAD = ["systemctl", "daemon-reload"]
SHOW = ["systemctl", "show", "--property=NeedDaemonReload", "--value", "certspotter"]


@pytest.mark.parametrize("changed,pending,need,expected,calls", [
    (["/etc/systemd/system/certspotter.service.d/bulwark.conf"], False, "no", True, [RELOAD]),
    (["/etc/certspotter/watchlist"], False, "yes", False, []),  # nothing of ours changed a unit
    ([], True, "yes", True, [SHOW, RELOAD]),  # a run died after writing the drop-in, before the reload
    ([], True, "no", False, [SHOW]),
    ([], False, "no", False, []),  # the re-run with nothing to do asks nothing
])
def test_reload_units(changed: list[str], pending: bool, need: str, expected: bool, calls: list[list[str]]) -> None:
    systemctl = FakeUnits(need)
    assert reload_units(systemctl, changed, "certspotter", pending) is expected
    assert systemctl.calls == calls


def test_a_failed_daemon_reload_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="daemon-reload.*Access denied"):
        reload_units(FakeUnits(fail=True), ["/run/systemd/system/x.service"], "x", False)


def test_a_changed_drop_in_reloads_systemd_before_the_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import config_apply

    units, state = tmp_path / "units", tmp_path / "state"
    dropin = units / "certspotter.service.d" / "bulwark.conf"
    monkeypatch.setattr(config_apply, "UNIT_DIRS", (f"{units}/",))
    calls: list[list[str]] = []

    def run_command(self: object, args: Sequence[str], **kwargs: object) -> tuple[int, str, str]:
        calls.append(list(args))
        return 0, {"is-active": "active\n", "is-enabled": "enabled\n"}.get(args[1], ""), ""

    monkeypatch.setattr(config_apply.AnsibleModule, "run_command", run_command)
    args = {"directories": [str(dropin.parent), {"path": str(tmp_path / "log"), "mode": "2750"}],
            "files": [{"path": str(dropin), "content": "[Service]\nExecStart=\n"}],
            "test_command": ["true", "check"], "service": "certspotter", "restart": True, "state_dir": str(state)}
    first = _run_module(args, capsys)
    assert first["daemon_reloaded"] and first["reloaded"] == "restarted"
    assert calls[2:] == [["true", "check"], ["systemctl", "daemon-reload"], ["systemctl", "restart", "certspotter"]]
    assert (tmp_path / "log").stat().st_mode & 0o7777 == 0o2750
    calls.clear()
    again = _run_module(args, capsys)
    assert not again["changed"] and not again["daemon_reloaded"]
    assert [c[1] for c in calls] == ["is-active", "is-enabled"]  # one read-only call, nothing more


# ---------------------------------------------------------------------------------------------------------------
# Durability: the journal and the "reload pending" marker
# ---------------------------------------------------------------------------------------------------------------


def test_a_passed_test_leaves_a_reload_pending(etc: Path, tmp_path: Path) -> None:
    journal = Journal(str(etc.with_name(etc.name + "-state")), "nginx")
    apply(plan(**declared(etc)), FakeTest(0), ["nginx", "-t"], journal)
    assert journal.read()["phase"] == "pending"
    assert not Path(journal.saved_dir).exists()


def test_a_failed_test_leaves_no_marker_unless_one_was_pending(etc: Path, tmp_path: Path) -> None:
    journal = Journal(str(etc.with_name(etc.name + "-state")), "nginx")
    with pytest.raises(ApplyFailed):
        apply(plan(**declared(etc)), FakeTest(1, 0), ["nginx", "-t"], journal)
    assert journal.read() is None
    journal.mark_pending()  # an earlier run died before its reload
    with pytest.raises(ApplyFailed):
        apply(plan(**declared(etc)), FakeTest(1, 0), ["nginx", "-t"], journal)
    assert journal.read()["phase"] == "pending"


class Killed(Exception):
    """The controller died: nothing after this point of the run happens."""


def test_a_swap_cut_short_is_rolled_back_by_the_next_run(etc: Path, tmp_path: Path) -> None:
    before = snapshot(etc)
    journal = Journal(str(etc.with_name(etc.name + "-state")), "nginx")
    todo = plan(**declared(etc))

    def dies(argv: Sequence[str]) -> tuple[int, str, str]:
        raise Killed  # files swapped, the test never ran

    with pytest.raises(Killed):
        apply(todo, dies, ["nginx", "-t"], journal)
    assert journal.read()["phase"] == "writing"
    assert snapshot(etc) != before
    recovered = recover(journal)
    assert sorted(Path(p).name for p in recovered) == sorted(
        ["tls.conf", "bulwark-site-www.conf", "www.conf", "default", "bulwark-site-gone.conf"])
    after = snapshot(etc)
    assert {k: v for k, v in after.items() if not k.startswith("acme")} == \
        {k: v for k, v in before.items() if not k.startswith("acme")}
    # The daemon may run either configuration now: a reload stays pending.
    assert journal.read()["phase"] == "pending"
    assert recover(journal) == []


def test_a_marker_cut_short_counts_as_pending(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path), "knot")
    Path(journal.marker).write_text('{"phase": "pen')
    assert journal.read()["phase"] == "pending"


class FakeSystemctl:
    def __init__(self, active: str = "active", enabled: str = "enabled", fail: str = "") -> None:
        self.active, self.enabled, self.fail = active, enabled, fail
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[1] == "is-active":
            return (0 if self.active == "active" else 3), self.active + "\n", ""
        if argv[1] == "is-enabled":
            return (0 if self.enabled == "enabled" else 1), self.enabled + "\n", ""
        return (1 if argv[1] == self.fail else 0), "", "boom" if argv[1] == self.fail else ""


def test_service_state_reads_systemctl() -> None:
    assert service_state(FakeSystemctl("inactive", "disabled"), "nginx") == ServiceState(False, False)
    assert service_state(FakeSystemctl(), "nginx") == ServiceState(True, True)


@pytest.mark.parametrize("state,read,command,enabled,expected,calls", [
    (ServiceState(True, True), True, [], True, "reloaded", [["systemctl", "reload", "nginx"]]),
    (ServiceState(True, True), True, ["knotc", "reload"], True, "reloaded", [["knotc", "reload"]]),
    (ServiceState(False, False), True, [], True, "started",
     [["systemctl", "start", "nginx"], ["systemctl", "enable", "nginx"]]),
    (ServiceState(True, False), False, [], True, None, [["systemctl", "enable", "nginx"]]),
    (ServiceState(True, True), False, [], None, None, []),
])
def test_sync_service(state: ServiceState, read: bool, command: list[str], enabled: bool | None,
                      expected: str | None, calls: list[list[str]]) -> None:
    systemctl = FakeSystemctl()
    assert sync_service(systemctl, "nginx", state, command, False, read, enabled) == expected
    assert systemctl.calls == calls


def test_a_failed_reload_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="systemctl reload nginx"):
        sync_service(FakeSystemctl(fail="reload"), "nginx", ServiceState(True, True), [], False, True, None)


def test_candidate_is_tested_on_a_copy_and_live_files_stay(etc: Path) -> None:
    from config_apply import test_candidate, with_dir

    todo = plan(**declared(etc))
    before = snapshot(etc)
    seen: list[list[str]] = []

    def test(argv: Sequence[str]) -> tuple[int, str, str]:
        seen.append(list(argv))
        copy = Path(argv[-1])
        assert copy != etc and (copy / "conf.d" / "tls.conf").read_text() == "new\n"
        assert not (copy / "sites-enabled" / "default").exists()
        assert os.readlink(copy / "sites-enabled" / "www.conf") == "../sites-available/www.conf"
        return 1, "", f"{copy}/conf.d/tls.conf: bad value"

    rc, output = test_candidate(todo, str(etc), test, ["check", "-c", "{dir}"])
    assert rc == 1 and output == f"{etc}/conf.d/tls.conf: bad value"
    assert snapshot(etc) == before
    assert not Path(seen[0][-1]).exists()
    assert with_dir(["postfix", "-c", "{dir}", "check"], "/etc/postfix") == ["postfix", "-c", "/etc/postfix", "check"]


def test_candidate_ignores_files_outside_its_directory(etc: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from config_apply import test_candidate

    elsewhere = tmp_path_factory.mktemp("elsewhere") / "policy.txt"
    todo = plan([{"path": str(elsewhere), "content": "x\n"}], [], [], [])
    rc, _ = test_candidate(todo, str(etc / "conf.d"), lambda argv: (0, "", ""), ["true", "{dir}"])
    assert rc == 0 and not elsewhere.exists()


def test_two_runs_take_turns(tmp_path: Path) -> None:
    first, second = Journal(str(tmp_path), "nginx"), Journal(str(tmp_path), "nginx")
    assert first.lock(1)
    assert Path(first.lock_path).read_text() == f"{os.getpid()}\n"  # who holds it
    assert second.lock(0.3, sleep=lambda s: None) is False  # the old call still holds it
    os.close(first._lock_fd)  # the old call ended (or was killed): the kernel releases its lock
    assert second.lock(1)


def test_what_a_killed_run_left_outside_the_journal_goes(etc: Path, tmp_path: Path) -> None:
    state = etc.with_name(etc.name + "-state")
    journal = Journal(str(state), "nginx")
    os.makedirs(journal.saved_dir)
    (Path(journal.saved_dir) / "0").write_text("old\n")  # killed while saving, before the marker
    (state / ".bulwark-abc.tmp").write_text("{")
    removed = journal.clean_left_overs()
    assert sorted(Path(p).name for p in removed) == [".bulwark-abc.tmp", "nginx.saved"]
    assert list(state.iterdir()) == []


def test_recovery_removes_half_written_temporary_files(etc: Path) -> None:
    journal = Journal(str(etc.with_name(etc.name + "-state")), "nginx")
    todo = plan(**declared(etc))

    def dies(argv: Sequence[str]) -> tuple[int, str, str]:
        (etc / "conf.d" / ".bulwark-x1.tmp").write_text("half")  # the host went down mid-write
        raise Killed

    with pytest.raises(Killed):
        apply(todo, dies, ["nginx", "-t"], journal)
    recover(journal)
    assert not list((etc / "conf.d").glob(".bulwark-*"))


def _run_module(args: dict[str, object], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """Run config_apply's main() as Ansible would, with ``args``; its JSON result."""
    import config_apply
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    basic._ANSIBLE_PROFILE = "legacy"
    held: list[int] = []
    lock = config_apply.Journal.lock

    def lock_and_remember(self: Journal, timeout: float, *rest: object) -> bool:
        taken = lock(self, timeout, *rest)
        held.append(self._lock_fd)
        return taken

    config_apply.Journal.lock = lock_and_remember
    try:
        with pytest.raises(SystemExit):
            config_apply.main()
    finally:
        config_apply.Journal.lock = lock
        for fd in held:  # a module's process ends here, and with it its lock
            if fd is not None:
                os.close(fd)
    return json.loads(capsys.readouterr().out)


def test_a_reload_command_without_a_service_is_durable_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zone, log, state = tmp_path / "lab.test.records", tmp_path / "reloads", tmp_path / "state"
    args = {"files": [{"path": str(zone), "content": "www IN CAA 0 issue \"ca\"\n"}], "name": "dns_records",
            "test_command": ["true"], "state_dir": str(state),
            "reload_command": ["sh", "-c", f"echo reloaded >> {log}"]}
    first = _run_module(args, capsys)
    assert first["changed"] and first["reloaded"] == "reloaded" and log.read_text() == "reloaded\n"
    assert not (state / "dns_records.json").exists()
    assert _run_module(args, capsys)["changed"] is False

    # The name server refuses the reload: the marker stays, and the next run reloads with no file to change.
    broken = {**args, "files": [{"path": str(zone), "content": "changed\n"}], "reload_command": ["false"]}
    failed = _run_module(broken, capsys)
    assert failed["failed"] and "stays pending" in failed["msg"]
    assert (state / "dns_records.json").exists()
    repaired = _run_module({**args, "files": [{"path": str(zone), "content": "changed\n"}]}, capsys)
    assert repaired["pending_from_earlier_run"] and repaired["reloaded"] == "reloaded"
    assert repaired["changed_paths"] == [] and not (state / "dns_records.json").exists()


def test_several_units_in_one_call_each_tested_and_reloaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, log = tmp_path / "state", tmp_path / "reloads"

    def unit(name: str, content: str, test: str = "true") -> dict[str, object]:
        return {"files": [{"path": str(tmp_path / f"{name}.conf"), "content": content}], "name": name,
                "test_command": ["sh", "-c", test], "reload_command": ["sh", "-c", f"echo {name} >> {log}"]}

    args = {"units": [unit("a", "a1\n"), unit("b", "b1\n")], "state_dir": str(state)}
    first = _run_module(args, capsys)
    assert first["changed"] and [u["name"] for u in first["units"]] == ["a", "b"]
    assert log.read_text() == "a\nb\n" and first["changed_paths"] == [str(tmp_path / "a.conf"), str(tmp_path / "b.conf")]
    again = _run_module(args, capsys)
    assert again["changed"] is False and [u["changed"] for u in again["units"]] == [False, False]
    assert log.read_text() == "a\nb\n"

    # The second unit's test fails: the first is applied and reloaded, the second put back, and the call fails
    # naming the unit.
    broken = {"units": [unit("a", "a2\n"), unit("b", "b2\n", test="grep -q b1 " + str(tmp_path / "b.conf"))],
              "state_dir": str(state)}
    failed = _run_module(broken, capsys)
    assert failed["failed"] and failed["msg"].startswith("units[1] (b): sh -c grep")
    assert "units before it were applied: a" in failed["msg"]
    assert (tmp_path / "a.conf").read_text() == "a2\n" and (tmp_path / "b.conf").read_text() == "b1\n"
    assert log.read_text() == "a\nb\na\n"


def test_units_and_unit_options_beside_them_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run_module({"units": [{"name": "a"}], "service": "nginx", "state_dir": str(tmp_path)}, capsys)
    assert result["failed"] and "not beside units (got service)" in result["msg"]
