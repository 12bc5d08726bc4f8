"""Unit tests for roles/tls_common/library/tls_config_apply.py: write, test, and roll back as one unit."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest


from tls_config_apply import ApplyFailed, apply, plan


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
    todo = plan(files, [], [], [])
    assert todo.paths == [str(etc / "conf.d" / "tls.conf")]
    apply(todo, FakeTest(0), ["true"])
    assert (etc / "conf.d" / "tls.conf").stat().st_mode & 0o777 == 0o644
