#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Apply a daemon's files as one unit: check what must exist, write, test, restart durably, roll back on failure.

The shape of the shared ``config_apply`` (roles/shared/library): {files, test command, service}. ct_monitor
switches to it, and this file goes, once it also reloads systemd after a unit change, sets a directory's
owner and mode, and checks preconditions before any change (see docs/ct_monitor.md).
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ct_monitor_apply
short_description: Write a service's files, test them, restart the service durably, roll back on failure
description:
  - First checks O(requires) (paths that must exist, or the module fails with their message before anything
    changes) and O(programs) (when one is missing, nothing changes and RV(missing) lists it, so the caller can
    install the package and call again).
  - Then brings O(directories) and O(files) (content, mode, owner, group) to the declared state, runs
    O(test_command) against the result, and puts every file back as it was when the test fails.
  - When a file with O(files[].restart=true) changed, a marker is written on the host before the first file is
    replaced and removed only after O(service) restarted and stayed up, so a restart lost to a dead controller
    happens on the next run even though the files then look unchanged. systemd is reloaded when a file under
    C(/etc/systemd) changed or systemd says it needs it. The service is enabled and started when it is not.
  - With nothing to do this is one read-only call, the normal second run.
options:
  files:
    description: Files and their complete contents.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path on the host., type: path, required: true}
      content: {description: Complete file content., type: str, required: true}
      mode: {description: Octal mode as a string., type: str, default: "0644"}
      owner: {description: Owner (user name)., type: str, default: root}
      group: {description: Group (group name)., type: str, default: root}
      restart:
        description: Whether a change of this file needs a restart (the service reads it only at start).
        type: bool
        default: true
      diff:
        description: Whether diff mode may show this file's content (false for files that may hold a secret).
        type: bool
        default: true
  directories:
    description: Directories to create or correct (never removed).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: path, required: true}
      mode: {description: Octal mode as a string., type: str, default: "0755"}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
  requires:
    description: Paths that must exist before anything changes, each with the message to fail with.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The path., type: path, required: true}
      msg: {description: The failure message when it is missing., type: str, required: true}
  programs:
    description: Programs the service needs (absolute paths); when one is missing the module changes nothing.
    type: list
    elements: path
    default: []
  test_command:
    description: Command that tests the written files; exit status 0 means good. Empty for none.
    type: list
    elements: str
    default: []
  service:
    description: The systemd service to enable, start, and restart when a O(files[].restart) file changed.
    type: str
    required: true
  marker_dir:
    description: Directory of the "restart pending" markers.
    type: path
    default: /var/lib/bulwark/apply
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Apply the monitor's files and restart certspotter when they changed
  ct_monitor_apply:
    programs: [/usr/bin/certspotter]
    files:
      - path: /etc/certspotter/bulwark/watchlist
        content: "www.example.org\n"
        mode: "0640"
        group: _certspotter
    test_command: [/usr/local/libexec/bulwark/ct-monitor-hook, --check, /etc/certspotter/bulwark/ct_monitor.json]
    service: certspotter
"""

RETURN = r"""
missing:
  description: Programs of O(programs) that are not installed; nothing was changed when this is not empty.
  returned: always
  type: list
  elements: str
changed_paths:
  description: Directories and files created or changed.
  returned: always
  type: list
  elements: str
restarted:
  description: Whether the service was (or, in check mode, would be) restarted or started.
  returned: always
  type: bool
test_output:
  description: Output of the test command, when it ran.
  returned: when the test ran
  type: str
"""

import grp
import os
import pwd
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule


Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]


class ApplyError(Exception):
    """Something failed; the message says what and what state the host is in."""


@dataclass
class Saved:
    """A file as it was before this run: absent, or its bytes, mode and ownership."""

    path: str
    exists: bool
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass
class Plan:
    directories: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    diff: list[dict[str, str]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [d["path"] for d in self.directories] + [f["path"] for f in self.files]

    @property
    def needs_restart(self) -> bool:
        return any(f["restart"] for f in self.files)


def _ids(owner: str, group: str) -> tuple[int, int]:
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise ApplyError(f"user {owner!r} or group {group!r} does not exist on the host") from None


def _save(path: str) -> Saved:
    if not os.path.lexists(path):
        return Saved(path, False)
    if os.path.islink(path) or not os.path.isfile(path):
        raise ApplyError(f"{path} exists but is not a regular file")
    info = os.stat(path)
    with open(path, "rb") as handle:
        return Saved(path, True, handle.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _write(path: str, data: bytes, mode: int, uid: int, gid: int) -> None:
    """Replace ``path`` atomically: a temporary file beside it, fsynced, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".bulwark-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _restore(saved: Saved) -> None:
    if saved.exists:
        _write(saved.path, saved.data, saved.mode, saved.uid, saved.gid)
    elif os.path.lexists(saved.path):
        os.unlink(saved.path)


def plan(files: Sequence[dict[str, Any]], directories: Sequence[dict[str, Any]]) -> Plan:
    """Compare the declared files and directories with the host; change nothing."""
    todo = Plan()
    for entry in directories:
        mode = int(entry["mode"], 8)
        uid, gid = _ids(entry["owner"], entry["group"])
        path = entry["path"]
        if os.path.isdir(path):
            info = os.stat(path)
            if (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, uid, gid):
                continue
        todo.directories.append({"path": path, "mode": mode, "uid": uid, "gid": gid})
    for entry in files:
        data, mode = entry["content"].encode("utf-8"), int(entry["mode"], 8)
        uid, gid = _ids(entry["owner"], entry["group"])
        current = _save(entry["path"])
        if current.exists and (current.data, current.mode, current.uid, current.gid) == (data, mode, uid, gid):
            continue
        todo.files.append({"path": entry["path"], "data": data, "mode": mode, "uid": uid, "gid": gid,
                           "restart": entry["restart"]})
        shown = entry.get("diff", True)
        todo.diff.append({"before_header": entry["path"], "after_header": entry["path"],
                          "before": current.data.decode("utf-8", "replace") if shown else "(not shown)\n",
                          "after": entry["content"] if shown else "(not shown: it may hold a secret)\n"})
    return todo


def write_and_test(todo: Plan, test_command: Sequence[str], run: Runner) -> str:
    """Create the directories, write the files, run the test; on failure put every file back and raise."""
    if not todo.paths:
        return ""
    for entry in todo.directories:
        os.makedirs(entry["path"], exist_ok=True)
        os.chown(entry["path"], entry["uid"], entry["gid"])
        os.chmod(entry["path"], entry["mode"])
    saved: list[Saved] = []
    try:
        for entry in todo.files:
            saved.append(_save(entry["path"]))
            _write(entry["path"], entry["data"], entry["mode"], entry["uid"], entry["gid"])
        if not test_command:
            return ""
        rc, out, err = run(test_command)
    except OSError as exc:
        rc, out, err = 1, "", str(exc)
    output = "\n".join(part for part in (out.strip(), err.strip()) if part)
    if rc == 0:
        return output
    for item in reversed(saved):
        _restore(item)
    raise ApplyError(f"{' '.join(test_command)} rejected the new files, so the previous ones are back and the "
                     f"service was not restarted:\n{output}")


def service_state(service: str, run: Runner) -> dict[str, str]:
    """ActiveState, UnitFileState and NeedDaemonReload of ``service``, from one systemctl call."""
    rc, out, err = run(["systemctl", "show", service, "--property=ActiveState,UnitFileState,NeedDaemonReload"])
    if rc != 0:
        raise ApplyError(f"systemctl show {service} failed: {err.strip()}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def bring_up(service: str, restart: bool, daemon_reload: bool, state: dict[str, str], run: Runner,
             settle: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Reload systemd if needed, enable, (re)start; fail unless the service is still up ``settle`` s later."""
    steps = []
    if daemon_reload or state.get("NeedDaemonReload") == "yes":
        steps.append(["systemctl", "daemon-reload"])
    if state.get("UnitFileState") != "enabled":
        steps.append(["systemctl", "enable", service])
    started = restart or state.get("ActiveState") != "active"
    if started:
        steps.append(["systemctl", "restart", service])
    for argv in steps:
        rc, _out, err = run(argv)
        if rc != 0:
            raise ApplyError(f"{' '.join(argv)} failed: {err.strip()}")
    if started:
        sleep(settle)
        after = service_state(service, run)
        if after.get("ActiveState") != "active":
            _rc, log, _err = run(["journalctl", "-u", service, "-n", "20", "--no-pager", "-o", "cat"])
            raise ApplyError(f"{service} is {after.get('ActiveState')} after the restart; its journal says:\n{log}")
    return started


def apply(params: dict[str, Any], check_mode: bool, run: Runner,
          sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """The whole module, with the host's commands behind ``run``; returns the result or raises ApplyError."""
    for item in params["requires"]:
        if not os.path.exists(item["path"]):
            raise ApplyError(item["msg"])
    missing = [p for p in params["programs"] if not os.access(p, os.X_OK)]
    result: dict[str, Any] = {"changed": False, "missing": missing, "changed_paths": [], "restarted": False}
    if missing:
        return result
    todo = plan(params["files"], params["directories"])
    marker = os.path.join(params["marker_dir"], params["service"] + ".restart")
    pending = os.path.exists(marker)
    state = service_state(params["service"], run)
    restart = pending or todo.needs_restart
    up = state.get("ActiveState") == "active" and state.get("UnitFileState") == "enabled"
    result.update(changed_paths=todo.paths, diff=todo.diff)
    if not todo.paths and not restart and up and state.get("NeedDaemonReload") != "yes":
        return result
    result["changed"] = True
    result["restarted"] = restart or state.get("ActiveState") != "active"
    if check_mode:
        return result
    if restart and not pending:
        os.makedirs(params["marker_dir"], mode=0o755, exist_ok=True)
        with open(marker, "w", encoding="ascii") as handle:
            handle.write("restart pending: files changed that the service reads only at start\n")
    try:
        result["test_output"] = write_and_test(todo, params["test_command"], run)
    except ApplyError:
        if restart and not pending:
            os.unlink(marker)
        raise
    daemon_reload = any(f["path"].startswith("/etc/systemd/") for f in todo.files)
    bring_up(params["service"], restart, daemon_reload, state, run, sleep=sleep)
    if os.path.exists(marker):
        os.unlink(marker)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "content": {"type": "str", "required": True},
                "mode": {"type": "str", "default": "0644"},
                "owner": {"type": "str", "default": "root"},
                "group": {"type": "str", "default": "root"},
                "restart": {"type": "bool", "default": True},
                "diff": {"type": "bool", "default": True},
            }},
            "directories": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "mode": {"type": "str", "default": "0755"},
                "owner": {"type": "str", "default": "root"},
                "group": {"type": "str", "default": "root"},
            }},
            "requires": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "msg": {"type": "str", "required": True},
            }},
            "programs": {"type": "list", "elements": "path", "default": []},
            "test_command": {"type": "list", "elements": "str", "default": []},
            "service": {"type": "str", "required": True},
            "marker_dir": {"type": "path", "default": "/var/lib/bulwark/apply"},
        },
        supports_check_mode=True,
    )

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    try:
        result = apply(module.params, module.check_mode, run)
    except ApplyError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
