"""Whether a config_apply call would do anything, answered from one read-only look the role makes anyway.

A re-run with nothing to change should cost one module call per host per role. A role that must look at the
host first (tls_inspect, a find) adds ``config_apply_probe`` to that look and calls config_apply only when
``config_apply_todo`` names something to do. The answer errs one way only: anything the look does not show
(a path it did not stat, links, removals, a state directory it cannot read) counts as "something to do", so
config_apply itself decides; it never skips a write, a pending reload or a stopped service.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Any

from ansible.errors import AnsibleFilterError

STATE_DIR = "/var/lib/bulwark/apply"
_SHA_LINE = re.compile(r"^\\?([0-9a-f]{64}) [ *](.+)$")


def _unit_list(units: Any) -> list[dict[str, Any]]:
    if isinstance(units, dict):
        units = [units]
    if not isinstance(units, list) or not all(isinstance(unit, dict) for unit in units):
        raise AnsibleFilterError("config_apply_todo: expected a config_apply unit (a mapping) or a list of them")
    return units


def _names(unit: dict[str, Any]) -> str:
    return str(unit.get("name") or unit.get("service") or "")


def config_apply_probe(paths: list[str], services: list[str] | None = None, names: list[str] | None = None,
                       state_dir: str = STATE_DIR, script: bool = False) -> list[str] | str:
    """The argv of one read-only shell command: stat and SHA-256 of ``paths``, is-active/is-enabled of
    ``services``, and which of ``names`` have a config_apply marker (a reload pending, a swap half done).
    With ``script``, the shell script alone, for ``ansible.builtin.raw`` (no Python on the host: the
    cheapest round trip there is)."""
    if not isinstance(paths, list):
        raise AnsibleFilterError("config_apply_probe: paths must be a list of absolute paths")
    # Anything else is not looked at, so it counts as something to do; the role's own checks name a bad path.
    paths = [path for path in paths if isinstance(path, str) and path.startswith("/")]
    services, names = list(services or []), list(names or [])
    quoted = " ".join(shlex.quote(path) for path in paths)
    lines = [f"stat -c 'P|%a|%U|%G|%F|%n' -- {quoted} 2>/dev/null", f"sha256sum -- {quoted} 2>/dev/null"] if paths \
        else []
    if services:
        # One systemctl per question: a line per unit, in order (a unit that is-enabled cannot answer for prints
        # no line, and then no answer is trusted).
        units = " ".join(shlex.quote(service) for service in services)
        lines += [f"printf 'S|%s\\n' {units}", f"printf 'A|%s\\n' $(systemctl is-active {units})",
                  f"printf 'E|%s\\n' $(systemctl is-enabled {units} 2>/dev/null)"]
    if names:
        directory = shlex.quote(state_dir)
        # A state directory this user cannot search hides the markers: say so, so nothing is skipped.
        lines.append(f"if [ -d {directory} ] && ! [ -x {directory} ]; then echo 'M|?'; fi")
        lines += [f"if [ -e {shlex.quote(f'{state_dir}/{name}.json')} ]; then echo {shlex.quote(f'M|{name}')}; fi"
                  for name in names]
    lines.append("true")
    return "\n".join(lines) if script else ["sh", "-c", "\n".join(lines)]


def _parse(output: str) -> tuple[dict[str, list[str]], dict[str, str], dict[str, list[str]], set[str]]:
    stats: dict[str, list[str]] = {}
    sums: dict[str, str] = {}
    services: dict[str, list[str]] = {}
    markers: set[str] = set()
    answers: dict[str, list[str]] = {"S": [], "A": [], "E": []}
    for line in str(output or "").splitlines():
        if line.startswith("P|"):
            fields = line.split("|", 5)
            if len(fields) == 6:
                stats[fields[5]] = fields[1:5]
        elif line[:2] in ("S|", "A|", "E|"):
            answers[line[0]].append(line[2:])
        elif line.startswith("M|"):
            markers.add(line[2:])
        elif match := _SHA_LINE.match(line):
            sums[match.group(2)] = match.group(1)
    for index, name in enumerate(answers["S"]):
        services[name] = [answers[key][index] if len(answers[key]) == len(answers["S"]) else "" for key in "AE"]
    return stats, sums, services, markers


def _mode(value: Any, default: str) -> int | None:
    try:
        return int(str(value or default), 8)
    except ValueError:
        return None


def config_apply_todo(units: Any, output: str) -> list[str]:
    """What config_apply would do for ``units`` (its ``units`` option, or one unit's options), given the output
    of the ``config_apply_probe`` command; an empty list when nothing (then the call can be skipped)."""
    stats, sums, services, markers = _parse(output)
    todo: list[str] = []
    if "?" in markers:
        todo.append("the config_apply state directory cannot be read")
    for unit in _unit_list(units):
        label = _names(unit) or "files"
        if unit.get("links") or unit.get("absent") or unit.get("exclusive") or unit.get("request_reload"):
            todo.append(f"{label}: links, removals or a requested reload (config_apply decides)")
        if _names(unit) and _names(unit) in markers:
            todo.append(f"{label}: a reload is pending from an earlier run")
        for entry in unit.get("directories") or []:
            entry = {"path": entry} if isinstance(entry, str) else dict(entry)
            seen = stats.get(entry.get("path", ""))
            if not seen or seen[3] != "directory":
                todo.append(f"{label}: directory {entry.get('path')} missing")
            elif set(entry) != {"path"} and (
                    _mode(seen[0], "0") != _mode(entry.get("mode"), "0755")
                    or entry.get("owner") and entry["owner"] != seen[1]
                    or entry.get("group") and entry["group"] != seen[2]):
                todo.append(f"{label}: directory {entry['path']} mode or owner")
        for entry in unit.get("files") or []:
            path = entry.get("path", "")
            seen = stats.get(path)
            digest = hashlib.sha256(str(entry.get("content", "")).encode("utf-8")).hexdigest()
            if not seen or seen[3] not in ("regular file", "regular empty file") or sums.get(path) != digest:
                todo.append(f"{label}: {path} content")
            elif _mode(seen[0], "0") != _mode(entry.get("mode"), "0644") \
                    or entry.get("owner") and entry["owner"] != seen[1] \
                    or entry.get("group") and entry["group"] != seen[2]:
                todo.append(f"{label}: {path} mode or owner")
        service = unit.get("service")
        if service:
            active, enabled = services.get(service, ["", ""])
            if active not in ("active", "reloading"):
                todo.append(f"{label}: {service} is not running")
            if unit.get("enabled") is not None and (enabled == "enabled") != bool(unit["enabled"]):
                todo.append(f"{label}: {service} enabled at boot or not")
    return todo


def config_apply_present(output: str) -> list[str]:
    """The paths the ``config_apply_probe`` command found (any type: file, directory, link), in its order; a look
    that must also tell whether a program is installed puts the program's path among the probe's paths."""
    return list(_parse(output)[0])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"config_apply_probe": config_apply_probe, "config_apply_todo": config_apply_todo,
                "config_apply_present": config_apply_present}
