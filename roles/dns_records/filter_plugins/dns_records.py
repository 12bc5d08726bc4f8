"""Filters that arrange computed DNS records into per-zone fragments for the dns_records role."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION_NOTE = "Documented in docs/dns_records.md; used by roles/dns_records."


def _absolute(name: str) -> str:
    return name.rstrip(".").lower() + "."


def zone_for(owner: str, zones: Iterable[str]) -> str | None:
    """The longest zone of ``zones`` that contains ``owner`` (both DNS names), or None."""
    owner_abs = _absolute(owner)
    best: str | None = None
    for zone in zones:
        zone_abs = _absolute(zone)
        if owner_abs == zone_abs or owner_abs.endswith("." + zone_abs):
            if best is None or len(zone_abs) > len(_absolute(best)):
                best = zone
    return best


def zone_fragments(records: Any, zones: Any) -> dict[str, list[str]]:
    """Group zone-file ``records`` (lines whose first field is an absolute owner) by zone.

    Every zone in ``zones`` gets an entry, possibly empty, so that a zone whose last record goes
    away is rewritten rather than left stale. Lines are de-duplicated and sorted, so an unchanged
    fleet always produces byte-identical fragments. A record that belongs to no zone is an error
    naming the record.
    """
    if not isinstance(zones, (list, tuple)) or not all(isinstance(z, str) and z for z in zones):
        raise AnsibleFilterError(f"zone_fragments: dns_records_zones must be a list of zone names, got {zones!r}")
    if not isinstance(records, (list, tuple)):
        raise AnsibleFilterError(f"zone_fragments: records must be a list of zone-file lines, got {records!r}")
    fragments: dict[str, set[str]] = {zone.rstrip(".").lower(): set() for zone in zones}
    for record in records:
        if not isinstance(record, str) or not record.strip():
            raise AnsibleFilterError(f"zone_fragments: a record must be a zone-file line, got {record!r}")
        owner = record.split()[0]
        zone = zone_for(owner, fragments)
        if zone is None:
            raise AnsibleFilterError(
                f"zone_fragments: record owner {owner!r} is in none of dns_records_zones {sorted(fragments)}; "
                "add its zone to dns_records_zones"
            )
        fragments[zone].add(record.strip())
    return {zone: sorted(lines) for zone, lines in sorted(fragments.items())}


def _acme_facts(slurped: Any) -> list[tuple[str, dict[str, Any]]]:
    """(host, fact) for every bulwark_acme local fact read with slurp (hosts without one are skipped)."""
    facts = []
    for result in (slurped or {}).get("results", []) if isinstance(slurped, Mapping) else []:
        if result.get("skipped") or not result.get("content"):
            continue
        try:
            fact = json.loads(base64.b64decode(result["content"]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise AnsibleFilterError(f"dns_records_acme_sources: the acme_certificates fact of {result.get('item')} "
                                     "is not JSON") from None
        if isinstance(fact, dict):
            facts.append((str(result.get("item")), fact))
    return facts


def dns_records_acme_sources(slurped: Any, sources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Sources for the public keys acme_certificates stages for a rollover (next) or keeps after one (previous).

    A key is published under the names, port and protocol of the source whose certificate it belongs to
    (same host, same certificate path), so a rollover never needs the inventory changed.
    """
    extra = []
    for host, fact in _acme_facts(slurped):
        for cert in fact.get("certificates", []):
            for source in sources:
                if source["host"] == host and source["path"] == cert.get("cert") and not source.get("next_key"):
                    for key in cert.get("publish_keys", []):
                        extra.append({**source, "path": key, "next_key": True})
    return extra


def dns_records_acme_caa(slurped: Any) -> list[dict[str, Any]]:
    """dns_records_caa entries from acme_certificates' accounts: for every certificate name, one ``issue`` per
    CA with a CAA identity, bound to the real ACME account URL (RFC 8657 accounturi)."""
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _, fact in _acme_facts(slurped):
        accounts = [a for a in fact.get("accounts", []) if a.get("caa_identity") and a.get("account_uri")]
        for cert in fact.get("certificates", []):
            for domain in cert.get("domains", []):
                wildcard = domain.startswith("*.")
                name = domain[2:] if wildcard else domain
                for account in accounts:
                    key = (name, "issuewild" if wildcard else "issue", account["caa_identity"])
                    entries[key] = {"domain": name, key[1]: [account["caa_identity"]],
                                    "accounturi": account["account_uri"]}
    return [entries[key] for key in sorted(entries)]


class FilterModule:
    """Zone fragment filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"zone_fragments": zone_fragments, "dns_records_acme_sources": dns_records_acme_sources,
                "dns_records_acme_caa": dns_records_acme_caa}
