#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ask every authoritative name server of a zone whether it serves a key's TLSA record (checked, not assumed)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acme_tlsa_observe
short_description: Check that every authoritative server of a zone serves a key's TLSA record
description:
  - For each check, finds the zone of every TLSA owner name (C(_443._tcp.www.example.org)), the zone's name
    servers (NS) and their addresses, then asks each server directly, without recursion, for the owner's TLSA
    records. A server serves the key when its authoritative answer holds a record with usage 1 or 3 and
    selector 1 whose data is the SHA-256 (matching type 1) or SHA-512 (2) of the key's SubjectPublicKeyInfo.
  - Read-only; runs on the controller (delegated to localhost) and needs dnspython there.
options:
  checks:
    description: What to look for.
    type: list
    elements: dict
    required: true
    suboptions:
      id: {description: Name of the check (the certificate id)., type: str, required: true}
      owners: {description: TLSA owner names., type: list, elements: str, required: true}
      spki_sha256: {description: Hex SHA-256 of the key's SubjectPublicKeyInfo (empty - no staged key - never serves)., type: str, default: ""}
      spki_sha512: {description: Hex SHA-512 of the same., type: str, default: ""}
  resolvers:
    description:
      - Addresses of the recursive (or authoritative) servers used to find zones, name servers and their
        addresses. Empty uses the controller's resolver configuration.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 3
requirements: [dnspython]
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode (it never changes anything).
"""

EXAMPLES = r"""
- name: Is the next key's TLSA record served by every authoritative server?
  acme_tlsa_observe:
    checks:
      - id: www/ecdsa
        owners: [_443._tcp.www.example.org]
        spki_sha256: "{{ next_key_sha256 }}"
  delegate_to: localhost
  register: seen
"""

RETURN = r"""
observations:
  description:
    - By check id; C(all_serve) (every server of every owner's zone serves the key), C(ttl) (largest TTL of the
      TLSA record sets), C(servers) (C(name), C(address), C(owner), C(serves), C(ttl), C(error)), C(error).
  returned: always
  type: dict
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import dns.flags
    import dns.message
    import dns.query
    import dns.rdatatype
    import dns.resolver
except ImportError:  # reported by main()
    dns = None  # type: ignore[assignment]


@dataclass
class Answer:
    authoritative: bool
    ttl: int
    records: list[tuple[int, int, int, str]]  # usage, selector, matching type, hex data


Finder = Callable[[str], "tuple[str, list[tuple[str, str]]]"]  # owner -> (zone, [(ns name, address)])
Asker = Callable[[str, str], Answer]  # (owner, address) -> Answer


def serves(answer: Answer, sha256: str, sha512: str) -> bool:
    """Whether ``answer`` holds a DANE-EE/PKIX-EE SPKI record for the key with these digests."""
    wanted = {1: sha256.lower(), 2: sha512.lower()}
    return any(usage in (1, 3) and selector == 1 and wanted.get(mtype) and data.lower() == wanted[mtype]
               for usage, selector, mtype, data in answer.records)


def observe(checks: Sequence[dict[str, Any]], find: Finder, ask: Asker) -> dict[str, Any]:
    """Observations of every check (pure, given the two lookups)."""
    result: dict[str, Any] = {}
    for check in checks:
        servers: list[dict[str, Any]] = []
        error = None
        if not check.get("spki_sha256"):
            result[check["id"]] = {"all_serve": False, "ttl": None, "servers": [], "error": "no staged key"}
            continue
        for owner in check["owners"]:
            try:
                zone, nameservers = find(owner)
            except Exception as exc:  # noqa: BLE001 - any lookup failure means "not seen"
                error = f"cannot find the name servers of {owner}: {exc}"
                break
            if not nameservers:
                error = f"zone {zone} of {owner} lists no name server with an address"
                break
            for name, address in nameservers:
                entry: dict[str, Any] = {"owner": owner, "zone": zone, "name": name, "address": address,
                                         "serves": False, "ttl": None, "error": None}
                try:
                    answer = ask(owner, address)
                    entry["ttl"] = answer.ttl
                    entry["serves"] = answer.authoritative and serves(answer, check["spki_sha256"],
                                                                      check.get("spki_sha512", ""))
                    if not answer.authoritative:
                        entry["error"] = "answer is not authoritative"
                except Exception as exc:  # noqa: BLE001
                    entry["error"] = str(exc) or type(exc).__name__
                servers.append(entry)
        ttls = [s["ttl"] for s in servers if s["ttl"] is not None]
        result[check["id"]] = {"all_serve": error is None and bool(servers) and all(s["serves"] for s in servers),
                               "ttl": max(ttls) if ttls else None, "servers": servers, "error": error}
    return result


def dnspython_lookups(resolvers: Sequence[str], timeout: float) -> tuple[Finder, Asker]:
    resolver = dns.resolver.Resolver(configure=not resolvers)
    if resolvers:
        resolver.nameservers = list(resolvers)
    resolver.lifetime = timeout * 2
    resolver.timeout = timeout

    def find(owner: str) -> tuple[str, list[tuple[str, str]]]:
        zone = dns.resolver.zone_for_name(owner, resolver=resolver)
        found = []
        for ns in sorted(r.target.to_text() for r in resolver.resolve(zone, "NS")):
            for rdtype in ("A", "AAAA"):
                try:
                    found += [(ns, r.address) for r in resolver.resolve(ns, rdtype)]
                except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                    continue
        return zone.to_text(), found

    def ask(owner: str, address: str) -> Answer:
        query = dns.message.make_query(owner, "TLSA")
        query.flags &= ~dns.flags.RD
        response = dns.query.udp(query, address, timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, address, timeout=timeout)
        records, ttl = [], 0
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TLSA:
                ttl = rrset.ttl
                records += [(r.usage, r.selector, r.mtype, r.cert.hex()) for r in rrset]
        return Answer(bool(response.flags & dns.flags.AA), ttl, records)

    return find, ask


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "checks": {"type": "list", "elements": "dict", "required": True, "options": {
                "id": {"type": "str", "required": True},
                "owners": {"type": "list", "elements": "str", "required": True},
                "spki_sha256": {"type": "str", "default": ""},
                "spki_sha512": {"type": "str", "default": ""},
            }},
            "resolvers": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 3},
        },
        supports_check_mode=True,
    )
    if dns is None:
        module.fail_json(msg=missing_required_lib("dnspython"))
    find, ask = dnspython_lookups(module.params["resolvers"], module.params["timeout"])
    module.exit_json(changed=False, observations=observe(module.params["checks"], find, ask))


if __name__ == "__main__":
    main()
