#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Change a web server's configuration files as one unit: write, test, and put everything back on failure."""

from __future__ import annotations

import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: tls_config_apply
short_description: Write configuration files, test the whole configuration, roll back on failure
description:
  - Brings files, symbolic links and removals to the declared state, then runs O(test_command) (for example
    C(nginx -t)) against the whole configuration. When the test fails, every change of this run is undone
    (previous contents, modes and links restored, new files removed), the test is run again to show the
    restored configuration is good, and the module fails with the test's output.
  - So the files on disk always pass the server's own test, and a reload, restart or reboot after a failed
    run still starts the previous configuration.
  - Nothing is changed (and the test is not run) when everything is already as declared; that is the
    normal second run.
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
  links:
    description: Symbolic links, as C(a2ensite) and C(a2enconf) make them.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The link., type: path, required: true}
      src: {description: What it points to (as written into the link)., type: str, required: true}
  absent:
    description: Paths (files or links) that must not exist, such as a distribution's default site.
    type: list
    elements: path
    default: []
  exclusive:
    description:
      - Glob patterns of files this caller owns, such as C(/etc/nginx/conf.d/bulwark-site-*.conf). A file that
        matches one and is not in O(files) or O(links) is removed, so a site dropped from the variables goes
        away too.
    type: list
    elements: str
    default: []
  directories:
    description: Directories to create (mode 0755) when missing; never removed.
    type: list
    elements: path
    default: []
  test_command:
    description: Command that tests the complete configuration; exit status 0 means good.
    type: list
    elements: str
    required: true
author: Bulwark maintainers
notes:
  - Supports check mode and diff mode.
  - Parent directories of O(files[].path) must exist (the server package creates them) unless listed in
    O(directories).
"""

EXAMPLES = r"""
- name: Write the nginx files and test them together
  tls_config_apply:
    files:
      - path: /etc/nginx/conf.d/bulwark-site-www.example.org.conf
        content: "{{ lookup('ansible.builtin.template', 'etc/nginx/conf.d/bulwark-site.conf.j2') }}"
    absent: [/etc/nginx/sites-enabled/default]
    test_command: [nginx, -t]
"""

RETURN = r"""
changed_paths:
  description: Paths written, linked or removed.
  returned: always
  type: list
  elements: str
test_output:
  description: Output of the test command, when it ran.
  returned: when the test ran
  type: str
"""

Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]


@dataclass
class Saved:
    """What a path was before this run changed it: absent, a link, or a file with its content and mode."""

    path: str
    kind: str  # "absent", "link", "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644


def _save(path: str) -> Saved:
    if os.path.islink(path):
        return Saved(path, "link", link=os.readlink(path))
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return Saved(path, "file", data=handle.read(), mode=stat.S_IMODE(os.stat(path).st_mode))
    if os.path.lexists(path):
        raise OSError(f"{path} exists but is neither a file nor a link")
    return Saved(path, "absent")


def _write(path: str, data: bytes, mode: int) -> None:
    """Replace ``path`` atomically (temporary file in the same directory, then rename)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bulwark-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        if os.path.islink(path):
            os.unlink(path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _remove(path: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)


def _restore(saved: Saved) -> None:
    if saved.kind == "absent":
        _remove(saved.path)
    elif saved.kind == "link":
        _remove(saved.path)
        os.symlink(saved.link, saved.path)
    else:
        _write(saved.path, saved.data, saved.mode)


@dataclass
class Plan:
    """The changes needed to reach the declared state, with the diff to show for them."""

    directories: list[str] = field(default_factory=list)
    writes: list[tuple[str, bytes, int]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    diff: list[dict[str, str]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return self.directories + [w[0] for w in self.writes] + [link[0] for link in self.links] + self.removals


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def plan(files: Sequence[dict[str, Any]], links: Sequence[dict[str, str]], absent: Sequence[str],
         directories: Sequence[str], exclusive: Sequence[str] = ()) -> Plan:
    """Compare the declared state with the host; nothing is changed."""
    result = Plan()
    declared = {entry["path"] for entry in files} | {entry["path"] for entry in links}
    owned = sorted({path for pattern in exclusive for path in glob.glob(pattern)} - declared)
    absent = list(dict.fromkeys([*absent, *owned]))
    result.directories = [d for d in directories if not os.path.isdir(d)]
    for entry in files:
        path, data, mode = entry["path"], entry["content"].encode("utf-8"), int(str(entry.get("mode") or "0644"), 8)
        current = _save(path)
        if current.kind == "file" and current.data == data and current.mode == mode:
            continue
        result.writes.append((path, data, mode))
        before = _text(current.data) if current.kind == "file" else (f"-> {current.link}\n" if current.link else "")
        result.diff.append({"before_header": path, "after_header": path, "before": before, "after": _text(data)})
    for entry in links:
        path, src = entry["path"], entry["src"]
        if os.path.islink(path) and os.readlink(path) == src:
            continue
        result.links.append((path, src))
        result.diff.append({"before_header": path, "after_header": path, "before": "", "after": f"-> {src}\n"})
    for path in absent:
        if os.path.lexists(path):
            result.removals.append(path)
            result.diff.append({"before_header": path, "after_header": "(absent)", "before": f"{path}\n", "after": ""})
    return result


class ApplyFailed(Exception):
    """The test command rejected the new configuration; the previous state is back in place."""

    def __init__(self, output: str, restored_ok: bool) -> None:
        super().__init__(output)
        self.output = output
        self.restored_ok = restored_ok


def apply(todo: Plan, test: Runner, test_command: Sequence[str]) -> str:
    """Carry out ``todo``, run the test; undo everything and raise ApplyFailed when it fails."""
    for directory in todo.directories:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    saved: list[Saved] = []
    try:
        for path, data, mode in todo.writes:
            saved.append(_save(path))
            _write(path, data, mode)
        for path, src in todo.links:
            saved.append(_save(path))
            _remove(path)
            os.symlink(src, path)
        for path in todo.removals:
            saved.append(_save(path))
            _remove(path)
        rc, out, err = test(test_command)
    except OSError as exc:
        rc, out, err = 1, "", f"{exc}"
    output = "\n".join(part for part in (out.strip(), err.strip()) if part)
    if rc == 0:
        return output
    for item in reversed(saved):
        _restore(item)
    restored_rc, _, _ = test(test_command)
    raise ApplyFailed(output, restored_rc == 0)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "content": {"type": "str", "required": True},
                "mode": {"type": "str", "default": "0644"},
            }},
            "links": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "src": {"type": "str", "required": True},
            }},
            "absent": {"type": "list", "elements": "path", "default": []},
            "exclusive": {"type": "list", "elements": "str", "default": []},
            "directories": {"type": "list", "elements": "path", "default": []},
            "test_command": {"type": "list", "elements": "str", "required": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    todo = plan(params["files"], params["links"], params["absent"], params["directories"], params["exclusive"])
    result: dict[str, Any] = {"changed": bool(todo.paths), "changed_paths": todo.paths}
    if module._diff and todo.diff:
        result["diff"] = todo.diff
    if not todo.paths or module.check_mode:
        module.exit_json(**result)
    if shutil.which(params["test_command"][0]) is None and not os.path.isabs(params["test_command"][0]):
        module.fail_json(msg=f"test_command: {params['test_command'][0]} not found on the host", **result)

    def test(argv: Sequence[str]) -> tuple[int, str, str]:
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    try:
        result["test_output"] = apply(todo, test, params["test_command"])
    except ApplyFailed as failed:
        state = "the previous files are back in place" if failed.restored_ok else \
            "the previous files are back in place, but the test fails on them too"
        module.fail_json(msg=f"{' '.join(params['test_command'])} rejected the new configuration; nothing was "
                             f"reloaded and {state}:\n{failed.output}",
                         test_output=failed.output, restored=True, **{**result, "changed": False})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
