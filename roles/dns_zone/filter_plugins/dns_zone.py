# -*- coding: utf-8 -*-
"""The dns_zone model: the zones a name server serves, checked and normalised on the controller.

Filter:

* ``dns_zone_model`` - checks ``dns_zone_zones`` and the signing policy ``dns_zone_dnssec`` (names,
  durations, addresses, record lines) and returns the zones with every default filled in, durations in
  seconds, so the module on the host and the Knot configuration it renders need no defaults of their own.

Errors name the variable (with the zone) and the bad value, before anything on the host changes. Record
lines are checked for what only the role can know (no SOA, no ``$`` directives, one line each); their
DNS syntax and semantics are checked on the host by Knot's own ``kzonecheck``.

Pure Python (standard library and ansible only): tests/unit/test_dns_zone_filters.py.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]

# Defaults of dns_zone_dnssec; defaults/main.yml and meta/argument_specs.yml state the same (a unit test
# compares them).
POLICY_DEFAULTS: dict[str, Any] = {
    "algorithm": "ecdsap256sha256",
    "nsec3": True,
    "zsk_lifetime": "30d",
    "ksk_lifetime": 0,
    "dnskey_ttl": 3600,
    "zone_max_ttl": 86400,
    "propagation_delay": "1h",
    "cds_cdnskey": True,
    "parent_servers": [],
    "ksk_submission_check_interval": "1h",
}
SOA_DEFAULTS: dict[str, Any] = {
    "hostmaster": "hostmaster",
    "refresh": 14400,
    "retry": 3600,
    "expire": 1209600,
    "negative_ttl": 3600,
}
ALGORITHMS = ("ecdsap256sha256", "ecdsap384sha384", "ed25519")
DURATIONS = ("zsk_lifetime", "ksk_lifetime", "dnskey_ttl", "zone_max_ttl", "propagation_delay",
             "ksk_submission_check_interval")
# Durations that must be positive; the lifetimes may be 0 (no scheduled rollover).
POSITIVE = ("dnskey_ttl", "zone_max_ttl", "ksk_submission_check_interval")
ZONE_KEYS = {"name", "records", "nameservers", "secondaries", "dnssec", "dnssec_policy", "ttl",
             "acme_challenge_updates"}
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(\d+)([smhdw]?)$")
MAX_TTL = 2147483647


def duration_seconds(value: Any, where: str) -> int:
    """``value`` (an integer of seconds, or ``<n>[smhdw]`` as Knot writes TIME values) in seconds."""
    if isinstance(value, bool):
        raise AnsibleFilterError(f"{where} must be a duration (seconds, or e.g. 30d, 1h, 90s), got {value!r}")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION_RE.match(str(value).strip())
        if not match:
            raise AnsibleFilterError(f"{where} must be a duration (seconds, or e.g. 30d, 1h, 90s), got {value!r}")
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0 or seconds > MAX_TTL:
        raise AnsibleFilterError(f"{where} must be between 0 and {MAX_TTL} seconds, got {value!r}")
    return seconds


def zone_name(value: Any, where: str) -> str:
    """A zone name without the trailing dot, lower case."""
    name = str(value).strip().rstrip(".").lower() if isinstance(value, str) else ""
    problem = bulwark_dns.name_problem(name) if name else "it is empty"
    if problem:
        raise AnsibleFilterError(f"{where}: {value!r} is not a zone name: {problem}")
    return name


def address(value: Any, where: str) -> str:
    """An IPv4 or IPv6 address, in its canonical text."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise AnsibleFilterError(f"{where}: {value!r} is not an IP address") from None


def ns_name(value: Any, zone: str, where: str) -> str:
    """A name server name, absolute with the trailing dot; relative names are taken inside ``zone``."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    absolute = text[:-1] if text.endswith(".") else (f"{text}.{zone}" if text not in ("", "@") else zone)
    problem = bulwark_dns.name_problem(absolute) if text else "it is empty"
    if problem:
        raise AnsibleFilterError(f"{where}: {value!r} is not a host name: {problem}")
    return absolute + "."


def policy(raw: Mapping[str, Any] | None, base: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The effective signing policy: ``raw`` over ``base``, durations in seconds, addresses canonical."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(POLICY_DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"{where}: unknown option {unknown[0]!r}; known: {', '.join(POLICY_DEFAULTS)}")
    merged = {**POLICY_DEFAULTS, **base, **raw}
    result: dict[str, Any] = {}
    if merged["algorithm"] not in ALGORITHMS:
        raise AnsibleFilterError(f"{where}.algorithm must be one of {', '.join(ALGORITHMS)}, "
                                 f"got {merged['algorithm']!r}")
    result["algorithm"] = merged["algorithm"]
    for flag in ("nsec3", "cds_cdnskey"):
        if not isinstance(merged[flag], bool):
            raise AnsibleFilterError(f"{where}.{flag} must be true or false, got {merged[flag]!r}")
        result[flag] = merged[flag]
    for key in DURATIONS:
        result[key] = duration_seconds(merged[key], f"{where}.{key}")
        if key in POSITIVE and result[key] == 0:
            raise AnsibleFilterError(f"{where}.{key} must be more than 0, got {merged[key]!r}")
    servers = merged["parent_servers"]
    if not isinstance(servers, Sequence) or isinstance(servers, str):
        raise AnsibleFilterError(f"{where}.parent_servers must be a list of addresses, got {servers!r}")
    result["parent_servers"] = [address(server, f"{where}.parent_servers") for server in servers]
    return result


def record_lines(records: Any, where: str) -> list[str]:
    """The zone's own record lines: one record per line, no SOA (the role writes it), no directives."""
    if not isinstance(records, Sequence) or isinstance(records, str):
        raise AnsibleFilterError(f"{where} must be a list of zone-file lines, got {records!r}")
    lines = []
    for number, line in enumerate(records):
        here = f"{where}[{number}]"
        if not isinstance(line, str) or not line.strip():
            raise AnsibleFilterError(f"{here} must be a zone-file line such as 'www 3600 IN A 192.0.2.10', "
                                     f"got {line!r}")
        if "\n" in line.strip() or "\r" in line:
            raise AnsibleFilterError(f"{here} must be one line, got {line[:80]!r}")
        text = line.strip()
        if text.startswith("$"):
            raise AnsibleFilterError(f"{here}: directives such as $INCLUDE, $ORIGIN and $TTL are not records, "
                                     f"got {text[:80]!r}")
        if "(" in text.split(";", 1)[0] or ")" in text.split(";", 1)[0]:
            raise AnsibleFilterError(f"{here}: write the record on one line, without parentheses, "
                                     f"got {text[:80]!r}")
        if re.search(r"(^|\s)SOA(\s|$)", text.split(";", 1)[0], re.I):
            raise AnsibleFilterError(f"{here}: the SOA record is the role's (dns_zone_soa), got {text[:80]!r}")
        lines.append(text)
    return lines


def _nameservers(raw: Any, zone: str, default: Sequence[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    items = default if raw is None else raw
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise AnsibleFilterError(f"{where} must be a non-empty list of names or {{name, address}}, got {raw!r}")
    result = []
    for number, item in enumerate(items):
        here = f"{where}[{number}]"
        entry = dict(item) if isinstance(item, Mapping) else {"name": item}
        name = ns_name(entry.get("name"), zone, here)
        addresses = entry.get("address", [])
        addresses = [addresses] if isinstance(addresses, str) else list(addresses or [])
        result.append({"name": name, "addresses": [address(a, f"{here}.address") for a in addresses]})
    return result


def dns_zone_model(zones: Any, dnssec: Mapping[str, Any] | None = None, soa: Mapping[str, Any] | None = None,
                   ttl: Any = 3600, primary_name: str = "ns", primary_address: Any = None) -> list[dict[str, Any]]:
    """``dns_zone_zones`` checked and normalised: each zone with its name, TTL, SOA, name servers (names
    absolute, with their addresses), secondaries, record lines, signing policy (or None) and ACME flag."""
    if not isinstance(zones, Sequence) or isinstance(zones, str):
        raise AnsibleFilterError(f"dns_zone_zones must be a list of zones, got {zones!r}")
    base_policy = policy(dnssec, {}, "dns_zone_dnssec")
    soa = {**SOA_DEFAULTS, **(soa or {})}
    unknown = sorted(set(soa) - set(SOA_DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"dns_zone_soa: unknown option {unknown[0]!r}; known: {', '.join(SOA_DEFAULTS)}")
    soa_times = {key: duration_seconds(soa[key], f"dns_zone_soa.{key}") for key in SOA_DEFAULTS if key != "hostmaster"}
    default_ttl = duration_seconds(ttl, "dns_zone_ttl")
    default_ns: list[dict[str, Any]] = [{"name": primary_name}]
    if primary_address not in (None, ""):
        default_ns[0]["address"] = [address(primary_address, "dns_zone_primary_address")]
    seen: set[str] = set()
    result = []
    for number, raw in enumerate(zones):
        if not isinstance(raw, Mapping) or "name" not in raw:
            raise AnsibleFilterError(f"dns_zone_zones[{number}] must be a mapping with a name, got {raw!r}")
        name = zone_name(raw["name"], f"dns_zone_zones[{number}].name")
        where = f"dns_zone_zones[{name}]"
        unknown = sorted(set(raw) - ZONE_KEYS)
        if unknown:
            raise AnsibleFilterError(f"{where}: unknown option {unknown[0]!r}; known: {', '.join(sorted(ZONE_KEYS))}")
        if name in seen:
            raise AnsibleFilterError(f"dns_zone_zones: zone {name!r} is declared twice")
        seen.add(name)
        signed = raw.get("dnssec", True)
        if not isinstance(signed, bool):
            raise AnsibleFilterError(f"{where}.dnssec must be true or false, got {signed!r}")
        acme = raw.get("acme_challenge_updates", False)
        if not isinstance(acme, bool):
            raise AnsibleFilterError(f"{where}.acme_challenge_updates must be true or false, got {acme!r}")
        secondaries = raw.get("secondaries", [])
        if not isinstance(secondaries, Sequence) or isinstance(secondaries, str):
            raise AnsibleFilterError(f"{where}.secondaries must be a list of addresses, got {secondaries!r}")
        zone_policy = policy(raw.get("dnssec_policy"), dnssec or {}, f"{where}.dnssec_policy") \
            if raw.get("dnssec_policy") else base_policy
        hostmaster = str(soa["hostmaster"]).replace("@", ".")
        result.append({
            "name": name,
            "ttl": duration_seconds(raw.get("ttl", default_ttl), f"{where}.ttl"),
            "soa": {"hostmaster": ns_name(hostmaster, name, "dns_zone_soa.hostmaster"), **soa_times},
            "nameservers": _nameservers(raw.get("nameservers"), name, default_ns, f"{where}.nameservers"),
            "secondaries": [address(s, f"{where}.secondaries") for s in secondaries],
            "records": record_lines(raw.get("records", []), f"{where}.records"),
            "dnssec": zone_policy if signed else None,
            "acme_challenge_updates": acme,
        })
    return result


class FilterModule:
    """dns_zone filters."""

    def filters(self) -> dict[str, Any]:
        return {"dns_zone_model": dns_zone_model}
