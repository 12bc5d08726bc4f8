#!/usr/bin/python
# -*- coding: utf-8 -*-
"""What the last converge of each role left on the host, and whether the host still holds exactly that."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bulwark_stamp
short_description: Record what a role's converge left on the host, and tell whether the host still holds it
description:
  - A stamp is a small file (O(dir)/<role>.json, mode 0600) written after a role converged the host with no
    failure - the digest of the inputs the role ran with (computed on the controller, see the stamps_inputs
    filter), the digest of what it depends on elsewhere (O(upstream)), the digest of the host's state the role
    leaves - the content, mode and owner of every file under O(paths), the state of O(services), the package
    database and the output of O(probes) - and the moment after which the role must look again (O(until)).
  - V(check) reads every stamp of the host and works out its state digest again from the host as it is now. A stamp
    is fresh only when that digest is the recorded one (no file changed, appeared or went, no service stopped or
    was disabled, no package changed), its O(until) has not passed and no reload is left pending by config_apply
    (O(apply_dir)). It decides from the host alone, so a run that died half-way leaves stale stamps, never
    fresh ones, and the next run converges again.
  - V(write) records a stamp. Nothing secret is returned or recorded, files are reduced to digests.
  - Supports check mode; V(write) writes nothing in check mode.
options:
  state:
    description: V(check) reads every stamp, V(write) records the stamp of O(role).
    type: str
    default: check
    choices: [check, write]
  dir:
    description: Where the stamps are kept.
    type: path
    default: /var/lib/bulwark/stamps
  apply_dir:
    description: Where config_apply keeps its markers; a marker (C(*.json)) there makes every stamp stale.
    type: path
    default: /var/lib/bulwark/apply
  role:
    description: The role (or step) the stamp is for; required with V(write).
    type: str
  inputs:
    description: Digest of the inputs the role ran with.
    type: str
    default: ""
  upstream:
    description: Digest of what the role read from other hosts (their stamps' ids).
    type: str
    default: ""
  paths:
    description: Files and directories (walked) whose content, mode and owner the role's result is.
    type: list
    elements: path
    default: []
  services:
    description: systemd units whose active and enabled state is part of the result.
    type: list
    elements: str
    default: []
  probes:
    description:
      - Read-only commands (argument vectors, no shell) whose exit code and output are part of the result, for state
        that is in no file, such as firewalld's runtime zone read over D-Bus with C(busctl).
    type: list
    elements: list
    default: []
  until:
    description: Epoch seconds after which the stamp is stale (a renewal falls due); V(0) never, V(-1) at once
      (the role must run every time).
    type: float
    default: 0
author: Bulwark maintainers (@bulwark)
"""

EXAMPLES = r"""
- name: Read every stamp of the host
  bulwark_stamp:
  register: stamps

- name: Record nginx_tls's converge
  bulwark_stamp:
    state: write
    role: nginx_tls
    inputs: "{{ digest }}"
    paths: [/etc/nginx, /etc/ssl/www.crt]
    services: [nginx]
"""

RETURN = r"""
stamps:
  description:
    - By role, V(check) - C(fresh), C(reason) (why not), C(id) (digest of the whole stamp), C(inputs) and
      C(upstream) as recorded. With V(write), the one stamp written.
  returned: always
  type: dict
"""

import glob
import hashlib
import json
import os
import stat
import subprocess
import time
from typing import Any, Callable, Iterable, Sequence

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_files
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils import bulwark_files  # type: ignore[no-redef]

Run = Callable[[list[str]], tuple[int, str]]
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages")
VERSION = 1


def _file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


def _entry(path: str) -> str:
    """One line for one path: type, mode, owner and content digest (or link target)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"{path} missing"
    meta = f"{stat.S_IMODE(info.st_mode):o} {info.st_uid}:{info.st_gid}"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} link {os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return f"{path} dir {meta}"
    if stat.S_ISREG(info.st_mode):
        return f"{path} file {meta} {_file_digest(path)}"
    return f"{path} other {meta}"


def walk(paths: Iterable[str]) -> list[str]:
    """The entries of every path, directories walked (sorted, links not followed)."""
    lines: list[str] = []
    for top in sorted(set(paths)):
        lines.append(_entry(top))
        if os.path.isdir(top) and not os.path.islink(top):
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
                    lines.append(_entry(os.path.join(root, name)))
                for name in dirs:
                    if not os.path.islink(os.path.join(root, name)):
                        lines.append(_entry(os.path.join(root, name)))
    return lines


def service_lines(services: Iterable[str], run: Run) -> list[str]:
    """``unit ActiveState UnitFileState`` of every unit, from one systemctl call."""
    units = sorted(set(services))
    if not units:
        return []
    _rc, out = run(["systemctl", "show", "--property=Id,ActiveState,UnitFileState", "--", *units])
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
              for block in out.strip().split("\n\n")] if out.strip() else []
    lines = []
    for unit, block in zip(units, blocks + [{}] * (len(units) - len(blocks))):
        lines.append(f"{unit} {block.get('ActiveState', 'unknown')} {block.get('UnitFileState', 'unknown')}")
    return lines


def probe_lines(probes: Iterable[Sequence[str]], run: Run) -> list[str]:
    """One line per command: its argument vector, exit code and the digest of what it printed."""
    lines = []
    for argv in probes:
        argv = [str(arg) for arg in argv]
        rc, out = run(argv)
        lines.append(f"{json.dumps(argv)} {rc} {hashlib.sha256(out.encode()).hexdigest()}")
    return lines


def state_digest(paths: Iterable[str], services: Iterable[str], run: Run,
                 databases: Iterable[str] = PACKAGE_DATABASES, probes: Iterable[Sequence[str]] = ()) -> str:
    lines = walk(paths) + service_lines(services, run) + probe_lines(probes, run)
    lines += [_entry(db) for db in databases if os.path.exists(db)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def stamp_id(stamp: dict[str, Any]) -> str:
    fields = {k: stamp.get(k) for k in ("version", "role", "inputs", "upstream", "state", "until")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def pending(apply_dir: str) -> list[str]:
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(apply_dir, "*.json")))


def check(directory: str, apply_dir: str, run: Run, now: float) -> dict[str, Any]:
    stamps: dict[str, Any] = {}
    markers = pending(apply_dir)
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        role = os.path.basename(path)[:-len(".json")]
        try:
            with open(path, encoding="utf-8") as handle:
                stamp = json.load(handle)
            if not isinstance(stamp, dict) or stamp.get("version") != VERSION:
                raise ValueError("unknown format")
        except (OSError, ValueError) as exc:
            stamps[role] = {"fresh": False, "reason": f"unreadable stamp ({exc})", "id": "", "inputs": "",
                            "upstream": ""}
            continue
        reason = ""
        until = float(stamp.get("until") or 0)
        if markers:
            reason = f"a reload is left pending ({', '.join(markers)})"
        elif until < 0:
            reason = "the role asked to run every time"
        elif until and now >= until:
            reason = "a renewal or other timed step fell due"
        elif state_digest(stamp.get("paths", []), stamp.get("services", []), run,
                          probes=stamp.get("probes", [])) != stamp.get("state"):
            reason = "the host changed since the last converge (a file, a service or a package)"
        stamps[role] = {"fresh": not reason, "reason": reason, "id": stamp_id(stamp),
                        "inputs": stamp.get("inputs", ""), "upstream": stamp.get("upstream", "")}
    return stamps


def make(role: str, inputs: str, upstream: str, paths: list[str], services: list[str], until: float,
         run: Run, probes: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    probes = [[str(arg) for arg in argv] for argv in probes]
    return {"version": VERSION, "role": role, "inputs": inputs, "upstream": upstream, "paths": sorted(set(paths)),
            "services": sorted(set(services)), "probes": probes, "until": until,
            "state": state_digest(paths, services, run, probes=probes)}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "default": "check", "choices": ["check", "write"]},
            "dir": {"type": "path", "default": "/var/lib/bulwark/stamps"},
            "apply_dir": {"type": "path", "default": "/var/lib/bulwark/apply"},
            "role": {"type": "str"},
            "inputs": {"type": "str", "default": ""},
            "upstream": {"type": "str", "default": ""},
            "paths": {"type": "list", "elements": "path", "default": []},
            "services": {"type": "list", "elements": "str", "default": []},
            "probes": {"type": "list", "elements": "list", "default": []},
            "until": {"type": "float", "default": 0},
        },
        required_if=[("state", "write", ["role"])],
        supports_check_mode=True,
    )
    p = module.params

    def run(argv: list[str]) -> tuple[int, str]:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError as exc:  # a program that is not there is a state like any other
            return -1, f"cannot run: {exc.strerror}"
        return proc.returncode, proc.stdout

    if p["state"] == "check":
        module.exit_json(changed=False, stamps=check(p["dir"], p["apply_dir"], run, time.time()))
    stamp = make(p["role"], p["inputs"], p["upstream"], p["paths"], p["services"], p["until"], run, p["probes"])
    data = (json.dumps(stamp, sort_keys=True, indent=1) + "\n").encode()
    path = os.path.join(p["dir"], f"{p['role']}.json")
    try:
        with open(path, "rb") as handle:
            changed = handle.read() != data
    except FileNotFoundError:
        changed = True
    if changed and not module.check_mode:
        os.makedirs(p["dir"], mode=0o700, exist_ok=True)
        bulwark_files.write_atomic(path, data, 0o600)
    module.exit_json(changed=changed, stamps={p["role"]: {"fresh": True, "reason": "", "id": stamp_id(stamp),
                                                          "inputs": p["inputs"], "upstream": p["upstream"]}})


if __name__ == "__main__":
    main()
