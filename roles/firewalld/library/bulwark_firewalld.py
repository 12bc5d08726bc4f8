#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Make one firewalld zone open exactly the declared ports, in stages that cannot lock the admin out.

The pure logic (parsing and validating port specs, the SSH lockout check, the difference between
the zone's state and the declared one, the rollback script) is kept apart from the I/O (firewalld's
D-Bus bindings, systemd), so it is unit-tested without firewalld: tests/unit/test_firewalld_module.py.
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
    C(plan) only reads; C(runtime) changes the runtime configuration and leaves a rollback script
    (optionally run by a timer); C(permanent) writes the permanent configuration, but only while the
    runtime still matches the declaration, and removes the rollback script and timer.
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
      - C(runtime) applies the declaration to the runtime configuration.
      - C(permanent) writes it to the permanent configuration.
    type: str
    choices: [plan, runtime, permanent]
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
  - Needs firewalld running and its Python bindings (python3-firewall) for every stage but C(plan).
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
pending:
  description: Whether anything is left to do (install, start, runtime, permanent, enable at boot).
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
import os
import re
import shlex
import traceback
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

from ansible.module_utils.basic import AnsibleModule

try:
    from firewall.client import FirewallClient
except ImportError:
    FirewallClient = None

PROTOCOLS = ("tcp", "udp", "sctp", "dccp")
ENTRY_KEYS = ("port", "sources")
ROLLBACK_SCRIPT = "/run/bulwark-firewalld-rollback.sh"
ROLLBACK_UNIT = "bulwark-firewalld-rollback"
FIREWALLD_BINARIES = ("/usr/sbin/firewalld", "/sbin/firewalld")
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
    """A connected client, or None when firewalld or its bindings are missing or it is not running."""
    if FirewallClient is None:
        return None
    client = FirewallClient()
    if not client.connected:
        return None
    return Firewalld(client, zone, interfaces)


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
    installed = FirewallClient is not None and any(os.path.exists(p) for p in FIREWALLD_BINARIES)
    result: dict[str, Any] = {
        "changed": False, "installed": installed, "running": False,
        "ports": [str(p) for p in desired.ports], "rich_rules": [str(r) for r in desired.rules],
        "interfaces": interfaces,
    }
    firewalld = connect(zone, interfaces) if installed else None
    if firewalld is None:
        if stage == "plan":
            module.exit_json(**result, enabled=False, pending=True)
        if module.check_mode:
            after = desired_lines(desired) | interface_lines({i: zone for i in interfaces})
            module.exit_json(**{**result, "changed": True},
                             diff=diff_entry(f"zone {zone} ({stage}, firewalld not running)", set(), after))
        module.fail_json(msg="firewalld is not running: start it before the runtime and permanent stages", **result)

    if not firewalld.zone_exists():
        module.fail_json(msg=f"zone {zone!r} does not exist in firewalld (`firewall-cmd --get-zones`): "
                             "create it first or choose an existing one", **result)
    if firewalld.target() == "ACCEPT":
        module.warn(f"zone {zone!r} has target ACCEPT: it accepts every packet whatever {name} says")
    if not interfaces:
        module.warn(f"no interface carries a default route: zone {zone!r} filters only the interfaces "
                    "already bound to it, and all of them if it is the default zone")
    wanted = desired_lines(desired) | interface_lines({i: zone for i in interfaces})
    runtime = firewalld.read(permanent=False)
    permanent = firewalld.read(permanent=True)
    result.update(running=True, runtime_in_sync=runtime.lines == wanted, permanent_in_sync=permanent.lines == wanted)

    if stage == "plan":
        enabled = _systemctl(module, "is-enabled", "firewalld.service")[1] == "enabled"
        pending = not (enabled and result["runtime_in_sync"] and result["permanent_in_sync"])
        module.exit_json(**result, enabled=enabled, pending=pending)

    if stage == "runtime":
        if result["runtime_in_sync"]:
            module.exit_json(**result)
        diff = diff_entry(f"zone {zone} (runtime)", runtime.lines, wanted)
        if not module.check_mode:
            moved = {i: runtime.bindings[i] for i in interfaces_to_move(runtime.interface_zones, zone)}
            arm_rollback(module, rollback_script(params["rollback"], zone, moved), params["rollback_after"])
            try:
                firewalld.write_runtime(runtime, desired)
            except Exception as exc:  # D-Bus errors come in several types; any of them means: undo now.
                module.run_command(["/bin/sh", ROLLBACK_SCRIPT])
                module.fail_json(msg=f"firewalld refused the runtime change, which was rolled back: {exc}", **result)
            result["rollback_script"] = ROLLBACK_SCRIPT
        module.exit_json(**{**result, "changed": True}, diff=diff)

    # stage == "permanent": only what the runtime stage applied (and the caller proved) becomes permanent.
    if not module.check_mode:
        if not result["runtime_in_sync"]:
            module.fail_json(msg="the runtime configuration no longer matches the declaration (did the rollback "
                                 "timer fire, or did someone change it?): not writing it to the permanent one",
                             **result)
        disarm_rollback(module)
    if result["permanent_in_sync"]:
        module.exit_json(**result)
    diff = diff_entry(f"zone {zone} (permanent)", permanent.lines, wanted)
    if not module.check_mode:
        try:
            firewalld.write_permanent(permanent, desired)
        except Exception as exc:  # the runtime is proven and stays; only the permanent write failed
            module.fail_json(msg=f"firewalld refused the permanent change (the runtime one stays): {exc}", **result)
    module.exit_json(**{**result, "changed": True}, diff=diff)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zone": {"type": "str", "default": "public"},
            "ports": {"type": "list", "elements": "raw", "required": True},
            "ports_variable": {"type": "str", "default": "ports"},
            "interfaces": {"type": "list", "elements": "str", "default": []},
            "ssh_port": {"type": "int"},
            "ssh_client": {"type": "str"},
            "stage": {"type": "str", "choices": ["plan", "runtime", "permanent"], "default": "plan"},
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
