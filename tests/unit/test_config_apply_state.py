"""config_apply_probe and config_apply_todo: a re-run skips config_apply only when the look shows nothing to do."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from config_apply_state import config_apply_present, config_apply_probe, config_apply_todo

MAIN_CF = "myhostname = mx.example.org\n"
UNIT = {
    "files": [{"path": "/etc/postfix/main.cf", "content": MAIN_CF}],
    "directories": ["/etc/ansible/facts.d"],
    "service": "postfix",
    "enabled": True,
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def look(*extra: str, sums: dict[str, str] | None = None, mode: str = "644", active: str = "active",
         enabled: str = "enabled") -> str:
    lines = [f"P|{mode}|root|root|regular file|/etc/postfix/main.cf", "P|755|root|root|directory|/etc/ansible/facts.d"]
    lines += [f"{digest}  {path}" for path, digest in (sums if sums is not None else {"/etc/postfix/main.cf": sha(MAIN_CF)}).items()]
    lines += ["S|postfix", f"A|{active}", f"E|{enabled}"]
    return "\n".join(lines + list(extra))


def test_nothing_to_do_when_files_services_and_markers_match() -> None:
    assert config_apply_todo([UNIT], look()) == []
    assert config_apply_todo(UNIT, look()) == []


@pytest.mark.parametrize("output, reason", [
    (look(sums={"/etc/postfix/main.cf": sha("other\n")}), "main.cf content"),
    (look(sums={}), "main.cf content"),
    (look(mode="600"), "mode or owner"),
    (look(active="inactive"), "not running"),
    (look(active="failed"), "not running"),
    (look(enabled="disabled"), "enabled at boot"),
    (look("M|postfix"), "pending"),
    (look("M|?"), "cannot be read"),
    ("", "content"),
])
def test_anything_that_differs_or_is_unknown_is_something_to_do(output: str, reason: str) -> None:
    todo = config_apply_todo([UNIT], output)
    assert todo and any(reason in line for line in todo), todo


def test_a_missing_directory_a_link_a_removal_or_a_requested_reload_leaves_it_to_config_apply() -> None:
    assert config_apply_todo([{**UNIT, "directories": ["/etc/nowhere"]}], look())
    for option in ({"links": [{"path": "/a", "src": "/b"}]}, {"absent": ["/etc/x"]}, {"exclusive": ["/etc/*.conf"]},
                   {"request_reload": True}):
        assert config_apply_todo([{**UNIT, **option}], look()), option


def test_directory_modes_and_owners_when_declared() -> None:
    unit = {"directories": [{"path": "/etc/ansible/facts.d", "mode": "0755", "owner": "root"}]}
    assert config_apply_todo([unit], look()) == []
    assert config_apply_todo([{"directories": [{"path": "/etc/ansible/facts.d", "mode": "2750"}]}], look())
    assert config_apply_todo([{"directories": [{"path": "/etc/ansible/facts.d", "owner": "_app"}]}], look())


def test_file_owner_and_an_empty_file() -> None:
    assert config_apply_todo([{"files": [{**UNIT["files"][0], "owner": "postfix"}]}], look())
    empty = {"files": [{"path": "/etc/e", "content": ""}]}
    assert config_apply_todo([empty], f"P|644|root|root|regular empty file|/etc/e\n{sha('')}  /etc/e") == []


def test_a_marker_of_another_unit_and_enabled_left_alone() -> None:
    assert config_apply_todo([{**UNIT, "enabled": None}], look("M|dovecot", enabled="disabled")) == []


def test_bad_units_are_refused() -> None:
    with pytest.raises(AnsibleFilterError):
        config_apply_todo("postfix", "")
    with pytest.raises(AnsibleFilterError):
        config_apply_probe("/etc/a")
    assert "relative" not in config_apply_probe(["relative/path", "", "/etc/a"])[2]


def test_the_probe_reads_this_machine(tmp_path) -> None:
    file, directory = tmp_path / "it's a file.conf", tmp_path / "dir"
    file.write_text(MAIN_CF)
    directory.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    (state / "app.json").write_text("{}")
    argv = config_apply_probe([str(file), str(directory), str(tmp_path / "missing")], [], ["app", "other"],
                              state_dir=str(state))
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    unit = {"name": "app", "files": [{"path": str(file), "content": MAIN_CF, "mode": f"{file.stat().st_mode & 0o777:o}"}],
            "directories": [str(directory)]}
    assert config_apply_todo([unit], out) == ["app: a reload is pending from an earlier run"]
    (state / "app.json").unlink()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert config_apply_todo([unit], out) == []
    assert config_apply_todo([{**unit, "files": [{"path": str(tmp_path / "missing"), "content": ""}]}], out)


def test_present_lists_every_path_the_probe_found() -> None:
    output = look("P|777|root|root|symbolic link|/usr/sbin/sendmail")
    assert config_apply_present(output) == ["/etc/postfix/main.cf", "/etc/ansible/facts.d", "/usr/sbin/sendmail"]
    assert config_apply_present("") == []


def test_the_script_alone_for_raw_and_crlf_output() -> None:
    script = config_apply_probe(["/etc/a"], ["app"], ["app"], script=True)
    assert isinstance(script, str) and script == config_apply_probe(["/etc/a"], ["app"], ["app"])[2]
    assert config_apply_todo([UNIT], look().replace("\n", "\r\n") + "\r\n") == []


def test_several_services_answer_in_order_and_a_missing_answer_is_not_trusted() -> None:
    units = [{"service": "unbound", "enabled": True}, {"service": "postfix", "enabled": True}]
    both = "S|unbound\nS|postfix\nA|active\nA|active\n"
    assert config_apply_todo(units, both + "E|enabled\nE|enabled") == []
    assert config_apply_todo(units, both + "E|disabled\nE|enabled") == ["unbound: unbound enabled at boot or not"]
    # is-enabled printed one line for two units: which one is unknown, so both count as something to do.
    assert len(config_apply_todo(units, both + "E|enabled")) == 2
