# -*- coding: utf-8 -*-
"""The decisions of the acme_certificates role, as pure functions the unit tests drive without a host or a CA.

Filters:

* ``acme_certificate_items`` - checks ``acme_certificates_list`` and the role's settings before anything
  changes, and expands every entry into one certificate per key type.
* ``acme_inventory_zones`` - the zones the inventory's dns_zone hosts serve, and which of them takes dns-01
  updates (the host is then the zone's primary for acme_certificates).
* ``acme_plan`` - from what the host holds (the acme_host module's inspection), what the CA says (ARI) and
  what the authoritative name servers serve (acme_tlsa_observe), decides for every certificate the one safe
  step of this run: nothing, a renewal with the same key, or the next step of a DANE-safe key rollover.

Rollover phases (kept on the host by acme_host, in ``<dir>/<name>/<key type>.state.json``):

1. ``staged``: the next key exists on the host; its TLSA record is published beside the current one
   (dns_records reads ``<key type>.next.pub`` through the host's local fact). Waits until every
   authoritative server of each TLSA owner's zone serves it.
2. ``published``: every server has served it since ``published_since``; waits until that is at least twice
   the record's TTL ago (and every server still serves it), then orders a certificate for the next key and
   switches the served key and certificate in one unit.
3. ``withdrawing``: the old key's record stays published (``<key type>.previous.pub``) for one more TTL
   after the switch, then is withdrawn and the rollover is over.

Each run advances at most one step, and the step is decided from the host's files (a run killed after the
switch but before the state was written is recognised by the served key being the staged one). A certificate
without TLSA owners (``tlsa: []``, a web site's ``acme.dane: false``) has nothing to wait for: its rollover is
done in one run.

* ``acme_dns01_updates`` - the dns-01 TXT records of an order, grouped by the zone and primary that take them.
"""

from __future__ import annotations

import datetime
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_acme, bulwark_dns
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_acme  # type: ignore[no-redef]
    import bulwark_dns  # type: ignore[no-redef]

KEY_TYPES = bulwark_acme.KEY_TYPES
CHALLENGES = bulwark_acme.CHALLENGES
PROTOS = ("tcp", "udp", "sctp")
ITEM_KEYS = ("name", "domains", "key_types", "challenge", "service", "test_command", "tlsa", "rollover_before")
ITEM_DEFAULTS: dict[str, Any] = {"key_types": ["ecdsa"], "challenge": "http-01", "tlsa": [{"port": 443, "proto": "tcp"}]}
# A file stem: an entry's name, or a web site's id (its name, "*" spelled "_wildcard").
_NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9._-]{0,252}$")
_SERVICE_RE = re.compile(r"^[A-Za-z0-9@._:-]+$")
DAY = 86400
# How long an ARI answer stands for the stamps role (site.yml asks again after at most this long). RFC 9773 section
# 4.3 has clients poll on the server's Retry-After; acme_ca_status does not read it, so a fixed 6 hours.
ARI_POLL = 6 * 3600
STEPS = 4  # stage, publish, switch, withdraw


def parse_time(text: Any) -> int | None:
    """Seconds since the epoch of an ISO 8601 time (``2025-06-01``, ``2025-06-01T12:00:00Z``) or an integer.

    Empty means none; a time without a zone is UTC. Raises ValueError for anything else.
    """
    if text is None or text == "":
        return None
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a time")
    if isinstance(text, (int, float)):
        return int(text)
    if isinstance(text, datetime.datetime):
        value = text
    elif isinstance(text, datetime.date):
        value = datetime.datetime(text.year, text.month, text.day)
    else:
        raw = str(text).strip()
        if raw.isdigit():
            return int(raw)
        value = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return int(value.timestamp())


def _zone_of(name: str, zones: Sequence[str]) -> str | None:
    name = name.lower().rstrip(".")
    best = None
    for zone in zones:
        zone_name = zone.lower().rstrip(".")
        if (name == zone_name or name.endswith("." + zone_name)) and (best is None or len(zone_name) > len(best)):
            best = zone_name
    return best


def _check_settings(settings: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in ("directory", "backup_directory"):
        url = str(settings.get(key) or "")
        if key == "directory" and not url:
            problems.append("acme_directory: is empty; give the CA's ACME directory URL (https://...)")
        elif url and not re.match(r"^https://[A-Za-z0-9.\[\]:-]+(?::\d+)?(?:/\S*)?$", url):
            problems.append(f"acme_{key}: {url!r} is not an https:// URL (ACME needs HTTPS, RFC 8555 section 6.1)")
    if settings.get("directory") and settings.get("directory") == settings.get("backup_directory"):
        problems.append("acme_backup_directory: is the same CA as acme_directory; name a second CA or leave it empty")
    for key, low in (("renew_days", 1), ("key_max_age_days", 0), ("expiry_alarm_days", 1)):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(f"acme_{key}: {value!r} is not a whole number of days >= {low}")
    if not settings.get("terms_agreed"):
        problems.append("acme_terms_agreed: is false; read the CA's terms of service (the ACME directory's "
                        "meta.termsOfService) and set it to true")
    try:
        parse_time(settings.get("rollover_before"))
    except (TypeError, ValueError):
        problems.append(f"acme_rollover_before: {settings.get('rollover_before')!r} is not an ISO 8601 time")
    return problems


def _check_item(label: str, item: Any, settings: Mapping[str, Any], zones: Sequence[str],
                dns01_zones: Sequence[str]) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(item, Mapping):
        return [], [f"{label}: {item!r} is not a mapping with name and domains"]
    label = f"{label} ({item.get('name', '?')})"
    problems: list[str] = []
    entry = {**ITEM_DEFAULTS, **{k: v for k, v in item.items() if v is not None}}
    for key in sorted(set(entry) - set(ITEM_KEYS)):
        problems.append(f"{label}: unknown key {key!r}; known: {', '.join(ITEM_KEYS)}")
    name = str(entry.get("name", ""))
    if not _NAME_RE.match(name):
        problems.append(f"{label}: name {name!r} must be lower-case letters, digits, '.', '_' or '-', not starting "
                        "with '.' or '-' (it names the certificate's files)")
    domains = entry.get("domains")
    if not isinstance(domains, list) or not domains:
        problems.append(f"{label}: domains must be a non-empty list of DNS names")
        domains = []
    domains = [str(d).lower().rstrip(".") for d in domains]
    for domain in domains:
        problem = bulwark_dns.name_problem(domain, wildcard=True)
        if problem:
            problems.append(f"{label}: domain {domain!r} is not a DNS name: {problem}")
    for domain in sorted({d for d in domains if domains.count(d) > 1}):
        problems.append(f"{label}: domain {domain} is listed twice")
    key_types = entry.get("key_types")
    if not isinstance(key_types, list) or not key_types:
        problems.append(f"{label}: key_types must be a non-empty list of {', '.join(KEY_TYPES)}")
        key_types = []
    for key_type in key_types:
        if key_type not in KEY_TYPES:
            problems.append(f"{label}: key type {key_type!r} is unknown; use {', '.join(KEY_TYPES)}")
    if len(set(map(str, key_types))) != len(key_types):
        problems.append(f"{label}: key_types lists a type twice ({', '.join(map(str, key_types))})")
    challenge = entry.get("challenge")
    if challenge not in CHALLENGES:
        problems.append(f"{label}: challenge {challenge!r} is unknown; use {' or '.join(CHALLENGES)}")
    wildcards = [d for d in domains if d.startswith("*.")]
    if wildcards and challenge == "http-01":
        problems.append(f"{label}: {', '.join(wildcards)} is a wildcard, which only dns-01 can prove "
                        "(RFC 8555 section 7.1.3); set challenge: dns-01")
    if zones:
        for domain in domains:
            if _zone_of(domain.removeprefix("*."), zones) is None:
                problems.append(f"{label}: domain {domain} is in none of the zones {', '.join(zones)} "
                                "(acme_dns_zones)")
    if challenge == "dns-01":
        for domain in domains:
            if _zone_of(domain.removeprefix("*."), dns01_zones) is None:
                problems.append(f"{label}: dns-01 for {domain} needs a zone that a dns_zone host serves with "
                                "acme_challenge_updates: true (or an acme_dns_zones entry with its primary); none "
                                f"covers it (zones taking ACME updates: {', '.join(dns01_zones) or 'none'})")
    tlsa = entry.get("tlsa")
    if not isinstance(tlsa, list):
        problems.append(f"{label}: tlsa must be a list of {{port, proto}} (empty: no DANE)")
        tlsa = []
    owners = []
    for number, owner in enumerate(tlsa):
        port = owner.get("port") if isinstance(owner, Mapping) else None
        proto = owner.get("proto", "tcp") if isinstance(owner, Mapping) else None
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            problems.append(f"{label}: tlsa[{number}].port {port!r} is not 1-65535")
            continue
        if proto not in PROTOS:
            problems.append(f"{label}: tlsa[{number}].proto {proto!r} is not one of {', '.join(PROTOS)}")
            continue
        owners += [f"_{port}._{proto}.{d}" for d in domains if not d.startswith("*.")]
    service = entry.get("service", settings.get("service")) or ""
    if service and not _SERVICE_RE.match(str(service)):
        problems.append(f"{label}: service {service!r} is not a systemd unit name")
    command = entry.get("test_command", settings.get("test_command")) or []
    if not isinstance(command, list) or not all(isinstance(part, str) and part for part in command):
        problems.append(f"{label}: test_command must be a list of strings (argv), e.g. [nginx, -t]")
        command = []
    try:
        rollover_before = parse_time(entry.get("rollover_before", settings.get("rollover_before")))
    except (TypeError, ValueError):
        problems.append(f"{label}: rollover_before {entry.get('rollover_before')!r} is not an ISO 8601 time")
        rollover_before = None
    expanded = []
    for key_type in key_types:
        if key_type in KEY_TYPES:
            expanded.append({"name": name, "key_type": key_type, "id": f"{name}/{key_type}", "domains": domains,
                             "challenge": challenge, "service": str(service), "test_command": list(command),
                             "tlsa_owners": owners, "tlsa": [dict(o) for o in tlsa if isinstance(o, Mapping)],
                             "rollover_before": rollover_before})
    return expanded, problems


def _zone_entries(zones_raw: Any, where: str, problems: list[str]) -> list[dict[str, str]]:
    """``[{zone, primary}]`` checked; a bad entry is a problem naming ``where`` and its index."""
    if not isinstance(zones_raw, list):
        problems.append(f"{where}: must be a list of {{zone, primary}}, got {type(zones_raw).__name__}")
        return []
    zones = []
    for number, zone in enumerate(zones_raw):
        if not isinstance(zone, Mapping) or bulwark_dns.name_problem(str(zone.get("zone", "")).rstrip(".")):
            problems.append(f"{where}[{number}]: {_short(zone)} needs zone: <DNS name> (and primary: <host>)")
            continue
        zones.append({"zone": str(zone["zone"]).lower().rstrip("."), "primary": str(zone.get("primary") or "")})
    return zones


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dns_zones(settings: Mapping[str, Any]) -> list[dict[str, str]]:
    """The zones dns-01 can use, ``[{zone, primary}]``: acme_dns_zones' entries first, then the zones the
    inventory's dns_zone hosts serve with ACME updates (``served_zones``); the first entry of a zone wins."""
    found: dict[str, dict[str, str]] = {}
    for zone in _zone_entries(settings.get("dns_zones") or [], "acme_dns_zones", []) + \
            _zone_entries(settings.get("served_zones") or [], "served_zones", []):
        if zone["primary"]:
            found.setdefault(zone["zone"], zone)
    return list(found.values())


def acme_certificate_items(items: Any, settings: Mapping[str, Any] | None = None,
                           sites: Any = None) -> dict[str, Any]:
    """Check ``acme_certificates_list`` and the role's settings; expand one entry per key type.

    ``settings`` carries the role's other variables without their ``acme_`` prefix: directory,
    backup_directory, renew_days, key_max_age_days, expiry_alarm_days, terms_agreed, rollover_before,
    dns_zones (``acme_dns_zones``, ``[{zone, primary}]``: names outside them are refused when it is not empty; a
    primary means dns-01 works in that zone) and served_zones (the same shape, from the inventory's dns_zone hosts
    by acme_inventory_zones: only their primaries count, for dns-01). ``sites`` are more entries, from the web
    roles' ``tls_sites`` with ``acme:``, named ``tls_sites (<name>)`` in messages. Returns ``{certificates,
    host, problems}``; every problem names the entry and the bad value.
    """
    settings = dict(settings or {})
    if not isinstance(items, list):
        raise AnsibleFilterError(f"acme_certificates_list must be a list, got {type(items).__name__}")
    if sites is not None and not isinstance(sites, list):
        raise AnsibleFilterError(f"acme_certificate_items: sites must be a list, got {type(sites).__name__}")
    problems = _check_settings(settings)
    zones = [z["zone"] for z in _zone_entries(settings.get("dns_zones") or [], "acme_dns_zones", problems)]
    dns01_zones = [z["zone"] for z in dns_zones(settings)]
    certificates = []
    labelled = [(f"acme_certificates_list[{index}]", item) for index, item in enumerate(items)]
    labelled += [("tls_sites", item) for item in sites or []]
    for label, item in labelled:
        expanded, item_problems = _check_item(label, item, settings, zones, dns01_zones)
        certificates += expanded
        problems += item_problems
    seen: set[str] = set()
    for cert in certificates:
        if cert["id"] in seen:
            problems.append(f"acme_certificates_list: {cert['name']} is listed twice")
        seen.add(cert["id"])
    owners: dict[str, str] = {}
    for cert in certificates:
        for domain in cert["domains"]:
            other = owners.setdefault(f"{domain}/{cert['key_type']}", cert["name"])
            if other != cert["name"]:
                problems.append(f"acme_certificates_list: {domain} has two {cert['key_type']} certificates "
                                f"({other} and {cert['name']})")
    host = [{k: c[k] for k in ("id", "name", "key_type", "domains", "challenge", "tlsa")} for c in certificates]
    return {"certificates": certificates, "host": host, "problems": list(dict.fromkeys(problems))}


def _observed(dns: Mapping[str, Any], cert_id: str) -> Mapping[str, Any]:
    return dns.get(cert_id) or {"all_serve": False, "servers": [], "ttl": None, "error": "not checked"}


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _renewal_reason(cert: Mapping[str, Any], host: Mapping[str, Any], settings: Mapping[str, Any],
                    ari: Mapping[str, Any], now: float) -> str | None:
    served = host.get("cert") or {}
    key = host.get("key") or {}
    if not served.get("exists"):
        return "no certificate yet"
    if served.get("error"):
        return f"the certificate on the host cannot be read ({served['error']})"
    if served.get("spki") != key.get("spki"):
        return "the certificate does not belong to the served key"
    wanted = sorted(cert["domains"])
    if sorted(served.get("names") or []) != wanted:
        return f"the names changed (certificate: {', '.join(sorted(served.get('names') or []))}; wanted: " \
               f"{', '.join(wanted)})"
    days_left = (float(served.get("not_after", 0)) - now) / DAY
    if days_left < int(settings.get("renew_days", 30)):
        return f"{days_left:.1f} days left, fewer than acme_renew_days ({settings.get('renew_days', 30)})"
    verdict = ari.get(cert["id"]) or {}
    if verdict.get("should_renew"):
        return f"the CA's renewal information (ARI, RFC 9773) says so: {verdict.get('msg') or 'renewal window'}"
    if settings.get("force_renewal"):
        return "forced (acme_force_renewal)"
    return None


def _rollover(cert: Mapping[str, Any], host: Mapping[str, Any], settings: Mapping[str, Any],
              dns: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The rollover step of this run: {step, op, order, text} (op: host state change; order: 'next')."""
    state = host.get("state") or {}
    phase = state.get("phase") or "none"
    key = host.get("key") or {}
    label = cert["id"]
    if phase in ("staged", "published") and state.get("next") and key.get("id") == state.get("next"):
        if not cert["tlsa_owners"]:
            return {"step": 4, "ops": ["switched", "withdrawn"], "order": None,
                    "text": f"{label}: rollover: the server already uses the next key (an earlier run switched and "
                            "stopped); recording the switch. Rollover complete (no TLSA owners to wait for)"}
        return {"step": 3, "op": "switched", "order": None,
                "text": f"{label}: rollover step 3/{STEPS}: the server already uses the next key (an earlier run "
                        "switched and stopped); recording the switch"}
    if phase == "withdrawing" and not cert["tlsa_owners"]:
        return {"step": 4, "op": "withdrawn", "order": None,
                "text": f"{label}: rollover step 4/{STEPS}: no TLSA owners to wait for; withdrawing the old key. "
                        "Rollover complete"}
    if phase == "withdrawing":
        ttl = int(state.get("ttl") or 0)
        due = float(state.get("switched_at") or 0) + ttl
        if now >= due:
            return {"step": 4, "op": "withdrawn", "order": None,
                    "text": f"{label}: rollover step 4/{STEPS}: the old key's TLSA record has been published one TTL "
                            f"({ttl}s) past the switch; withdrawing it. Rollover complete"}
        return {"step": 4, "op": None, "order": None,
                "text": f"{label}: rollover step 4/{STEPS}: waiting until {_when(due)} (one TTL, {ttl}s, after the "
                        "switch) to withdraw the old key's TLSA record"}
    if phase in ("staged", "published"):
        if not cert["tlsa_owners"]:
            return {"step": 3, "ops": ["published"] if phase == "staged" else [], "order": "next",
                    "text": f"{label}: rollover step 3/{STEPS}: no TLSA owners to wait for; ordering a certificate "
                            "for the next key and switching"}
        seen = _observed(dns, label)
        servers = seen.get("servers") or []
        serving = [s for s in servers if s.get("serves")]
        tally = f"{len(serving)}/{len(servers)} authoritative servers"
        if not seen.get("all_serve"):
            missing = ", ".join(f"{s.get('name')} ({s.get('address')})" for s in servers if not s.get("serves"))
            why = seen.get("error") or f"not yet served by {missing or 'any server'}"
            op = "unpublished" if phase == "published" else None
            return {"step": 2, "op": op, "order": None,
                    "text": f"{label}: rollover step 2/{STEPS}: waiting until every authoritative server serves the "
                            f"next key's TLSA record at {', '.join(cert['tlsa_owners'])} ({tally}; {why})"
                            + ("; the wait starts again" if op else "")}
        ttl = int(seen.get("ttl") or 0)
        if phase == "staged":
            return {"step": 2, "op": "published", "order": None, "ttl": ttl,
                    "text": f"{label}: rollover step 2/{STEPS}: the next key's TLSA record is served by {tally} "
                            f"(TTL {ttl}s); waiting until {_when(now + 2 * ttl)} (twice the TTL) to switch"}
        since = float(state.get("published_since") or now)
        ttl = max(ttl, int(state.get("ttl") or 0))
        due = since + 2 * ttl
        if now < due:
            return {"step": 2, "op": None, "order": None,
                    "text": f"{label}: rollover step 2/{STEPS}: served by {tally} since {_when(since)}; waiting until "
                            f"{_when(due)} (twice the TTL, {ttl}s) to switch"}
        return {"step": 3, "op": None, "order": "next", "ttl": ttl,
                "text": f"{label}: rollover step 3/{STEPS}: served by {tally} for {int(now - since)}s (>= 2 x TTL "
                        f"{ttl}s); ordering a certificate for the next key and switching the server to it"}
    created = key.get("created")
    max_age = int(settings.get("key_max_age_days") or 0)
    reason = None
    if created is not None and cert.get("rollover_before") and created < cert["rollover_before"]:
        reason = f"the key was made before {_when(cert['rollover_before'])} (rollover_before)"
    elif created is not None and max_age and now - created > max_age * DAY:
        reason = f"the key is {int((now - created) / DAY)} days old, older than acme_key_max_age_days ({max_age})"
    if reason and (host.get("cert") or {}).get("exists"):
        if not cert["tlsa_owners"]:
            # Nothing to publish or wait for: stage, switch and withdraw in this run.
            return {"step": 1, "ops": ["stage", "published"], "order": "next",
                    "text": f"{label}: rollover: {reason}; no TLSA owners to wait for, so the whole rollover is done "
                            "in this run (next key, certificate, switch)"}
        return {"step": 1, "op": "stage", "order": None,
                "text": f"{label}: rollover step 1/{STEPS}: {reason}; making the next key and publishing its TLSA "
                        "record beside the current one"}
    return {"step": 0, "op": None, "order": None, "text": ""}


def acme_plan(inspection: Mapping[str, Any], certificates: Sequence[Mapping[str, Any]],
              settings: Mapping[str, Any] | None = None, ari: Mapping[str, Any] | None = None,
              dns: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """This run's step for every certificate.

    ``inspection`` is acme_host's result (``now`` and ``certificates`` by ``id``), ``ari`` maps an id to
    acme_certificate_renewal_info's verdict, ``dns`` maps an id to acme_tlsa_observe's observation of the
    next key's TLSA record. Returns ``{certificates: [...], ops: [...], orders: [...], messages: [...],
    observe: [...], ari: [...]}``: ``ops`` are state changes for acme_host, ``orders`` certificates to
    order (``key``: current or next; ``urgent`` when the served one expires within the alarm window),
    ``observe`` the ids whose next key's TLSA record must be looked up, ``ari`` the ids worth asking the
    CA about (with their certificate's issuer, to pick the CA).
    """
    settings = dict(settings or {})
    ari = ari_verdicts(ari)
    dns = dict(dns or {})
    now = float(inspection.get("now") or 0)
    by_id = {c["id"]: c for c in inspection.get("certificates", [])}
    result: dict[str, Any] = {"certificates": [], "ops": [], "orders": [], "messages": [], "observe": [], "ari": []}
    dues: list[float] = []
    alarm = int(settings.get("expiry_alarm_days", 7))
    for cert in certificates:
        host = by_id.get(cert["id"], {})
        served = host.get("cert") or {}
        days_left = (float(served["not_after"]) - now) / DAY if served.get("exists") and served.get("not_after") \
            else None
        step = _rollover(cert, host, settings, dns, now)
        renewal = _renewal_reason(cert, host, settings, ari, now)
        state = host.get("state") or {}
        switched = "switched" in (step.get("ops") or [step.get("op")])
        if state.get("phase") in ("staged", "published") and cert["tlsa_owners"] and not switched:
            result["observe"].append({"id": cert["id"], "owners": cert["tlsa_owners"],
                                      "spki_sha256": (host.get("next") or {}).get("spki_sha256"),
                                      "spki_sha512": (host.get("next") or {}).get("spki_sha512")})
        if served.get("exists") and not served.get("error") and renewal is None:
            result["ari"].append({"id": cert["id"], "ca": served.get("ca") or "primary",
                                  "certificate": served.get("pem", "")})
        entry = {"id": cert["id"], "name": cert["name"], "key_type": cert["key_type"], "rollover_step": step["step"],
                 "days_left": None if days_left is None else round(days_left, 1), "renewal": renewal}
        for op in step.get("ops") or ([step["op"]] if step.get("op") else []):
            result["ops"].append({"id": cert["id"], "op": op, "ttl": step.get("ttl", 0)})
        if step["text"]:
            result["messages"].append(step["text"])
        order = None
        if step["order"] == "next":
            order = {"key": "next", "reason": "key rollover"}
        elif renewal and not switched:
            order = {"key": "current", "reason": renewal}
        if order:
            urgent = days_left is not None and days_left < alarm
            result["orders"].append({**order, "id": cert["id"], "name": cert["name"], "key_type": cert["key_type"],
                                     "domains": cert["domains"], "challenge": cert["challenge"],
                                     "service": cert["service"], "test_command": cert["test_command"],
                                     "urgent": urgent, "days_left": entry["days_left"],
                                     # Switched and withdrawn in this run: nothing to wait for (tlsa: []).
                                     "finish": "withdrawn" if order["key"] == "next" and not cert["tlsa_owners"]
                                     else ""})
            result["messages"].append(f"{cert['id']}: ordering a certificate ({order['reason']}, "
                                      f"{'the next' if order['key'] == 'next' else 'the same'} key)")
        entry["order"] = order
        result["certificates"].append(entry)
        dues += _dues(cert, host, settings, ari, now, asked=bool(result["ari"]) and result["ari"][-1]["id"] == cert["id"])
    busy = result["ops"] or result["orders"] or result["messages"] or inspection.get("pending_reloads")
    result["until"] = -1.0 if busy else min(dues, default=0.0)
    return result


def _dues(cert: Mapping[str, Any], host: Mapping[str, Any], settings: Mapping[str, Any], ari: Mapping[str, Any],
          now: float, asked: bool) -> list[float]:
    """The moments at which this certificate's plan could change with nothing else changing: its renewal date
    (acme_renew_days before expiry), its key's age limit, the CA's renewal window, the next ARI question."""
    served = host.get("cert") or {}
    dues = []
    if served.get("exists") and served.get("not_after"):
        dues.append(float(served["not_after"]) - int(settings.get("renew_days", 30)) * DAY)
    created, max_age = (host.get("key") or {}).get("created"), int(settings.get("key_max_age_days") or 0)
    if created is not None and max_age:
        dues.append(float(created) + max_age * DAY)
    if asked:
        dues.append(now + ARI_POLL)
        start = ((ari.get(cert["id"]) or {}).get("window") or {}).get("start")
        if start:
            try:
                dues.append(datetime.datetime.fromisoformat(str(start).replace("Z", "+00:00")).timestamp())
            except ValueError:
                pass
    return dues


def ari_verdicts(registered: Any) -> dict[str, Any]:
    """``{id: {should_renew, msg}}`` from acme_certificate_renewal_info's registered loop (or such a dict).

    A CA that did not answer gives no verdict: ARI is advice, the other reasons still apply.
    """
    if not registered:
        return {}
    if isinstance(registered, Mapping) and "results" not in registered:
        return dict(registered)
    verdicts = {}
    for result in registered.get("results", []) if isinstance(registered, Mapping) else []:
        item = result.get("item") or {}
        if result.get("skipped") or result.get("msg", "").startswith("Error") or "should_renew" not in result:
            continue
        verdicts[item.get("id")] = {"should_renew": bool(result.get("should_renew")) and
                                    bool(result.get("supports_ari")), "msg": result.get("msg", "")}
    return verdicts


def acme_accounts_missing(accounts: Any, cas: Mapping[str, Any]) -> bool:
    """Whether the host's fact lacks an account URL for one of the configured CAs' directories."""
    known = {a.get("directory") for a in accounts or [] if isinstance(a, Mapping) and a.get("account_uri")}
    return any(ca.get("directory") and ca["directory"] not in known for ca in cas.values())


def acme_account_fact(registered: Any, cas: Mapping[str, Any], previous: Any = None) -> list[dict[str, Any]]:
    """The accounts for the local fact: ``[{ca, directory, account_uri, caa_identity}]`` from acme_account's
    registered loop; a CA that did not answer keeps the URL the fact had for its directory."""
    before = {a.get("directory"): a.get("account_uri") for a in previous or [] if isinstance(a, Mapping)}
    found = {}
    for result in (registered or {}).get("results", []):
        item = result.get("item") or {}
        if result.get("account_uri"):
            found[item.get("key")] = result["account_uri"]
    accounts = []
    for name, ca in sorted(cas.items()):
        if not ca.get("directory"):
            continue
        uri = found.get(name) or before.get(ca["directory"])
        if uri:
            accounts.append({"ca": name, "directory": ca["directory"], "account_uri": uri,
                             "caa_identity": ca.get("caa_identity") or ""})
    return accounts


def acme_inventory_zones(hostvars: Mapping[str, Any], hosts: Any) -> list[dict[str, str]]:
    """``[{zone, primary}]`` for every zone a host of ``hosts`` serves with dns_zone (its ``dns_zone_zones``);
    ``primary`` is the host when the zone has ``acme_challenge_updates: true`` (the TSIG key and the update ACL
    are there), else empty. Hosts without dns_zone_zones add nothing."""
    if not isinstance(hosts, Sequence) or isinstance(hosts, str):
        raise AnsibleFilterError(f"acme_inventory_zones: hosts must be a list of inventory hosts, got "
                                 f"{type(hosts).__name__}")
    zones = []
    for host in hosts:
        if host not in hostvars:
            raise AnsibleFilterError(f"acme_inventory_zones: {_short(host)} is not an inventory host")
        served = hostvars[host].get("dns_zone_zones") or []
        if not isinstance(served, list):
            raise AnsibleFilterError(f"acme_inventory_zones: {host}: dns_zone_zones must be a list")
        for zone in served:
            if isinstance(zone, Mapping) and isinstance(zone.get("name"), str):
                zones.append({"zone": zone["name"].lower().rstrip("."),
                              "primary": str(host) if zone.get("acme_challenge_updates") is True else ""})
    return zones


def acme_dns01_updates(challenge_data_dns: Any, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The TXT records of an order's dns-01 challenges (acme_certificate_order_create's ``challenge_data_dns``,
    ``{record: [values]}``), grouped for the acme_dns01 module: ``[{primary, zone, records: [{name, values}]}]``,
    one entry per zone, with the primary that takes its updates (``dns_zones`` of the settings)."""
    if not challenge_data_dns:
        return []
    if not isinstance(challenge_data_dns, Mapping):
        raise AnsibleFilterError("acme_dns01_updates: the input must be challenge_data_dns ({record: [values]})")
    zones = {z["zone"]: z["primary"] for z in dns_zones(settings)}
    updates: dict[str, dict[str, Any]] = {}
    for record, values in sorted(challenge_data_dns.items()):
        name = str(record).lower().rstrip(".")
        if not name.startswith("_acme-challenge.") or bulwark_dns.name_problem(name.removeprefix("_acme-challenge.")):
            raise AnsibleFilterError(f"acme_dns01_updates: the CA sent an unexpected record name {_short(record)}")
        if not isinstance(values, list) or not all(re.fullmatch(r"[A-Za-z0-9_-]{1,128}", str(v)) for v in values):
            raise AnsibleFilterError(f"acme_dns01_updates: the CA sent unexpected TXT values for {name}")
        zone = _zone_of(name, list(zones))
        if zone is None:
            raise AnsibleFilterError(f"acme_dns01_updates: {name} is in no zone that takes ACME updates "
                                     f"({', '.join(zones) or 'none'})")
        entry = updates.setdefault(zone, {"primary": zones[zone], "zone": zone, "records": []})
        entry["records"].append({"name": name, "values": [str(v) for v in values]})
    return [updates[zone] for zone in sorted(updates)]


def acme_http01_tokens(challenge_data: Any, webroot: str) -> list[dict[str, str]]:
    """``[{path, content}]`` of the http-01 token files for acme_certificate_order_create's challenge_data."""
    tokens = []
    for entry in challenge_data or []:
        challenge = (entry.get("challenges") or {}).get("http-01")
        if not challenge:
            continue
        resource = str(challenge["resource"])
        if not re.fullmatch(r"\.well-known/acme-challenge/[A-Za-z0-9_-]+", resource):
            raise AnsibleFilterError(f"acme_http01_tokens: the CA sent an unexpected resource {resource!r}")
        tokens.append({"path": f"{webroot.rstrip('/')}/{resource}", "content": str(challenge["resource_value"])})
    return tokens


class FilterModule:
    """acme_certificates' decisions."""

    def filters(self) -> dict[str, Any]:
        return {"acme_certificate_items": acme_certificate_items, "acme_plan": acme_plan,
                "acme_accounts_missing": acme_accounts_missing, "acme_account_fact": acme_account_fact,
                "acme_http01_tokens": acme_http01_tokens, "acme_inventory_zones": acme_inventory_zones,
                "acme_dns01_updates": acme_dns01_updates}
