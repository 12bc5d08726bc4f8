# -*- coding: utf-8 -*-
"""Which roles a site.yml run can skip on a host, decided from the stamps the hosts hold (bulwark_stamp).

A step of the site (stamps_steps) is a role run on the hosts of a group. It is skipped on a host only when all
of these hold:
- its stamp on the host is fresh (bulwark_stamp: the host still holds what the last converge left, nothing timed
  fell due, no reload pending);
- the stamp was written with the inputs the role would run with now (stamps_inputs: the role's variables, the
  variables it reads from other groups, the host's groups and address, and Bulwark's own code);
- no earlier step runs on the same host in this run (an earlier role may change what a later one reads);
- for a step that reads what roles serve on other hosts (upstream: dns_records, ct_monitor), every such host was
  checked in this run, none of those roles runs on it now, and their stamps are the ones it last ran with.
Anything unknown (a host not checked, a stamp missing or unreadable) means: run.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

_CODE_DIGEST: dict[str, str] = {}


def code_digest(start: Path | None = None) -> str:
    """Digest of Bulwark's roles and plugins as installed (the directory that holds ``roles/``), once per process:
    a new release or any local change to a role makes every stamp stale."""
    here = (start or Path(__file__)).resolve()
    top = next((parent for parent in here.parents if (parent / "roles").is_dir()), None)
    key = str(top)
    if key not in _CODE_DIGEST:
        sha = hashlib.sha256()
        for sub in ("roles", "plugins"):
            base = top / sub if top else None
            if base is None or not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    sha.update(str(path.relative_to(top)).encode() + b"\0" + path.read_bytes() + b"\0")
        _CODE_DIGEST[key] = sha.hexdigest()
    return _CODE_DIGEST[key]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _selected(host_vars: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    chosen = {}
    for name in sorted(host_vars):
        if name.startswith("__") or not any(name.startswith(prefix) for prefix in prefixes):
            continue
        try:
            chosen[name] = _plain(host_vars[name])
        except Exception as exc:  # an undefined or failing template is an input like any other value
            chosen[name] = f"<{type(exc).__name__}>"
    return chosen


class _Vars:
    """hostvars, each host's variables worked out once (every hostvars[host] asks the variable manager anew)."""

    def __init__(self, hostvars: Mapping[str, Any]) -> None:
        self.hostvars, self.cache = hostvars, {}

    def __call__(self, host: str) -> Mapping[str, Any] | None:
        if host not in self.cache:
            try:
                self.cache[host] = self.hostvars[host]
            except KeyError:
                self.cache[host] = None
        return self.cache[host]


def _inputs(steps: Sequence[Mapping[str, Any]], hostvars: _Vars, host: str,
            groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    own = hostvars(host) or {}
    result: dict[str, str] = {}
    for step in steps:
        role = step["role"]
        if role in result or host not in groups.get(step.get("group", ""), []):
            continue
        data: dict[str, Any] = {
            "code": code_digest(),
            "host": {"address": _plain(own.get("ansible_host", host)), "port": _plain(own.get("ansible_port")),
                     "connection": _plain(own.get("ansible_connection")),
                     "groups": sorted(own.get("group_names", []))},
            "vars": _selected(own, step.get("prefixes", [])),
            "reads": {},
        }
        for group, prefixes in sorted((step.get("reads") or {}).items()):
            for other in sorted(groups.get(group, [])):
                data["reads"][f"{group}/{other}"] = _selected(hostvars(other) or {}, prefixes)
        result[role] = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return result


def _steps(steps: Any, name: str) -> Sequence[Mapping[str, Any]]:
    if isinstance(steps, str) or not isinstance(steps, Sequence) or \
            not all(isinstance(s, Mapping) and s.get("role") and s.get("name") for s in steps):
        raise AnsibleFilterError(f"{name}: stamps_steps must be a list of steps, each with a name and a role; "
                                 f"got {steps!r}")
    return steps


def stamps_inputs(steps: Sequence[Mapping[str, Any]], hostvars: Mapping[str, Any], host: str,
                  groups: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """By role, the digest of what the role would run with on ``host`` now."""
    return _inputs(_steps(steps, "stamps_inputs"), _Vars(hostvars), host, groups)


def _upstream(steps: Sequence[Mapping[str, Any]], states: Any, step: Mapping[str, Any],
              groups: Mapping[str, Sequence[str]]) -> str | None:
    items = []
    for role in sorted(set(step.get("upstream") or [])):
        for source in (s for s in steps if s["role"] == role and not s.get("again")):
            for host in sorted(groups.get(source.get("group", ""), [])):
                state = states(host)
                if state is None:
                    return None
                stamp = (state.get("stamps") or {}).get(role) or {}
                items.append([host, role, stamp.get("id", "")])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def stamps_upstream(steps: Sequence[Mapping[str, Any]], hostvars: Mapping[str, Any], step: str,
                    groups: Mapping[str, Sequence[str]]) -> str | None:
    """Digest of the stamps a step reads (its ``upstream`` roles on every host of their groups), from each host's
    ``stamps_state``; None when one of those hosts has none (not checked in this run)."""
    steps = _steps(steps, "stamps_upstream")
    chosen = next((s for s in steps if s["name"] == step), None)
    if chosen is None:
        raise AnsibleFilterError(f"stamps_upstream: no step named {step!r} in stamps_steps")
    found = _Vars(hostvars)

    def states(host: str) -> Mapping[str, Any] | None:
        state = (found(host) or {}).get("stamps_state")
        return state if isinstance(state, Mapping) else None
    return _upstream(steps, states, chosen, groups)


def plan(steps: Sequence[Mapping[str, Any]], states: Mapping[str, Mapping[str, Any]],
         groups: Mapping[str, Sequence[str]], enabled: bool = True) -> dict[str, list[str]]:
    """By host in ``states`` (each ``{stamps, inputs}``), the names of the steps that run there."""
    runs: dict[tuple[str, str], bool] = {}
    ran_on: set[str] = set()
    for step in steps:
        name = step["name"]
        for member in groups.get(step.get("group", ""), []):
            state = states.get(member)
            stamp = ((state or {}).get("stamps") or {}).get(step["role"]) or {}
            fresh = (bool(enabled) and state is not None and stamp.get("fresh") is True
                     and stamp.get("inputs") == (state.get("inputs") or {}).get(step["role"])
                     and member not in ran_on)
            if fresh and step.get("upstream"):
                readers = [s for s in steps if s["role"] in step["upstream"] and not s.get("again")]
                fresh = (not any(runs.get((m, s["name"])) for s in readers for m in groups.get(s.get("group", ""), []))
                         and stamp.get("upstream") == _upstream(steps, states.get, step, groups))
            runs[(member, name)] = not fresh
            if not fresh and step.get("chain", True):
                ran_on.add(member)
    return {host: [s["name"] for s in steps if runs.get((host, s["name"]))] for host in states}


def stamps_decide(steps: Sequence[Mapping[str, Any]], hostvars: Mapping[str, Any], hosts: Sequence[str],
                  groups: Mapping[str, Sequence[str]], enabled: bool = True,
                  registered: str = "__stamps_check") -> dict[str, dict[str, Any]]:
    """For every host of ``hosts`` (those whose stamps were read in this run, each in its registered variable
    ``registered``): ``{stamps, inputs, run}`` - the stamps as read, the digest of each role's inputs now
    (stamps_inputs) and the names of the steps this run converges there."""
    steps = _steps(steps, "stamps_decide")
    found = _Vars(hostvars)
    states: dict[str, dict[str, Any]] = {}
    for host in hosts:
        checked = (found(host) or {}).get(registered) or {}
        states[host] = {"stamps": dict(checked.get("stamps") or {}) if isinstance(checked, Mapping) else {},
                        "inputs": _inputs(steps, found, host, groups)}
    runs = plan(steps, states, groups, enabled)
    return {host: {**states[host], "run": runs[host]} for host in states}


def _epoch(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AnsibleFilterError(f"stamps_merge: expires must hold epoch seconds or ISO 8601 times, got {value!r}") \
            from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _paths(entries: Any) -> set[str]:
    found: set[str] = set()
    for entry in entries or []:
        if isinstance(entry, Mapping):  # a certificate entry: {cert, key, chain, ...}
            found |= {str(v) for v in entry.values() if isinstance(v, str) and v.startswith("/")}
        elif entry:
            found.add(str(entry))
    return found


def stamps_merge(parts: Any, roles: Sequence[str]) -> dict[str, Any] | None:
    """The stamp of a step from what its roles published in ``stamps_converged`` (``{role: part}``), or None when
    the first of ``roles`` published nothing (it did not finish, or had nothing to serve).

    A part is ``{paths, services, probes, expires, until}``: paths (strings, or certificate entries whose path
    values count), systemd units, read-only commands whose output is part of the result (argument vectors), times
    after which the role must look again (epoch seconds or ISO 8601, e.g. certificates' expiry), and until (0: no
    time; -1: look again on every run). Paths, units and probes are joined; the earliest time wins; -1 from any
    part wins."""
    if not isinstance(parts, Mapping) or not roles or not isinstance(parts.get(roles[0]), Mapping):
        return None
    chosen = [parts[role] for role in roles if isinstance(parts.get(role), Mapping)]
    untils: list[float] = []
    for part in chosen:
        untils += [t for t in (_epoch(v) for v in part.get("expires") or []) if t is not None]
        if part.get("until"):
            untils.append(float(part["until"]))
    due = -1.0 if any(u < 0 for u in untils) else min(untils, default=0.0)
    probes: list[list[str]] = []
    for part in chosen:
        for argv in part.get("probes") or []:
            if [str(a) for a in argv] not in probes:
                probes.append([str(a) for a in argv])
    return {"paths": sorted(set().union(*(_paths(p.get("paths")) for p in chosen))),
            "services": sorted({str(x) for p in chosen for x in p.get("services") or [] if x}), "probes": probes,
            "until": due}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"stamps_inputs": stamps_inputs, "stamps_decide": stamps_decide, "stamps_upstream": stamps_upstream,
                "stamps_merge": stamps_merge}
