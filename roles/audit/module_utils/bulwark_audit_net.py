# -*- coding: utf-8 -*-
"""Firewall checks: the TCP (and declared UDP) ports nmap sees from the probe, against firewalld_ports.

A TCP port that answers (open: a listener; closed: a reset, so the firewall let the probe through) and
is not declared is a fail; a declared port that nmap sees filtered is a fail. Ports declared with
``sources`` are open only to those networks, so from elsewhere they are expected filtered.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check

_PORT_RE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?/(tcp|udp|sctp|dccp)$")


def declared_ports(entries: list[Any]) -> dict[str, dict[int, str]]:
    """firewalld_ports -> {proto: {port: "open" | "sources"}} (ranges expanded)."""
    ports: dict[str, dict[int, str]] = {}
    for entry in entries or []:
        spec, how = (entry, "open") if isinstance(entry, str) else (entry.get("port", ""), "sources")
        match = _PORT_RE.match(str(spec).strip())
        if not match:
            raise ValueError(f"firewalld_ports: {spec!r} is not PORT/PROTO or LOW-HIGH/PROTO")
        low, high, proto = int(match.group(1)), int(match.group(2) or match.group(1)), match.group(3)
        for port in range(low, high + 1):
            # A port open to everyone stays so even when another entry restricts it.
            if ports.setdefault(proto, {}).get(port) != "open":
                ports[proto][port] = how
    return ports


def _expand(ranges: str) -> list[int]:
    result: list[int] = []
    for part in ranges.split(","):
        part = part.strip()
        if not part:
            continue
        low, _dash, high = part.partition("-")
        result.extend(range(int(low), int(high or low) + 1))
    return result


def parse_nmap_xml(text: str) -> dict[str, Any]:
    """nmap -oX output -> {"tcp": {port: state}, "udp": {...}, "collapsed": {proto: {state: count}}}."""
    root = ET.fromstring(text)
    states: dict[str, dict[int, str]] = {"tcp": {}, "udp": {}}
    collapsed: dict[str, dict[str, int]] = {"tcp": {}, "udp": {}}
    host = root.find("host")
    if host is None:
        return {"tcp": {}, "udp": {}, "collapsed": collapsed, "up": False}
    ports = host.find("ports")
    for port in (ports.findall("port") if ports is not None else []):
        state = port.find("state")
        states.setdefault(port.get("protocol", "tcp"), {})[int(port.get("portid", "0"))] = \
            state.get("state", "unknown") if state is not None else "unknown"
    for extra in (ports.findall("extraports") if ports is not None else []):
        state = extra.get("state", "")
        for reason in extra.findall("extrareasons"):
            proto = reason.get("proto", "tcp")
            listed = reason.get("ports")
            if listed and state != "filtered":
                for number in _expand(listed):
                    states.setdefault(proto, {})[number] = state
            else:
                collapsed.setdefault(proto, {})[state] = \
                    collapsed.setdefault(proto, {}).get(state, 0) + int(reason.get("count", "0"))
    return {"tcp": states["tcp"], "udp": states["udp"], "collapsed": collapsed, "up": True}


def _scan(ctx: Context, service: dict[str, Any]) -> dict[str, Any]:
    declared = declared_ports(service.get("declared", []))
    udp = sorted(declared.get("udp", {}))
    ports = f"T:{ctx.options.get('scan_ports', '1-65535')}" + (f",U:{','.join(map(str, udp))}" if udp else "")
    argv = ["nmap", "-Pn", "-n", "-T4", "--max-retries", "1", "--min-rate", str(ctx.options.get("scan_rate", 10000)),
            "-p", ports, "-oX", "-"]
    if udp:
        argv += ["-sS", "-sU"]
    if ":" in service["address"]:
        argv.append("-6")
    argv.append(service["address"])
    # Two tries: nmap reads every interface and route when it starts, and a network that vanishes meanwhile
    # (another container's bridge) fails the run.
    for _attempt in range(2):
        proc = ctx.run(argv, timeout=float(ctx.options.get("scan_timeout", 300)))
        if proc.returncode == 0 and "<nmaprun" in proc.stdout:
            break
    if proc.returncode != 0 or "<nmaprun" not in proc.stdout:
        raise RuntimeError(f"nmap exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-300:]}")
    seen = parse_nmap_xml(proc.stdout)
    seen["argv"] = " ".join(argv)
    seen["declared"] = declared
    return seen


def _seen(ctx: Context, service: dict[str, Any]) -> dict[str, Any]:
    return ctx.evidence(("nmap", service["address"]), lambda: _scan(ctx, service))


def _fmt(ports: list[int]) -> str:
    return ", ".join(map(str, ports[:40])) + (f" and {len(ports) - 40} more" if len(ports) > 40 else "")


@check("firewall", "undeclared-ports", needs=("nmap",), title="No undeclared TCP port answers")
def check_undeclared(ctx: Context, service: dict[str, Any]) -> Any:
    """Every TCP port that answers (open, or closed: the firewall let the probe through) is declared."""
    seen = _seen(ctx, service)
    declared = seen["declared"].get("tcp", {})
    answering = sorted(p for p, state in seen["tcp"].items() if state in ("open", "closed", "unfiltered"))
    extra = [p for p in answering if p not in declared]
    open_ports = [p for p in answering if seen["tcp"][p] == "open"]
    scanned = f"nmap TCP {ctx.options.get('scan_ports', '1-65535')} on {service['address']}"
    unlisted = {state: count for state, count in seen["collapsed"].get("tcp", {}).items() if state != "filtered"}
    details = [f"command: {seen['argv']}", f"open: {_fmt(open_ports) or 'none'}",
               f"declared: {_fmt(sorted(declared)) or 'none'}"]
    if extra:
        states = ", ".join(f"{p} ({seen['tcp'][p]})" for p in extra[:40])
        return ctx.finding(service, "undeclared-ports", "fail",
                           f"{scanned}: undeclared TCP ports answer: {states}", variable="firewalld_ports",
                           details=details)
    if unlisted:
        return ctx.finding(service, "undeclared-ports", "fail",
                           f"{scanned}: {', '.join(f'{n} {s}' for s, n in unlisted.items())} ports that nmap did "
                           "not list answer (the firewall lets them through)", variable="firewalld_ports",
                           details=details)
    return ctx.finding(service, "undeclared-ports", "pass",
                       f"{scanned}: only declared ports answer (open: {_fmt(open_ports) or 'none'})", details=details)


def _declared_states(ctx: Context, service: dict[str, Any], proto: str, unseen: str
                     ) -> tuple[dict[int, str], dict[int, str]]:
    """The declared ports of ``proto`` and the state nmap saw for each (``unseen`` when nmap listed none)."""
    seen = _seen(ctx, service)
    declared = seen["declared"].get(proto, {})
    return declared, {p: seen[proto].get(p, unseen) for p in sorted(declared)}


def connect_state(address: str, port: int, timeout: float) -> str:
    """open (accepted), closed (refused) or filtered (no answer, unreachable) for one TCP connection."""
    try:
        with socket.create_connection((address, port), timeout=min(timeout, 5.0)):
            return "open"
    except ConnectionRefusedError:
        return "closed"
    except OSError:
        return "filtered"


@check("firewall", "declared-ports", needs=("nmap",), title="Declared TCP ports are not filtered")
def check_declared(ctx: Context, service: dict[str, Any]) -> Any:
    """Every TCP port declared open to everyone is reachable (filtered is a fail; closed: nothing listens)."""
    declared, states = _declared_states(ctx, service, "tcp", unseen="filtered")
    if not declared:
        return ctx.finding(service, "declared-ports", "n/a", "no TCP port declared")
    # A fast scan of 65535 ports can lose probes on a busy network or probe: a declared port nmap saw filtered
    # gets one plain TCP connection before it is called filtered.
    confirmed = {p: connect_state(service["address"], p, float(ctx.options.get("timeout", 5)))
                 for p, s in states.items() if s == "filtered" and declared[p] == "open"}
    states = {**states, **confirmed}
    lines = [f"{p}/tcp: {states[p]}" + (" (declared with sources)" if declared[p] == "sources" else "")
             + (" (nmap: filtered; a TCP connection decided)" if p in confirmed else "") for p in states]
    filtered = [p for p, s in states.items() if s == "filtered" and declared[p] == "open"]
    closed = [p for p, s in states.items() if s == "closed" and declared[p] == "open"]
    if filtered:
        return ctx.finding(service, "declared-ports", "fail",
                           f"declared in firewalld_ports but filtered from the probe: {_fmt(filtered)}",
                           variable="firewalld_ports", details=lines)
    if closed:
        return ctx.finding(service, "declared-ports", "warn",
                           f"declared and let through, but nothing listens: {_fmt(closed)}", details=lines)
    return ctx.finding(service, "declared-ports", "pass", "; ".join(lines))


@check("firewall", "udp-ports", needs=("nmap",), title="Declared UDP ports answer")
def check_udp(ctx: Context, service: dict[str, Any]) -> Any:
    """Declared UDP ports answer (UDP is scanned on the declared ports only: silence proves nothing)."""
    declared, states = _declared_states(ctx, service, "udp", unseen="open|filtered")
    if not declared:
        return ctx.finding(service, "udp-ports", "n/a", "no UDP port declared; undeclared UDP ports are not scanned")
    text = ", ".join(f"{p}/udp: {s}" for p, s in states.items())
    if all(s == "open" for s in states.values()):
        return ctx.finding(service, "udp-ports", "pass", text)
    if any(s == "filtered" for p, s in states.items() if declared[p] == "open"):
        return ctx.finding(service, "udp-ports", "fail", f"declared but filtered: {text}", variable="firewalld_ports")
    return ctx.finding(service, "udp-ports", "n/a",
                       f"{text}: a UDP service that stays silent to nmap's probe cannot be told from a filtered port")
