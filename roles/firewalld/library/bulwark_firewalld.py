#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Make one firewalld zone open exactly the declared ports, in stages that cannot lock the admin out.

The pure logic (parsing and validating port specs, the SSH lockout check, the difference between
the zone's state and the declared one, the rollback script) is kept apart from the I/O (firewalld's
D-Bus bindings, systemd), so it is unit-tested without firewalld: tests/unit/test_bulwark_firewalld.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bulwark_firewalld
short_description: Make a firewalld zone open exactly the declared ports, runtime first, then permanent
description:
  - Validates I(ports) (C(PORT/PROTO), C(LOW-HIGH/PROTO), or a mapping with C(port) and C(sources)) and
    fails naming every bad entry before anything changes.
  - Refuses ports that would close the port of the controller's own SSH connection (I(ssh_port)), unless
    the controller's address (I(ssh_client)) is among the sources allowed to reach it.
  - Makes I(zone) hold exactly the declared ports, no services, no protocols, no source ports, no forward
    ports, and exactly the rich rules that implement the per-source ports.
  - Binds I(interfaces) (by default those carrying the host's IPv4 and IPv6 default routes) to I(zone)
    when they would otherwise be filtered by another zone.
  - Works in stages so the caller can prove the runtime configuration before it becomes permanent.
    C(plan) only reads; C(prepare) makes the host safe to install and start firewalld on; C(runtime)
    starts firewalld if needed and changes the runtime configuration, leaving a rollback script
    (optionally run by a timer); C(permanent) writes the permanent configuration, but only while the
    runtime still matches the declaration, removes the rollback script and timer, records the rules as
    proven and enables firewalld at boot.
  - Decides from the host's state, never from what an earlier task did, so a run whose controller died at
    any point is finished by the next one. firewalld starts (at boot, by D-Bus activation, from a package's
    scripts) only once its permanent rules are proven, or when the C(runtime) stage starts it with the
    declared rules, because a systemd drop-in (C(/etc/systemd/system/firewalld.service.d/bulwark-proven.conf))
    makes the start conditional on the proof marker (C(/var/lib/bulwark/firewalld/proven.json)).
  - All reads and writes go through firewalld's Python D-Bus bindings (one call per zone and
    configuration), so a run with nothing to change costs a few D-Bus round trips.
version_added: "1.0.0"
author: Bulwark maintainers (@bulwark)
options:
  zone:
    description: The firewalld zone to manage. It must exist already.
    type: str
    default: public
  ports:
    description:
      - The ports the zone opens. Each entry is C(PORT/PROTO) or C(LOW-HIGH/PROTO) with PROTO one of
        C(tcp), C(udp), C(sctp), C(dccp), or a mapping with keys C(port) (C(PORT/PROTO)) and C(sources) (a
        list of CIDRs) that opens the port only to those IPv4 or IPv6 networks.
    type: list
    elements: raw
    required: true
  ports_variable:
    description: The name error messages use for I(ports), so they point at the variable the user edits.
    type: str
    default: ports
  interfaces:
    description:
      - Interfaces whose traffic the zone must filter. Empty means the interfaces that carry the host's
        IPv4 and IPv6 default routes. An interface already filtered by the zone (bound to it, or unbound
        while the zone is the default zone) is left as it is.
    type: list
    elements: str
    default: []
  ssh_port:
    description: The server port of the controller's SSH connection. Omit it to skip the lockout check.
    type: int
  ssh_client:
    description: The controller's address as the host sees it, used when the SSH port is source-restricted.
    type: str
  stage:
    description:
      - C(plan) reads and reports, changing nothing.
      - C(prepare) installs the start guard, removes a C(policy-rc.d) stub a killed install left, finishes an
        interrupted dpkg run (C(dpkg --configure -a)), forgets a proof the permanent configuration no longer
        matches, and keeps an unproven firewalld disabled at boot. Run it before installing firewalld.
      - C(runtime) starts firewalld if it is stopped (an unproven one with the declared ports already in its
        zone file, after a D-Bus reload) and applies the declaration to the runtime configuration.
      - C(permanent) writes it to the permanent configuration, records it as proven and enables firewalld at
        boot. Run it only after proving the runtime configuration.
    type: str
    choices: [plan, prepare, runtime, permanent]
    default: plan
  rollback:
    description:
      - How the rollback script written by the C(runtime) stage restores the previous state.
      - C(reload) returns the runtime configuration to the permanent one (and puts moved interfaces back).
      - C(stop) stops firewalld, for when it was not running before.
    type: str
    choices: [reload, stop]
    default: reload
  rollback_after:
    description:
      - In the C(runtime) stage, seconds after which a systemd timer runs the rollback script unless the
        C(permanent) stage has run first. C(0) arms no timer.
    type: int
    default: 0
notes:
  - Supports check mode and diff mode; the diff lists services, ports and rules before and after.
  - Needs firewalld installed with its Python bindings (python3-firewall) for the C(runtime) and C(permanent)
    stages, and running for C(permanent).
requirements:
  - firewalld >= 0.9 with python3-firewall
"""

EXAMPLES = r"""
- name: Open SSH and HTTPS, and an admin port to the office only
  bulwark_firewalld:
    zone: public
    ports:
      - 22/tcp
      - 443/tcp
      - port: 1414/tcp
        sources: [203.0.113.0/24, "2001:db8:1::/48"]
    ssh_port: 22
    ssh_client: 203.0.113.7
    stage: runtime
"""

RETURN = r"""
installed:
  description: Whether firewalld and its Python bindings are installed.
  returned: always
  type: bool
running:
  description: Whether firewalld answers on D-Bus.
  returned: always
  type: bool
enabled:
  description: Whether firewalld is enabled at boot.
  returned: stage is plan
  type: bool
runtime_in_sync:
  description: Whether the runtime configuration already matches the declaration.
  returned: when firewalld is running
  type: bool
permanent_in_sync:
  description: Whether the permanent configuration already matches the declaration.
  returned: when firewalld is running
  type: bool
proven:
  description: Whether the permanent configuration is the one the last proof recorded.
  returned: always but in stage plan without a running firewalld
  type: bool
left_over:
  description: What an interrupted run left on the host (a policy-rc.d stub, half-done packages, a start flag).
  returned: stage is plan and firewalld is running
  type: list
  elements: str
actions:
  description: What the prepare stage did (or, in check mode, would do), or how the runtime stage started firewalld.
  returned: stage is prepare, or runtime when it started firewalld
  type: list
  elements: str
pending:
  description: Whether anything is left to do (repair, install, start, runtime, permanent, proof, enable at boot).
  returned: stage is plan
  type: bool
ports:
  description: The declared ports open to everyone, overlapping ranges merged.
  returned: always
  type: list
  elements: str
  sample: [22/tcp, 8000-8005/tcp, 53/udp]
rich_rules:
  description: The rich rules that implement the per-source ports.
  returned: always
  type: list
  elements: str
interfaces:
  description: The interfaces the zone must filter.
  returned: always
  type: list
  elements: str
rollback_script:
  description: Path of the script that undoes the runtime change; it removes itself when it runs.
  returned: stage is runtime and something changed
  type: str
  sample: /run/bulwark-firewalld-rollback.sh
"""

import ipaddress
import json
import os
import re
import shlex
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dpkg, bulwark_files
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils import bulwark_dpkg, bulwark_files  # type: ignore[no-redef]

try:
    from firewall.client import FirewallClient
except ImportError:
    FirewallClient = None

PROTOCOLS = ("tcp", "udp", "sctp", "dccp")
ENTRY_KEYS = ("port", "sources")
ROLLBACK_SCRIPT = "/run/bulwark-firewalld-rollback.sh"
ROLLBACK_UNIT = "bulwark-firewalld-rollback"
FIREWALLD_BINARIES = ("/usr/sbin/firewalld", "/sbin/firewalld")
# "Proven": the permanent configuration passed the connection proof. Written by the permanent stage only, so
# it survives a dead controller and a reboot; the plan compares it with what firewalld would boot into.
PROVEN_MARKER = "/var/lib/bulwark/firewalld/proven.json"
# Lets the runtime stage start an unproven firewalld (whose rules it wrote itself); /run is gone after a reboot.
START_FLAG = "/run/bulwark/firewalld-start"
# Whoever starts firewalld - boot, D-Bus activation, a package's maintainer scripts - it starts only when its
# rules are proven or when the role starts it. Installed before the package, so a kill cannot open the window.
GUARD_DROPIN = "/etc/systemd/system/firewalld.service.d/bulwark-proven.conf"
ZONE_DIRS = ("/etc/firewalld/zones", "/usr/lib/firewalld/zones")
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"
RTF_UP = 0x0001
RTF_REJECT = 0x0200

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

_PORT_PART = re.compile(r"(\d+)(?:-(\d+))?")
_SOURCE_RULE = re.compile(
    r'rule family="(?P<family>ipv4|ipv6)" source address="(?P<source>[^"]+)" '
    r'port port="(?P<port>[^"]+)" protocol="(?P<protocol>[^"]+)" accept'
)


# ---------------------------------------------------------------------------------------------
# Pure logic: no I/O below this line until the next banner.
# ---------------------------------------------------------------------------------------------


class SpecError(ValueError):
    """One or more declared entries are invalid; the message names each of them."""


@dataclass(frozen=True, order=True)
class PortRange:
    """A port or an inclusive range of ports of one protocol."""

    protocol: str
    low: int
    high: int

    @property
    def port(self) -> str:
        """The port part as firewalld writes it: ``80`` or ``8000-8005``."""
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"

    def covers(self, port: int, protocol: str) -> bool:
        return self.protocol == protocol and self.low <= port <= self.high


@dataclass(frozen=True, order=True)
class SourceRule:
    """A port open only to one source network, implemented as a firewalld rich rule."""

    port: PortRange
    source: str  # normalised CIDR, always with a prefix length

    @property
    def family(self) -> str:
        return "ipv6" if ":" in self.source else "ipv4"

    def allows(self, port: int, protocol: str, client: str | None) -> bool:
        if client is None or not self.port.covers(port, protocol):
            return False
        try:
            return ipaddress.ip_address(client) in ipaddress.ip_network(self.source)
        except ValueError:
            return False

    def __str__(self) -> str:
        return (f'rule family="{self.family}" source address="{self.source}" '
                f'port port="{self.port.port}" protocol="{self.port.protocol}" accept')


@dataclass(frozen=True)
class Desired:
    """The declaration, validated and normalised."""

    ports: tuple[PortRange, ...]
    rules: tuple[SourceRule, ...]

    def opens(self, port: int, protocol: str, client: str | None) -> bool:
        """Whether ``client`` may open a connection to ``port``/``protocol`` under this declaration."""
        return (any(p.covers(port, protocol) for p in self.ports)
                or any(r.allows(port, protocol, client) for r in self.rules))


@dataclass(frozen=True)
class ZoneState:
    """The parts of a zone this module manages, as firewalld reports them."""

    services: tuple[str, ...] = ()
    ports: tuple[tuple[str, str], ...] = ()
    protocols: tuple[str, ...] = ()
    source_ports: tuple[tuple[str, str], ...] = ()
    forward_ports: tuple[tuple[str, ...], ...] = ()
    rich_rules: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "ZoneState":
        """Build from firewalld's zone settings dictionary (``getSettingsDict()``)."""
        return cls(
            services=tuple(settings.get("services", ())),
            ports=tuple(tuple(p) for p in settings.get("ports", ())),
            protocols=tuple(settings.get("protocols", ())),
            source_ports=tuple(tuple(p) for p in settings.get("source_ports", ())),
            forward_ports=tuple(tuple(p) for p in settings.get("forward_ports", ())),
            rich_rules=tuple(settings.get("rules_str", ())),
        )


def parse_port(spec: str) -> PortRange:
    """Parse ``PORT/PROTO`` or ``LOW-HIGH/PROTO``; raise ValueError saying what is wrong."""
    if "/" not in spec:
        raise ValueError("must be PORT/PROTO or LOW-HIGH/PROTO, e.g. '443/tcp' or '8000-8005/tcp'")
    port_part, _slash, protocol = spec.strip().rpartition("/")
    protocol = protocol.lower()
    if not protocol:
        raise ValueError(f"protocol is missing: it must be one of {', '.join(PROTOCOLS)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    match = _PORT_PART.fullmatch(port_part)
    if not match:
        raise ValueError("port must be a number 1-65535 or a range LOW-HIGH, e.g. '443/tcp' or '8000-8005/tcp'")
    low = int(match.group(1))
    high = int(match.group(2) or match.group(1))
    for number in (low, high):
        if not 1 <= number <= 65535:
            raise ValueError(f"port {number} is out of range 1-65535")
    if low > high:
        raise ValueError(f"range {low}-{high} is reversed: LOW must not exceed HIGH")
    return PortRange(protocol, low, high)


def parse_source(spec: str) -> str:
    """Normalise an IPv4 or IPv6 address or network to CIDR form; raise ValueError if it is neither."""
    try:
        return ipaddress.ip_network(spec.strip(), strict=True).with_prefixlen
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(spec.strip(), strict=False)
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address or network in CIDR form, e.g. '203.0.113.0/24'") from None
    raise ValueError(f"has host bits set: did you mean '{loose.with_prefixlen}'?")


def _parse_entry(entry: object, where: str) -> tuple[PortRange, tuple[str, ...] | None, list[str]]:
    """One declared entry: its port, its sources (None means everyone) and the errors found."""
    if isinstance(entry, str):
        try:
            return parse_port(entry), None, []
        except ValueError as exc:
            return PortRange("", 0, 0), None, [f"{where} = {entry!r}: {exc}"]
    if not isinstance(entry, dict):
        return PortRange("", 0, 0), None, [
            f"{where} = {entry!r}: must be a string 'PORT/PROTO' or a mapping with 'port' and 'sources'"]
    errors = [f"{where}: unknown key {key!r} (allowed: {', '.join(ENTRY_KEYS)})"
              for key in entry if key not in ENTRY_KEYS]
    port = PortRange("", 0, 0)
    raw_port = entry.get("port")
    if not isinstance(raw_port, str):
        errors.append(f"{where}.port = {raw_port!r}: must be a string PORT/PROTO or LOW-HIGH/PROTO")
    else:
        try:
            port = parse_port(raw_port)
        except ValueError as exc:
            errors.append(f"{where}.port = {raw_port!r}: {exc}")
    raw_sources = entry.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        errors.append(f"{where}.sources = {raw_sources!r}: must be a non-empty list of CIDRs "
                      "(use a plain 'PORT/PROTO' string to open the port to everyone)")
        return port, (), errors
    sources = []
    for index, raw in enumerate(raw_sources):
        try:
            if not isinstance(raw, str):
                raise ValueError("must be a string")
            sources.append(parse_source(raw))
        except ValueError as exc:
            errors.append(f"{where}.sources[{index}] = {raw!r}: {exc}")
    return port, tuple(sources), errors


def merge_ranges(ranges: Iterable[PortRange]) -> tuple[PortRange, ...]:
    """Merge overlapping ranges of the same protocol (firewalld refuses overlaps); keep adjacent ones apart."""
    merged: list[PortRange] = []
    for current in sorted(set(ranges)):
        last = merged[-1] if merged else None
        if last and last.protocol == current.protocol and current.low <= last.high:
            merged[-1] = PortRange(last.protocol, last.low, max(last.high, current.high))
        else:
            merged.append(current)
    return tuple(merged)


def parse_entries(entries: Sequence[object], name: str = "ports") -> Desired:
    """Validate and normalise the declared entries; raise SpecError naming every bad one."""
    if not isinstance(entries, (list, tuple)):
        raise SpecError(f"{name} must be a list, got {entries!r}")
    open_ports: list[PortRange] = []
    rules: set[SourceRule] = set()
    errors: list[str] = []
    for index, entry in enumerate(entries):
        port, sources, entry_errors = _parse_entry(entry, f"{name}[{index}]")
        errors.extend(entry_errors)
        if entry_errors:
            continue
        if sources is None:
            open_ports.append(port)
        else:
            rules.update(SourceRule(port, source) for source in sources)
    if errors:
        raise SpecError("; ".join(errors))
    return Desired(merge_ranges(open_ports), tuple(sorted(rules, key=lambda r: (r.port, r.family, r.source))))


def lockout_problem(desired: Desired, ssh_port: int | None, ssh_client: str | None,
                    name: str = "ports") -> str | None:
    """Why the declaration would lock the controller out of SSH, or None when it would not."""
    if ssh_port is None or desired.opens(ssh_port, "tcp", ssh_client):
        return None
    restricted = [r for r in desired.rules if r.port.covers(ssh_port, "tcp")]
    who = f"the controller ({ssh_client})" if ssh_client else "the controller"
    if restricted:
        sources = ", ".join(r.source for r in restricted)
        return (f"{name} opens {ssh_port}/tcp, the port of this SSH connection, only to {sources}, which "
                f"does not include {who}: applying it would lock the controller out. Add {ssh_client or 'its address'} "
                f"to the sources of that entry in {name}, or declare '{ssh_port}/tcp' open to everyone.")
    return (f"{name} does not open {ssh_port}/tcp, the port of this SSH connection from {who}: applying it "
            f"would lock the controller out. Add '{ssh_port}/tcp' to {name}.")


def _port_label(port: str, protocol: str) -> str:
    try:
        return str(parse_port(f"{port}/{protocol}"))
    except ValueError:
        return f"{port}/{protocol}"


def _rule_label(rule: str) -> str:
    """A rich rule in the canonical form of ours when it has our shape, else as firewalld wrote it."""
    match = _SOURCE_RULE.fullmatch(rule)
    if match:
        try:
            port = parse_port(f"{match['port']}/{match['protocol']}")
            return str(SourceRule(port, parse_source(match["source"])))
        except ValueError:
            pass
    return rule


def state_lines(state: ZoneState) -> set[str]:
    """The managed parts of a zone as comparable lines, e.g. ``port 80/tcp``, ``service ssh``."""
    ports = []
    other_ports = []
    for port, protocol in state.ports:
        try:
            ports.append(parse_port(f"{port}/{protocol}"))
        except ValueError:
            other_ports.append(f"port {port}/{protocol}")
    return {
        *(f"service {s}" for s in state.services),
        *(f"port {p}" for p in merge_ranges(ports)),
        *other_ports,
        *(f"protocol {p}" for p in state.protocols),
        *(f"source-port {_port_label(*p)}" for p in state.source_ports),
        *(f"forward-port {':'.join(p)}" for p in state.forward_ports),
        *(_rule_label(r) for r in state.rich_rules),
    }


def desired_lines(desired: Desired) -> set[str]:
    return {*(f"port {p}" for p in desired.ports), *(str(r) for r in desired.rules)}


def effective_zones(interfaces: Sequence[str], bindings: dict[str, str], default_zone: str) -> dict[str, str]:
    """The zone that filters each interface: the one it is bound to, else the default zone."""
    return {iface: bindings.get(iface) or default_zone for iface in interfaces}


def interface_lines(zones: dict[str, str]) -> set[str]:
    return {f"interface {iface} in zone {zone}" for iface, zone in zones.items()}


def interfaces_to_move(zones: dict[str, str], zone: str) -> list[str]:
    return sorted(iface for iface, current in zones.items() if current != zone)


def default_route_interfaces(route_v4: str, route_v6: str) -> list[str]:
    """Interfaces carrying a default route, from the text of /proc/net/route and /proc/net/ipv6_route."""
    found = set()
    for line in route_v4.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000" \
                and int(fields[3], 16) & RTF_UP:
            found.add(fields[0])
    for line in route_v6.splitlines():
        fields = line.split()
        if len(fields) >= 10 and set(fields[0]) == {"0"} and fields[1] == "00" and fields[9] != "lo":
            flags = int(fields[8], 16)
            if flags & RTF_UP and not flags & RTF_REJECT:
                found.add(fields[9])
    return sorted(found)


def rollback_script(action: str, zone: str, moved: dict[str, str]) -> str:
    """Shell script that undoes a runtime change; ``moved`` maps interface -> its previous bound zone or ''."""
    lines = [
        "#!/bin/sh",
        "# Written by bulwark_firewalld: undoes its runtime change. The timer or the role runs it.",
        f"systemctl stop {ROLLBACK_UNIT}.timer 2>/dev/null",
    ]
    if action == "stop":
        lines.append("systemctl stop firewalld")
    else:
        lines.append("firewall-cmd --reload")
        for iface, previous in sorted(moved.items()):
            if previous:
                lines.append(f"firewall-cmd --zone={shlex.quote(previous)} --change-interface={shlex.quote(iface)}")
            else:
                lines.append(f"firewall-cmd --zone={shlex.quote(zone)} --remove-interface={shlex.quote(iface)}")
    lines.append('rm -f "$0"')
    return "\n".join(lines) + "\n"


def diff_entry(header: str, before: set[str], after: set[str]) -> dict[str, str]:
    return {
        "before_header": header, "after_header": header,
        "before": "".join(f"{line}\n" for line in sorted(before)),
        "after": "".join(f"{line}\n" for line in sorted(after)),
    }


def guard_dropin() -> str:
    """The systemd drop-in that keeps firewalld from starting with rules nobody proved."""
    return (
        "# Written by Bulwark's firewalld role (docs/firewalld.md). firewalld starts - at boot, by D-Bus\n"
        "# activation, from a package's scripts - only once its permanent rules passed the role's SSH proof,\n"
        "# or when the role starts it with the declared rules. Remove this file to give up that guarantee.\n"
        "[Unit]\n"
        f"ConditionPathExists=|{PROVEN_MARKER}\n"
        f"ConditionPathExists=|{START_FLAG}\n"
    )


def proven_record(zone: str, lines: set[str]) -> str:
    """The marker's content: the zone and the lines of the permanent configuration that was proven."""
    return json.dumps({"zone": zone, "lines": sorted(lines)}, indent=1) + "\n"


def is_proven(record: str | None, zone: str, permanent_lines: set[str] | None) -> bool:
    """Whether the marker says this permanent configuration was proven (``None``: firewalld is not running, so
    only the zone can be compared)."""
    if not record:
        return False
    try:
        data = json.loads(record)
    except ValueError:
        return False
    if not isinstance(data, dict) or data.get("zone") != zone:
        return False
    return permanent_lines is None or set(data.get("lines", ())) == permanent_lines


def default_zone(conf: str) -> str:
    """``DefaultZone`` of firewalld.conf (``public`` when unset, as firewalld itself assumes)."""
    for line in conf.splitlines():
        key, _equals, value = line.strip().partition("=")
        if key == "DefaultZone" and value.strip():
            return value.strip()
    return "public"


_MANAGED_TAGS = ("service", "port", "protocol", "source-port", "forward-port", "rule")


def offline_zone(base: str, desired: Desired, interfaces: Sequence[str]) -> str:
    """A zone file (firewalld's XML) from ``base`` with exactly the declared ports and rules, and ``interfaces``
    bound; everything else (target, ICMP blocks, masquerade, sources) as ``base`` has it."""
    root = ET.fromstring(base)
    bound = [c.get("name") for c in root if c.tag == "interface"]
    for child in [c for c in root if c.tag in (*_MANAGED_TAGS, "interface")]:
        root.remove(child)
    for port in desired.ports:
        ET.SubElement(root, "port", {"port": port.port, "protocol": port.protocol})
    for rule in desired.rules:
        element = ET.SubElement(root, "rule", {"family": rule.family})
        ET.SubElement(element, "source", {"address": rule.source})
        ET.SubElement(element, "port", {"port": rule.port.port, "protocol": rule.port.protocol})
        ET.SubElement(element, "accept")
    for iface in dict.fromkeys([*bound, *interfaces]):
        ET.SubElement(root, "interface", {"name": iface})
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------
# I/O: firewalld over D-Bus, systemd, files.
# ---------------------------------------------------------------------------------------------


@dataclass
class ZoneView:
    """One configuration (runtime or permanent) of the zone, read once."""

    settings: Any  # FirewallClientZoneSettings
    lines: set[str]
    interface_zones: dict[str, str]
    bindings: dict[str, str]


class Firewalld:
    """The little of firewalld's client API this module uses."""

    def __init__(self, client: Any, zone: str, interfaces: Sequence[str]) -> None:
        self.client = client
        self.zone = zone
        self.interfaces = list(interfaces)
        self.default_zone = str(client.getDefaultZone())

    def zone_exists(self) -> bool:
        return self.zone in self.client.getZones()

    def read(self, permanent: bool) -> ZoneView:
        if permanent:
            config = self.client.config()
            settings = config.getZoneByName(self.zone).getSettings()
            bindings = {i: str(config.getZoneOfInterface(i) or "") for i in self.interfaces}
        else:
            settings = self.client.getZoneSettings(self.zone)
            bindings = {i: str(self.client.getZoneOfInterface(i) or "") for i in self.interfaces}
        zones = effective_zones(self.interfaces, bindings, self.default_zone)
        lines = state_lines(ZoneState.from_settings(settings.getSettingsDict())) | interface_lines(zones)
        return ZoneView(settings, lines, zones, bindings)

    def target(self) -> str:
        return str(self.client.getZoneSettings(self.zone).getTarget())

    @staticmethod
    def _declare(settings: Any, desired: Desired) -> None:
        settings.setServices([])
        settings.setPorts([(p.port, p.protocol) for p in desired.ports])
        settings.setProtocols([])
        settings.setSourcePorts([])
        settings.setForwardPorts([])
        settings.setRichRules([str(r) for r in desired.rules])

    def write_runtime(self, view: ZoneView, desired: Desired) -> None:
        self._declare(view.settings, desired)
        self.client.setZoneSettings(self.zone, view.settings)
        for iface in interfaces_to_move(view.interface_zones, self.zone):
            self.client.changeZoneOfInterface(self.zone, iface)

    def write_permanent(self, view: ZoneView, desired: Desired) -> None:
        config = self.client.config()
        moving = interfaces_to_move(view.interface_zones, self.zone)
        for iface in moving:
            if view.bindings[iface]:
                config.getZoneByName(view.bindings[iface]).removeInterface(iface)
        self._declare(view.settings, desired)
        view.settings.setInterfaces(sorted(set(view.settings.getInterfaces()) | set(moving)))
        config.getZoneByName(self.zone).update(view.settings)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return ""


def _systemctl(module: AnsibleModule, *args: str) -> tuple[int, str]:
    systemctl = module.get_bin_path("systemctl")
    if systemctl is None:
        return 1, ""
    rc, out, _err = module.run_command([systemctl, *args])
    return rc, out.strip()


def arm_rollback(module: AnsibleModule, script: str, after: int) -> None:
    """Write the rollback script and, when ``after`` > 0, a timer that runs it unless disarmed first."""
    with open(ROLLBACK_SCRIPT, "w", encoding="utf-8") as handle:
        handle.write(script)
    os.chmod(ROLLBACK_SCRIPT, 0o700)
    if after <= 0:
        return
    _systemctl(module, "stop", f"{ROLLBACK_UNIT}.timer", f"{ROLLBACK_UNIT}.service")
    _systemctl(module, "reset-failed", f"{ROLLBACK_UNIT}.service")
    systemd_run = module.get_bin_path("systemd-run", required=True)
    module.run_command([systemd_run, f"--unit={ROLLBACK_UNIT}", f"--on-active={after}s",
                        "--timer-property=AccuracySec=1s", "/bin/sh", ROLLBACK_SCRIPT], check_rc=True)


def disarm_rollback(module: AnsibleModule) -> None:
    if os.path.exists(ROLLBACK_SCRIPT):
        _systemctl(module, "stop", f"{ROLLBACK_UNIT}.timer")
        os.remove(ROLLBACK_SCRIPT)


def connect(zone: str, interfaces: Sequence[str]) -> Firewalld | None:
    """A connected client, or None when firewalld or its bindings are missing or it is not running.

    Asks the bus whether firewalld owns its name before making a client: a client of a stopped firewalld
    would have D-Bus start it (activation), with whatever rules it has on disk.
    """
    if FirewallClient is None:
        return None
    import dbus  # installed with python3-firewall
    import dbus.mainloop.glib

    # The client's signal handlers need the main loop set before the (shared) bus connection is made.
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    if not dbus.SystemBus().name_has_owner("org.fedoraproject.FirewallD1"):
        return None
    client = FirewallClient()
    if not client.connected:
        return None
    return Firewalld(client, zone, interfaces)


def _write_file(path: str, text: str, mode: int = 0o644) -> bool:
    """Replace ``path`` atomically and durably when its content differs; True when it did."""
    if _read_file(path) == text:
        return False
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    bulwark_files.write_atomic(path, text.encode("utf-8"), mode)
    return True


def _read_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _remove(path: str) -> bool:
    try:
        os.remove(path)
        return True
    except FileNotFoundError:
        return False


def firewalld_installed() -> bool:
    """firewalld's daemon and its Python bindings are on disk (checked again after a repair)."""
    import importlib.util

    return (FirewallClient is not None or importlib.util.find_spec("firewall") is not None) and \
        any(os.path.exists(p) for p in FIREWALLD_BINARIES)


class Host:
    """systemd and the package system, through the module's runner."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.packages = bulwark_dpkg.HostState(self.run)

    def run(self, argv: Sequence[str]) -> tuple[int, str, str]:
        return self.module.run_command(list(argv), environ_update=dict(bulwark_dpkg.NONINTERACTIVE))

    def systemctl(self, *args: str, check: bool = False) -> str:
        rc, out, err = self.run(["systemctl", *args])
        if check and rc != 0:
            raise RuntimeError(f"`systemctl {' '.join(args)}` failed (exit {rc}): {(err or out).strip()}")
        return out.strip()

    def enabled(self) -> bool:
        return self.systemctl("is-enabled", "firewalld.service") == "enabled"

    def install_guard(self) -> bool:
        """Write the drop-in that keeps an unproven firewalld from starting; True when it changed."""
        if not _write_file(GUARD_DROPIN, guard_dropin()):
            return False
        self.systemctl("daemon-reload", check=True)
        return True

    def left_over(self) -> list[str]:
        """What an interrupted run left on the host (read only)."""
        found = []
        if self.packages.stub_left_over():
            found.append(f"the {bulwark_dpkg.POLICY_RC_D} stub of a killed package install")
        interrupted = self.packages.interrupted()
        if interrupted:
            found.append(f"packages dpkg left half done ({', '.join(interrupted)})")
        if os.path.exists(START_FLAG):
            found.append(START_FLAG)
        return found


def start_unproven(host: Host, zone: str, desired: Desired, interfaces: Sequence[str], proven: bool) -> list[str]:
    """Start a stopped firewalld so that it comes up with the declared rules, never with stock ones.

    On a host where nothing was proven yet (a new install, or an install a dead controller left), the steps of a
    fresh install happen here, decided from that state: D-Bus rereads its policies (a package installed under a
    policy-rc.d stub could not make it), and the zone file gets the declared ports before firewalld reads it.
    The zone file is then unproven; the guard and the disabled boot keep it from being used at boot.
    """
    done = []
    if not proven:
        host.systemctl("reload", "dbus.service")
        base = next((t for t in (_read_file(os.path.join(d, f"{zone}.xml")) for d in ZONE_DIRS) if t), None)
        if base is None:
            raise RuntimeError(f"zone {zone!r} does not exist in firewalld ({' or '.join(ZONE_DIRS)})")
        bind = interfaces if default_zone(_read_file(FIREWALLD_CONF) or "") != zone else ()
        if _write_file(os.path.join(ZONE_DIRS[0], f"{zone}.xml"), offline_zone(base, desired, bind)):
            done.append(f"wrote the declared ports into zone {zone} before starting firewalld")
    _write_file(START_FLAG, "started by bulwark_firewalld with the declared rules\n")
    try:
        host.systemctl("reset-failed", "firewalld.service")
        host.systemctl("start", "firewalld.service", check=True)
    finally:
        _remove(START_FLAG)
    done.append("started firewalld")
    return done


def connect_after_start(zone: str, interfaces: Sequence[str], timeout: float = 30.0) -> Firewalld:
    deadline = time.monotonic() + timeout
    while True:
        firewalld = connect(zone, interfaces)
        if firewalld is not None:
            return firewalld
        if time.monotonic() > deadline:
            raise RuntimeError("firewalld was started but does not answer on D-Bus (`journalctl -u firewalld`)")
        time.sleep(0.5)


def run_module(module: AnsibleModule) -> None:
    params = module.params
    stage, zone, name = params["stage"], params["zone"], params["ports_variable"]
    try:
        desired = parse_entries(params["ports"], name)
    except SpecError as exc:
        module.fail_json(msg=f"Invalid {name}, nothing was changed: {exc}")
    problem = lockout_problem(desired, params["ssh_port"], params["ssh_client"], name)
    if problem:
        module.fail_json(msg=f"Refusing to change the firewall: {problem}")

    interfaces = params["interfaces"] or default_route_interfaces(
        _read_text("/proc/net/route"), _read_text("/proc/net/ipv6_route"))
    host = Host(module)
    installed = firewalld_installed()
    result: dict[str, Any] = {
        "changed": False, "installed": installed, "running": False,
        "ports": [str(p) for p in desired.ports], "rich_rules": [str(r) for r in desired.rules],
        "interfaces": interfaces,
    }
    wanted = desired_lines(desired) | interface_lines({i: zone for i in interfaces})
    marker = _read_file(PROVEN_MARKER)
    firewalld = connect(zone, interfaces) if installed else None
    permanent = firewalld.read(permanent=True) if firewalld and firewalld.zone_exists() else None
    proven = is_proven(marker, zone, permanent.lines if permanent else None)

    if stage == "prepare":
        prepare(module, host, result, marker, proven)

    if firewalld is None:
        if stage == "plan":
            module.exit_json(**result, enabled=False, proven=proven, pending=True)
        if module.check_mode or stage == "permanent" or not installed:
            if module.check_mode:
                module.exit_json(**{**result, "changed": True},
                                 diff=diff_entry(f"zone {zone} ({stage}, firewalld not running)", set(), wanted))
            module.fail_json(msg="firewalld is not running: the runtime stage starts it", **result)
        # The runtime stage starts firewalld itself; rolling back then means stopping it again.
        arm_rollback(module, rollback_script("stop", zone, {}), params["rollback_after"])
        try:
            result["actions"] = start_unproven(host, zone, desired, interfaces, proven)
            firewalld = connect_after_start(zone, interfaces)
        except Exception as exc:  # systemd or D-Bus: undo what was started, say why
            module.run_command(["/bin/sh", ROLLBACK_SCRIPT])
            module.fail_json(msg=f"firewalld did not start: {exc}", **result)
        result.update(changed=True, rollback_script=ROLLBACK_SCRIPT)
        params["rollback"] = "stop"
        permanent = firewalld.read(permanent=True)

    if not firewalld.zone_exists():
        module.fail_json(msg=f"zone {zone!r} does not exist in firewalld (`firewall-cmd --get-zones`): "
                             "create it first or choose an existing one", **result)
    if firewalld.target() == "ACCEPT":
        module.warn(f"zone {zone!r} has target ACCEPT: it accepts every packet whatever {name} says")
    if not interfaces:
        module.warn(f"no interface carries a default route: zone {zone!r} filters only the interfaces "
                    "already bound to it, and all of them if it is the default zone")
    runtime = firewalld.read(permanent=False)
    permanent = permanent or firewalld.read(permanent=True)
    result.update(running=True, runtime_in_sync=runtime.lines == wanted, permanent_in_sync=permanent.lines == wanted,
                  proven=proven)

    if stage == "plan":
        enabled = host.enabled()
        left_over = host.left_over()
        guarded = _read_file(GUARD_DROPIN) == guard_dropin()
        pending = bool(left_over) or not (enabled and guarded and proven and result["runtime_in_sync"]
                                          and result["permanent_in_sync"])
        module.exit_json(**result, enabled=enabled, left_over=left_over, pending=pending)

    if stage == "runtime":
        if result["runtime_in_sync"]:
            module.exit_json(**result)
        diff = diff_entry(f"zone {zone} (runtime)", runtime.lines, wanted)
        if not module.check_mode:
            if "rollback_script" not in result:
                moved = {i: runtime.bindings[i] for i in interfaces_to_move(runtime.interface_zones, zone)}
                arm_rollback(module, rollback_script(params["rollback"], zone, moved), params["rollback_after"])
            try:
                firewalld.write_runtime(runtime, desired)
            except Exception as exc:  # D-Bus errors come in several types; any of them means: undo now.
                module.run_command(["/bin/sh", ROLLBACK_SCRIPT])
                module.fail_json(msg=f"firewalld refused the runtime change, which was rolled back: {exc}", **result)
            result["rollback_script"] = ROLLBACK_SCRIPT
        module.exit_json(**{**result, "changed": True}, diff=diff)

    # stage == "permanent": only what the runtime stage applied (and the caller proved) becomes permanent, is
    # recorded as proven, and only then may firewalld start at boot.
    if not module.check_mode:
        if not result["runtime_in_sync"]:
            module.fail_json(msg="the runtime configuration no longer matches the declaration (did the rollback "
                                 "timer fire, or did someone change it?): not writing it to the permanent one",
                             **result)
        disarm_rollback(module)
    changed = not result["permanent_in_sync"]
    diff = diff_entry(f"zone {zone} (permanent)", permanent.lines, wanted)
    if changed and not module.check_mode:
        try:
            firewalld.write_permanent(permanent, desired)
        except Exception as exc:  # the runtime is proven and stays; only the permanent write failed
            module.fail_json(msg=f"firewalld refused the permanent change (the runtime one stays): {exc}", **result)
    record = proven_record(zone, wanted)
    enable = not host.enabled()
    if not module.check_mode:
        changed |= _write_file(PROVEN_MARKER, record, 0o600)
        if enable:
            host.systemctl("enable", "firewalld.service", check=True)
    else:
        changed |= marker != record
    result.update(proven=True, changed=changed or enable, enabled=True)
    module.exit_json(**result, **({"diff": diff} if not result["permanent_in_sync"] else {}))


def prepare(module: AnsibleModule, host: Host, result: dict[str, Any], marker: str | None, proven: bool) -> None:
    """Make the host safe to install and start firewalld on, whatever an earlier run left; then exit."""
    actions = []
    check = module.check_mode
    if _read_file(GUARD_DROPIN) != guard_dropin():
        actions.append(f"guard firewalld's start ({GUARD_DROPIN})")
        if not check:
            host.install_guard()
    if check:
        actions += [f"remove or finish {what}" for what in host.left_over()]
    else:
        if _remove(START_FLAG):
            actions.append(f"removed {START_FLAG}")
        try:
            actions += bulwark_dpkg.repair(host.packages)
        except RuntimeError as exc:
            module.fail_json(msg=f"Cannot finish what an earlier package install left: {exc}", **result)
    if marker is not None and not proven:
        # Whatever firewalld would boot into now is not what was proven: forget the proof.
        actions.append(f"forget the proof in {PROVEN_MARKER} (the permanent configuration changed since)")
        if not check:
            _remove(PROVEN_MARKER)
    if not proven and host.enabled():
        actions.append("keep firewalld disabled at boot until its rules are proven")
        if not check:
            host.systemctl("disable", "firewalld.service", check=True)
    installed = firewalld_installed() and not (not check and host.packages.interrupted())
    module.exit_json(**{**result, "installed": installed, "proven": proven, "changed": bool(actions),
                        "actions": actions})


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zone": {"type": "str", "default": "public"},
            "ports": {"type": "list", "elements": "raw", "required": True},
            "ports_variable": {"type": "str", "default": "ports"},
            "interfaces": {"type": "list", "elements": "str", "default": []},
            "ssh_port": {"type": "int"},
            "ssh_client": {"type": "str"},
            "stage": {"type": "str", "choices": ["plan", "prepare", "runtime", "permanent"], "default": "plan"},
            "rollback": {"type": "str", "choices": ["reload", "stop"], "default": "reload"},
            "rollback_after": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    try:
        run_module(module)
    except Exception as exc:  # D-Bus errors (timeouts, firewalld refusing a setting) reach here as many types
        module.fail_json(msg=f"firewalld failed: {type(exc).__name__}: {exc}", exception=traceback.format_exc())


if __name__ == "__main__":
    main()
