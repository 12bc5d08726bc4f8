#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Change a daemon's configuration as one unit and make the daemon run it, durably.

The steps, all in one call so that a re-run with nothing to do costs one round trip:

1. Recover: if an earlier run died while swapping files (its journal says "writing"), put the files it had
   saved back, so the disk holds one consistent configuration again.
2. Plan: compare the declared files, links and removals with the host.
3. Apply: save what will change into the journal (on disk, before the first write), mark a reload as
   pending, swap the files in, run the test command; when the test fails, restore the saved files.
4. Sync: when a reload is pending (from this run or from an earlier one that died before its reload), or
   the service is not running, test once more, then reload (or start) it; enable it at boot; clear the
   marker only after the daemon accepted the configuration.

So a controller killed at any moment leaves either the old configuration or the new one on disk, and a
marker that makes the next run finish the job even when it has no file to change.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_apply
short_description: Write a daemon's configuration as one tested unit, then make the daemon run it, durably
description:
  - Brings files, symbolic links and removals to the declared state, then runs O(test_command) (for example
    C(nginx -t)) against the whole configuration. When the test fails, every change of this run is undone
    (previous contents, modes, owners and links restored, new files removed) and the module fails with the
    test's output.
  - With O(service), the daemon is then made to run what is on disk. Before the first file is replaced, a
    C(reload pending) marker and a journal of the previous files are written under O(state_dir). The marker is
    removed only after the reload (or start) succeeded. A later run finds a marker left by a run whose
    controller died, and reloads even when no file needs to change; a journal left in the middle of a swap is
    rolled back first, so the files on disk are always one whole configuration.
  - Nothing is changed (and the test is not run) when everything is already as declared, no reload is
    pending and the service runs; that is the normal second run, one call.
options:
  files: &files
    description: Files and their complete contents.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path on the host., type: path, required: true}
      content: {description: Complete file content., type: str, required: true}
      mode: {description: Octal mode as a string., type: str, default: "0644"}
      owner: {description: "Owner (name); default keeps the current owner, or root for a new file.", type: str}
      group: {description: "Group (name); default keeps the current group, or root for a new file.", type: str}
      diff:
        description: Show the content in diff mode; set false for files that must not be shown.
        type: bool
        default: true
  links: &links
    description: Symbolic links, as C(a2ensite) and C(a2enconf) make them.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The link., type: path, required: true}
      src: {description: What it points to (as written into the link)., type: str, required: true}
  absent: &absent
    description: Paths (files or links) that must not exist, such as a distribution's default site.
    type: list
    elements: path
    default: []
  exclusive: &exclusive
    description:
      - Glob patterns of files this caller owns, such as C(/etc/nginx/conf.d/bulwark-site-*.conf). A file that
        matches one and is not in O(files) or O(links) is removed, so a site dropped from the variables goes
        away too.
    type: list
    elements: str
    default: []
  directories: &directories
    description:
      - Directories to create when missing; never removed, and left as they are when the test fails.
      - A path (a string) is created with mode 0755 when missing, and an existing one is left as it is.
      - >-
        A mapping C({path, mode, owner, group}) also sets the directory's mode (octal string, default C("0755")),
        owner and group (names; default keeps the current ones, or root for a new directory), for example
        C({path: /var/log/app, mode: "2750", owner: app, group: adm}). Added after the first release; a list of
        paths means what it always did.
    type: list
    elements: raw
    default: []
  test_command: &test_command
    description:
      - Command that tests the complete configuration; exit status 0 means good. Empty means no test.
    type: list
    elements: str
    default: []
  candidate_dir: &candidate_dir
    description:
      - Test the new files before any live file changes, for daemons that re-read their files at any time
        (Postfix starts new processes that read C(main.cf) whenever it likes). The directory is copied to a
        temporary one, the declared changes under it are made in the copy, and O(test_command) runs with every
        C({dir}) in its arguments replaced by the copy (e.g. C([postfix, -c, "{dir}", check])). Only when it
        passes are the live files swapped and tested again, with C({dir}) replaced by O(candidate_dir) itself.
      - Empty tests in place only (write, test, restore on failure).
    type: path
    default: ""
  service: &service
    description:
      - The systemd unit that reads these files. After a change, or when an earlier run left a reload pending,
        it is reloaded (started when it does not run). Empty manages files only.
    type: str
    default: ""
  reload_command: &reload_command
    description:
      - Command that makes the running service read its configuration, for daemons whose own tool does it
        best (e.g. C([knotc, reload])). Default C(systemctl reload <service>), or C(restart) with O(restart).
      - Without O(service), run after a change (or a pending reload) when O(name) is set.
    type: list
    elements: str
    default: []
  restart: &restart
    description: Restart instead of reload (for daemons that cannot reload).
    type: bool
    default: false
  enabled: &enabled
    description: Start the service at boot. Null leaves it as it is.
    type: bool
  request_reload: &request_reload
    description:
      - Mark a reload as pending even when no file of O(files) changed, e.g. because another task replaced a
        certificate the service reads. The mark is durable like the others.
    type: bool
    default: false
  state_dir:
    description: Where the markers and journals are kept on the host.
    type: path
    default: /var/lib/bulwark/apply
  name: &name
    description:
      - Name of the marker, journal and lock under O(state_dir); default O(service). With a name and no O(service),
        O(reload_command) alone makes the daemon read the files (durably, like a reload), for a daemon the caller
        does not manage, such as a name server whose zones it writes. Added after the first release; callers
        that pass only O(service) are unchanged.
    type: str
    default: ""
  lock_timeout: &lock_timeout
    description:
      - Seconds to wait for another call for the same O(service) to finish. A controller that dies does not stop
        its module call on the host, so a repair run can start while the old call still writes or reloads; the
        calls take turns (C(<state_dir>/<name>.lock), which holds the process ID of the call that has it).
    type: int
    default: 300
  units:
    description:
      - Several units in one call, each with the options above (O(files) to O(lock_timeout)), applied in order
        as if by one call each (one lock, marker and journal per unit's O(name) or O(service)). Fewer round
        trips for a role that runs several daemons; a re-run with nothing to do is still one call.
      - A unit that fails stops the call; the units before it stay applied (each passed its own test and
        was reloaded). Not together with the options above outside the units.
    type: list
    elements: dict
    default: []
    suboptions:
      files: *files
      links: *links
      absent: *absent
      exclusive: *exclusive
      directories: *directories
      test_command: *test_command
      candidate_dir: *candidate_dir
      service: *service
      reload_command: *reload_command
      restart: *restart
      enabled: *enabled
      request_reload: *request_reload
      name: *name
      lock_timeout: *lock_timeout
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode and diff mode. In check mode a pending reload, a half-done swap (in RV(recovered)) or a
    stopped service is reported as a change.
  - What is and is not guaranteed under a dead controller and a reboot is in docs/reliability.md.
  - Parent directories of O(files[].path) must exist unless listed in O(directories).
  - When a changed path is a systemd unit or drop-in (under C(/etc/systemd/system), C(/run/systemd/system),
    C(/usr/local/lib/systemd/system), C(/usr/lib/systemd/system) or C(/lib/systemd/system)), systemd is told with
    C(systemctl daemon-reload) after the test passed and before the service is reloaded or restarted; also when
    a run that died before it left a reload pending and systemd says the unit needs it (RV(daemon_reloaded)).
"""

EXAMPLES = r"""
- name: Write the nginx files, test them together, reload nginx
  config_apply:
    files:
      - path: /etc/nginx/conf.d/bulwark-site-www.example.org.conf
        content: "{{ lookup('ansible.builtin.template', 'etc/nginx/conf.d/bulwark-site.conf.j2') }}"
    absent: [/etc/nginx/sites-enabled/default]
    test_command: [nginx, -t]
    service: nginx
    enabled: true

- name: Test Postfix's new main.cf on a copy of /etc/postfix before it goes live
  config_apply:
    files:
      - path: /etc/postfix/main.cf
        content: "{{ main_cf }}"
    candidate_dir: /etc/postfix
    test_command: [postfix, -c, "{dir}", check]
    service: postfix

- name: Two daemons in one call, each tested and reloaded on its own
  config_apply:
    units:
      - files: [{path: /etc/unbound/unbound.conf.d/local.conf, content: "{{ unbound_conf }}"}]
        test_command: [unbound-checkconf]
        service: unbound
      - files: [{path: /etc/postfix/main.cf, content: "{{ main_cf }}"}]
        candidate_dir: /etc/postfix
        test_command: [postfix, -c, "{dir}", check]
        service: postfix

- name: A certificate nginx reads was replaced; reload nginx (durably)
  config_apply:
    service: nginx
    test_command: [nginx, -t]
    request_reload: true

- name: A drop-in for a packaged unit and a log directory of the service's user; daemon-reload, then restart
  config_apply:
    directories:
      - /etc/systemd/system/certspotter.service.d
      - {path: /var/log/ct_monitor, mode: "2750", owner: _certspotter, group: adm}
    files:
      - path: /etc/systemd/system/certspotter.service.d/bulwark.conf
        content: "{{ lookup('ansible.builtin.template', 'bulwark.conf.j2') }}"
    service: certspotter
    restart: true
    enabled: true
"""

RETURN = r"""
changed_paths:
  description: Paths written, linked or removed.
  returned: always
  type: list
  elements: str
reloaded:
  description: How the service was made to read its configuration (C(reloaded), C(restarted), C(started)), or null.
  returned: always
  type: str
pending_from_earlier_run:
  description: Whether a run that died before its reload had left a marker (this run did the reload).
  returned: always
  type: bool
daemon_reloaded:
  description: Whether C(systemctl daemon-reload) ran because a unit file or drop-in changed.
  returned: always
  type: bool
recovered:
  description: Paths put back from the journal of a run that died while swapping files (in check mode, that would be).
  returned: always
  type: list
  elements: str
test_output:
  description: Output of the test command, when it ran.
  returned: when the test ran
  type: str
units:
  description: With O(units), each unit's own result (the keys above and C(name)), in order.
  returned: with O(units)
  type: list
  elements: dict
"""

import fcntl
import glob
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_files
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils import bulwark_files  # type: ignore[no-redef]


Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]

PHASE_WRITING = "writing"
PHASE_PENDING = "pending"


@dataclass
class Saved:
    """What a path was before this run changed it: absent, a link, or a file with its content and metadata."""

    path: str
    kind: str  # "absent", "link", "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def _save(path: str) -> Saved:
    if os.path.islink(path):
        return Saved(path, "link", link=os.readlink(path))
    if os.path.isfile(path):
        info = os.stat(path)
        with open(path, "rb") as handle:
            return Saved(path, "file", data=handle.read(), mode=stat.S_IMODE(info.st_mode), uid=info.st_uid,
                         gid=info.st_gid)
    if os.path.lexists(path):
        raise OSError(f"{path} exists but is neither a file nor a link")
    return Saved(path, "absent")


_fsync_dir = bulwark_files.fsync_dir
_write = bulwark_files.write_atomic


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
        _write(saved.path, saved.data, saved.mode, saved.uid, saved.gid)


@dataclass
class Plan:
    """The changes needed to reach the declared state, with the diff to show for them."""

    directories: list[str] = field(default_factory=list)
    writes: list[tuple[str, bytes, int, int, int]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    diff: list[dict[str, str]] = field(default_factory=list)
    # (mode, uid, gid) of the directories declared with them; a directory given as a path is not in here.
    directory_modes: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        return self.directories + [w[0] for w in self.writes] + [link[0] for link in self.links] + self.removals


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


IdLookup = Callable[[str, str], int]


def _lookup_id(kind: str, name: str) -> int:
    """uid of a user name or gid of a group name (a number is taken as it is)."""
    if name.isdigit():
        return int(name)
    import grp
    import pwd

    try:
        return pwd.getpwnam(name).pw_uid if kind == "owner" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise OSError(f"{kind} {name!r} does not exist on the host") from None


_DIRECTORY_KEYS = {"path", "mode", "owner", "group"}


def directory_entries(directories: Sequence[Any]) -> list[dict[str, str]]:
    """The ``directories`` option as ``{path[, mode, owner, group]}`` mappings (a string is a path alone).

    Raises ValueError naming the entry when one is neither; paths are expanded as Ansible expands ``path``
    options (``~``, environment variables)."""
    entries = []
    for index, entry in enumerate(directories):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or set(entry) - _DIRECTORY_KEYS \
                or not all(isinstance(entry[key], str) for key in entry):
            raise ValueError(f"directories[{index}] must be a path or a mapping of path, mode, owner and group "
                             f"(strings), got a {type(entry).__name__}"
                             + (f" with {', '.join(sorted(map(str, entry)))}" if isinstance(entry, dict) else ""))
        try:
            int(entry.get("mode") or "0755", 8)
        except ValueError:
            raise ValueError(f"directories[{index}].mode must be an octal mode such as 0750, got "
                             f"{entry['mode'][:12]!r}") from None
        if not os.path.isabs(entry["path"]):
            raise ValueError(f"directories[{index}].path must be an absolute path, got {entry['path'][:80]!r}")
        entries.append(dict(entry))
    return entries


def _plan_directories(result: Plan, directories: Sequence[Any], lookup_id: IdLookup) -> None:
    for entry in directory_entries(directories):
        path = entry["path"]
        exists = os.path.isdir(path)
        if set(entry) == {"path"}:  # a path alone: created when missing, else left as it is
            if not exists:
                result.directories.append(path)
            continue
        info = os.stat(path) if exists else None
        mode = int(entry.get("mode") or "0755", 8)
        uid = lookup_id("owner", entry["owner"]) if entry.get("owner") else (info.st_uid if info else 0)
        gid = lookup_id("group", entry["group"]) if entry.get("group") else (info.st_gid if info else 0)
        before = (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) if info else None
        if before == (mode, uid, gid):
            continue
        result.directories.append(path)
        result.directory_modes[path] = (mode, uid, gid)
        result.diff.append({"before_header": path, "after_header": path,
                            "before": f"directory {before[0]:04o} {before[1]}:{before[2]}\n" if before else "",
                            "after": f"directory {mode:04o} {uid}:{gid}\n"})


def plan(files: Sequence[dict[str, Any]], links: Sequence[dict[str, str]], absent: Sequence[str],
         directories: Sequence[Any], exclusive: Sequence[str] = (), lookup_id: IdLookup = _lookup_id) -> Plan:
    """Compare the declared state with the host; nothing is changed."""
    result = Plan()
    declared = {entry["path"] for entry in files} | {entry["path"] for entry in links}
    owned = sorted({path for pattern in exclusive for path in glob.glob(pattern)} - declared)
    absent = list(dict.fromkeys([*absent, *owned]))
    _plan_directories(result, directories, lookup_id)
    for entry in files:
        path, data = entry["path"], entry["content"].encode("utf-8")
        mode = int(str(entry.get("mode") or "0644"), 8)
        current = _save(path)
        uid = lookup_id("owner", entry["owner"]) if entry.get("owner") else (current.uid if current.kind == "file"
                                                                             else 0)
        gid = lookup_id("group", entry["group"]) if entry.get("group") else (current.gid if current.kind == "file"
                                                                             else 0)
        if current.kind == "file" and (current.data, current.mode, current.uid, current.gid) == (data, mode, uid, gid):
            continue
        result.writes.append((path, data, mode, uid, gid))
        if entry.get("diff", True):
            before = _text(current.data) if current.kind == "file" else (f"-> {current.link}\n" if current.link
                                                                         else "")
            after = _text(data)
        else:
            before, after = "(content not shown)\n" if current.kind == "file" else "", "(content not shown)\n"
        result.diff.append({"before_header": path, "after_header": path, "before": before, "after": after})
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


class Journal:
    """The durable state of one service's apply on the host: a marker and the saved previous files.

    ``<state_dir>/<service>.json`` holds ``{"phase": "writing"|"pending", "since": <epoch>, "saved": [...]}``;
    the saved file contents are in ``<state_dir>/<service>.saved/<n>``. "writing": files are being swapped (the
    saved ones are the consistent previous configuration); "pending": the files on disk passed the test and
    the daemon has not been made to read them yet.
    """

    def __init__(self, state_dir: str, name: str) -> None:
        self.state_dir = state_dir
        self.marker = os.path.join(state_dir, f"{name}.json")
        self.saved_dir = os.path.join(state_dir, f"{name}.saved")
        self.lock_path = os.path.join(state_dir, f"{name}.lock")
        self._lock_fd: int | None = None

    def lock(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Hold the service's lock for the rest of this process (released when it exits, even when killed).

        A controller that dies does not stop its module on the host: the next run may start while the old call
        still writes or reloads. Waits up to ``timeout`` seconds; False when the other call still holds it.
        """
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                # Who holds it, for an admin (and the fault test) to see.
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                sleep(0.2)

    def clean_left_overs(self) -> list[str]:
        """Remove what a run killed outside the journal's phases left: a saved copy without a marker (killed while
        saving), temporary files of the state directory. Returns the paths."""
        removed = []
        if os.path.isdir(self.saved_dir) and not os.path.exists(self.marker):
            shutil.rmtree(self.saved_dir, ignore_errors=True)
            removed.append(self.saved_dir)
        removed += remove_temp_files([self.state_dir])
        return removed

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.marker, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A marker cut short by a crash still means "not known to be loaded": treat it as pending.
            return {"phase": PHASE_PENDING, "saved": []}
        return data if isinstance(data, dict) else {"phase": PHASE_PENDING, "saved": []}

    def _write_marker(self, data: dict[str, Any]) -> None:
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        _write(self.marker, json.dumps(data, sort_keys=True).encode(), 0o600)

    def begin(self, saved: Sequence[Saved]) -> None:
        """Record the previous files durably, then mark the swap as under way."""
        shutil.rmtree(self.saved_dir, ignore_errors=True)
        os.makedirs(self.saved_dir, mode=0o700)
        entries = []
        for number, item in enumerate(saved):
            meta = asdict(item)
            del meta["data"]
            if item.kind == "file":
                _write(os.path.join(self.saved_dir, str(number)), item.data, 0o600)
            entries.append(meta)
        _fsync_dir(self.saved_dir)
        self._write_marker({"phase": PHASE_WRITING, "since": int(time.time()), "saved": entries})

    def mark_pending(self) -> None:
        current = self.read() or {}
        self._write_marker({"phase": PHASE_PENDING, "since": current.get("since", int(time.time())), "saved": []})
        shutil.rmtree(self.saved_dir, ignore_errors=True)

    def clear(self) -> None:
        _remove(self.marker)
        shutil.rmtree(self.saved_dir, ignore_errors=True)

    def saved(self) -> list[Saved]:
        items = []
        for number, meta in enumerate((self.read() or {}).get("saved", [])):
            data = b""
            if meta.get("kind") == "file":
                with open(os.path.join(self.saved_dir, str(number)), "rb") as handle:
                    data = handle.read()
            items.append(Saved(meta["path"], meta["kind"], data, meta.get("link", ""), meta.get("mode", 0o644),
                               meta.get("uid", 0), meta.get("gid", 0)))
        return items


def remove_temp_files(directories: Sequence[str]) -> list[str]:
    """Remove the temporary files of ``_write`` (``.bulwark-*.tmp``) that a host going down mid-write left."""
    removed = []
    for directory in dict.fromkeys(directories):
        for path in glob.glob(os.path.join(glob.escape(directory), ".bulwark-*.tmp")):
            _remove(path)
            removed.append(path)
    return removed


def recover(journal: Journal) -> list[str]:
    """Roll back a swap that an earlier run left half done; the reload stays pending. Returns the paths."""
    state = journal.read()
    if not state or state.get("phase") != PHASE_WRITING:
        return []
    saved = journal.saved()
    for item in reversed(saved):
        _restore(item)
    remove_temp_files([os.path.dirname(item.path) for item in saved])
    journal.mark_pending()
    return [item.path for item in saved]


CANDIDATE_PLACEHOLDER = "{dir}"


def _inside(path: str, directory: str) -> str | None:
    """``path`` relative to ``directory`` when it lies inside it, else None."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(directory))
    return None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def with_dir(argv: Sequence[str], directory: str) -> list[str]:
    """``argv`` with every ``{dir}`` replaced by ``directory``."""
    return [arg.replace(CANDIDATE_PLACEHOLDER, directory) for arg in argv]


def test_candidate(todo: Plan, candidate_dir: str, test: Runner, test_command: Sequence[str]) -> tuple[int, str]:
    """Run ``test_command`` on a copy of ``candidate_dir`` holding the planned changes; nothing live is touched.

    Returns the exit status and the output (with the copy's path shown as ``candidate_dir``).
    """
    with tempfile.TemporaryDirectory(prefix="bulwark-candidate-") as tmp:
        copy = os.path.join(tmp, os.path.basename(os.path.normpath(candidate_dir)) or "candidate")
        shutil.copytree(candidate_dir, copy, symlinks=True)
        for path, data, mode, _uid, _gid in todo.writes:
            rel = _inside(path, candidate_dir)
            if rel is not None:
                os.makedirs(os.path.dirname(os.path.join(copy, rel)), exist_ok=True)
                _write(os.path.join(copy, rel), data, mode)
        for path, src in todo.links:
            rel = _inside(path, candidate_dir)
            if rel is not None:
                _remove(os.path.join(copy, rel))
                os.symlink(src, os.path.join(copy, rel))
        for path in todo.removals:
            rel = _inside(path, candidate_dir)
            if rel is not None:
                _remove(os.path.join(copy, rel))
        rc, out, err = test(with_dir(test_command, copy))
    output = "\n".join(part for part in (out.strip(), err.strip()) if part)
    return rc, output.replace(copy, candidate_dir)


def apply(todo: Plan, test: Runner, test_command: Sequence[str], journal: Journal | None = None) -> str:
    """Carry out ``todo``, run the test; undo everything and raise ApplyFailed when it fails.

    With a ``journal``, the previous files are saved to disk before the first write and a reload is left
    pending when the test passes.
    """
    for directory in todo.directories:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        if directory in todo.directory_modes:
            mode, uid, gid = todo.directory_modes[directory]
            os.chown(directory, uid, gid)
            os.chmod(directory, mode)  # after chown, which may clear the set-group-ID bit
    saved = [_save(write[0]) for write in todo.writes] + [_save(link[0]) for link in todo.links] + \
        [_save(path) for path in todo.removals]
    earlier = journal.read() if journal else None
    if journal:
        journal.begin(saved)
    try:
        for path, data, mode, uid, gid in todo.writes:
            _write(path, data, mode, uid, gid)
        for path, src in todo.links:
            _remove(path)
            os.symlink(src, path)
        for path in todo.removals:
            _remove(path)
        rc, out, err = test(test_command) if test_command else (0, "", "")
    except OSError as exc:
        rc, out, err = 1, "", f"{exc}"
    output = "\n".join(part for part in (out.strip(), err.strip()) if part)
    if rc == 0:
        if journal:
            journal.mark_pending()
        return output
    for item in reversed(saved):
        _restore(item)
    restored_rc = test(test_command)[0] if test_command else 0
    if journal:
        # The previous files are back. A reload an earlier run left pending still is (for those files).
        if earlier:
            journal.mark_pending()
        else:
            journal.clear()
    raise ApplyFailed(output, restored_rc == 0)


@dataclass
class ServiceState:
    active: bool
    enabled: bool


def service_state(run: Runner, service: str) -> ServiceState:
    active = run(["systemctl", "is-active", service])[1]
    enabled = run(["systemctl", "is-enabled", service])[1]
    return ServiceState(active.strip() in ("active", "reloading"), enabled.strip() == "enabled")


def sync_service(run: Runner, service: str, state: ServiceState, reload_command: Sequence[str], restart: bool,
                 read_config: bool, enabled: bool | None) -> str | None:
    """Make ``service`` read its configuration when ``read_config`` (reload, restart, or start it; a stopped
    service is always started), and make it start at boot or not as ``enabled`` says (None: leave it)."""
    how = None
    argv: list[str] = []
    if not state.active:
        argv, how = ["systemctl", "start", service], "started"
    elif read_config and reload_command:
        argv, how = list(reload_command), "reloaded"
    elif read_config:
        argv, how = ["systemctl", "restart" if restart else "reload", service], "restarted" if restart else "reloaded"
    if argv:
        rc, out, err = run(argv)
        if rc != 0:
            raise RuntimeError(f"`{' '.join(argv)}` failed (exit {rc}): {(err or out).strip()}")
    if enabled is not None and enabled != state.enabled:
        verb = "enable" if enabled else "disable"
        rc, out, err = run(["systemctl", verb, service])
        if rc != 0:
            raise RuntimeError(f"`systemctl {verb} {service}` failed (exit {rc}): {(err or out).strip()}")
    return how


class UnitFailed(Exception):
    """One unit could not be applied; ``result`` is what to report (with ``failed``)."""

    def __init__(self, msg: str, result: dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


def apply_unit(p: dict[str, Any], run: Runner, check_mode: bool, diff: bool) -> dict[str, Any]:
    """Everything one unit asks for (the module's options, or one entry of ``units``): its result, or UnitFailed."""
    live_test = with_dir(p["test_command"], p["candidate_dir"]) if p["candidate_dir"] else p["test_command"]
    name = p["name"] or p["service"]
    journal = Journal(p["state_dir"], name) if name else None
    result: dict[str, Any] = {"name": name, "changed": False, "changed_paths": [], "reloaded": None,
                              "pending_from_earlier_run": False, "recovered": [], "daemon_reloaded": False}

    def fail(msg: str, **extra: Any) -> UnitFailed:
        return UnitFailed(msg, {**result, **extra})

    if p["test_command"] and shutil.which(p["test_command"][0]) is None and not os.path.isabs(p["test_command"][0]):
        raise fail(f"test_command: {p['test_command'][0]} not found on the host")
    try:
        if journal and not check_mode:
            if not journal.lock(p["lock_timeout"]):
                raise fail(f"another config_apply for {name} still runs on the host (a run whose controller died?) "
                           f"after {p['lock_timeout']}s: {journal.lock_path}")
            journal.clean_left_overs()
            result["recovered"] = recover(journal)
        elif journal and (journal.read() or {}).get("phase") == PHASE_WRITING:
            # Check mode: a real run would first put these back (the diff below compares with the swapped files).
            result["recovered"] = [item.path for item in journal.saved()]
        earlier = journal.read() if journal else None
        result["pending_from_earlier_run"] = bool(earlier)
        todo = plan(p["files"], p["links"], p["absent"], p["directories"], p["exclusive"])
    except (OSError, ValueError) as exc:
        raise fail(f"config_apply: {exc}") from None
    result["changed_paths"] = todo.paths
    if diff and todo.diff:
        result["diff"] = todo.diff
    state = service_state(run, p["service"]) if p["service"] else None
    read_config = bool(todo.paths or earlier or p["request_reload"])
    # Without a service, the reload command alone makes the daemon read the files (e.g. a zone reload).
    command_only = bool(journal and not p["service"] and p["reload_command"])
    needs_sync = (bool(state) and (read_config or not state.active
                                   or (p["enabled"] is not None and p["enabled"] != state.enabled))) \
        or (command_only and read_config)
    result["changed"] = bool(todo.paths) or needs_sync or bool(result["recovered"])
    if check_mode:
        return result

    tested = False
    if todo.paths and p["candidate_dir"] and p["test_command"]:
        try:
            rc, output = test_candidate(todo, p["candidate_dir"], run, p["test_command"])
        except OSError as exc:
            rc, output = 1, f"{exc}"
        if rc != 0:
            raise fail(f"{' '.join(live_test)} rejected the new configuration, tested on a copy of "
                       f"{p['candidate_dir']}; no live file was changed:\n{output}", test_output=output, changed=False)
    if todo.paths:
        try:
            result["test_output"] = apply(todo, run, live_test, journal)
            tested = True
        except ApplyFailed as failed:
            state_text = "the previous files are back in place" if failed.restored_ok else \
                "the previous files are back in place, but the test fails on them too"
            raise fail(f"{' '.join(live_test)} rejected the new configuration; nothing was reloaded and "
                       f"{state_text}:\n{failed.output}", test_output=failed.output, restored=True,
                       changed=False) from None
        except OSError as exc:
            raise fail(f"config_apply: {exc}") from None

    # systemd reads units only when told: before the service is restarted with them.
    try:
        result["daemon_reloaded"] = reload_units(run, todo.paths, p["service"], bool(earlier))
    except RuntimeError as exc:
        raise fail(f"{exc}; the reload stays pending for the next run") from None
    if journal and needs_sync:
        if p["request_reload"] and not journal.read():
            journal.mark_pending()
        if live_test and not tested and (read_config or not (state and state.active)):
            rc, out, err = run(live_test)
            if rc != 0:
                raise fail(f"{' '.join(live_test)} rejects the configuration on disk, so {name} was not reloaded; "
                           f"the reload stays pending:\n{(out + err).strip()}")
        try:
            if state:
                result["reloaded"] = sync_service(run, p["service"], state, p["reload_command"], p["restart"],
                                                  read_config, p["enabled"])
            else:
                rc, out, err = run(p["reload_command"])
                if rc != 0:
                    raise RuntimeError(f"`{' '.join(p['reload_command'])}` failed (exit {rc}): {(err or out).strip()}")
                result["reloaded"] = "reloaded"
        except RuntimeError as exc:
            raise fail(f"{exc}; the reload stays pending for the next run") from None
        journal.clear()
    elif journal and not state and not command_only:
        journal.clear()  # files only: nothing to reload, the journal only guarded the swap
    return result


def combine(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The module's result for several units: each unit's in ``units``, the rest summed up."""
    combined: dict[str, Any] = {
        "changed": any(r["changed"] for r in results),
        "changed_paths": [path for r in results for path in r["changed_paths"]],
        "reloaded": next((r["reloaded"] for r in results if r["reloaded"]), None),
        "pending_from_earlier_run": any(r["pending_from_earlier_run"] for r in results),
        "recovered": [path for r in results for path in r["recovered"]],
        "units": [{k: v for k, v in r.items() if k != "diff"} for r in results],
    }
    diffs = [d for r in results for d in r.get("diff", [])]
    if diffs:
        combined["diff"] = diffs
    outputs = [r["test_output"] for r in results if "test_output" in r]
    if outputs:
        combined["test_output"] = "\n".join(outputs)
    return combined


UNIT_OPTIONS: dict[str, Any] = {
    "files": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "path", "required": True},
        "content": {"type": "str", "required": True},
        "mode": {"type": "str", "default": "0644"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "diff": {"type": "bool", "default": True},
    }},
    "links": {"type": "list", "elements": "dict", "default": [], "options": {
        "path": {"type": "path", "required": True},
        "src": {"type": "str", "required": True},
    }},
    "absent": {"type": "list", "elements": "path", "default": []},
    "exclusive": {"type": "list", "elements": "str", "default": []},
    "directories": {"type": "list", "elements": "raw", "default": []},
    "test_command": {"type": "list", "elements": "str", "default": []},
    "candidate_dir": {"type": "path", "default": ""},
    "service": {"type": "str", "default": ""},
    "reload_command": {"type": "list", "elements": "str", "default": []},
    "restart": {"type": "bool", "default": False},
    "enabled": {"type": "bool"},
    "request_reload": {"type": "bool", "default": False},
    "name": {"type": "str", "default": ""},
    "lock_timeout": {"type": "int", "default": 300},
}


# Where systemd reads units and their drop-ins (system manager); a change there needs `systemctl daemon-reload`.
UNIT_DIRS = ("/etc/systemd/system/", "/run/systemd/system/", "/usr/local/lib/systemd/system/",
             "/usr/lib/systemd/system/", "/lib/systemd/system/")


def unit_paths(paths: Sequence[str]) -> list[str]:
    """The paths among ``paths`` that are systemd units, drop-ins or their directories."""
    return [path for path in paths if os.path.normpath(path).startswith(UNIT_DIRS)]


def reload_units(run: Runner, changed: Sequence[str], service: str, pending: bool) -> bool:
    """``systemctl daemon-reload`` when a unit or drop-in is among ``changed``, or, for a reload left ``pending`` by
    a run that died before it, when systemd says ``service``'s unit changed on disk. Returns whether it ran."""
    needed = bool(unit_paths(changed))
    if not needed and pending and service:
        needed = run(["systemctl", "show", "--property=NeedDaemonReload", "--value", service])[1].strip() == "yes"
    if needed:
        rc, out, err = run(["systemctl", "daemon-reload"])
        if rc != 0:
            raise RuntimeError(f"`systemctl daemon-reload` failed (exit {rc}): {(err or out).strip()}")
    return needed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **UNIT_OPTIONS,
            "units": {"type": "list", "elements": "dict", "default": [], "options": UNIT_OPTIONS},
            "state_dir": {"type": "path", "default": "/var/lib/bulwark/apply"},
        },
        supports_check_mode=True,
    )
    p = module.params
    given = sorted(key for key, spec in UNIT_OPTIONS.items() if p[key] != spec.get("default"))
    if p["units"] and given:
        module.fail_json(msg=f"units: give the units' options inside each unit, not beside units (got {', '.join(given)})")

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    units = [{**unit, "state_dir": p["state_dir"]} for unit in p["units"]] or [p]
    results: list[dict[str, Any]] = []
    for number, unit in enumerate(units):
        try:
            results.append(apply_unit(unit, run, module.check_mode, module._diff))
        except UnitFailed as failed:
            if not p["units"]:
                module.fail_json(msg=failed.msg, **failed.result)
            done = combine(results + [failed.result])
            module.fail_json(msg=f"units[{number}] ({failed.result['name'] or 'files only'}): {failed.msg}"
                                 + (f"\n(units before it were applied: {', '.join(r['name'] or 'files only' for r in results)})"
                                    if results else ""), **done)
    if p["units"]:
        module.exit_json(**combine(results))
    result = results[0]
    del result["name"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
