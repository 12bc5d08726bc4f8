"""Filters that arrange computed DNS records into per-zone fragments for the dns_records role."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError
from cryptography import x509

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_pem
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_pem  # type: ignore[no-redef]

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


def tls_issuer(cert_pem: Any, chain_pem: Any = "") -> str:
    """The PEM certificate that issued the first certificate of ``cert_pem`` (the served leaf).

    Searched among the other certificates of ``cert_pem`` (a full chain), then in ``chain_pem``; the
    candidate must have signed the leaf, not only carry its issuer's name. Its key is what a DANE-TA
    ``2 1 1`` record pins (RFC 7671 section 5.2), so a renewal under the same issuer keeps matching.
    """
    blocks = bulwark_pem.certificate_blocks(str(cert_pem or ""))
    if not blocks:
        raise AnsibleFilterError("tls_issuer: the served certificate holds no PEM certificate")
    leaf = x509.load_pem_x509_certificate(blocks[0].encode("ascii"))
    for block in blocks[1:] + bulwark_pem.certificate_blocks(str(chain_pem or "")):
        candidate = x509.load_pem_x509_certificate(block.encode("ascii"))
        try:
            leaf.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature and friends: not the issuer
            continue
        return block.strip() + "\n"
    raise AnsibleFilterError(f"tls_issuer: no certificate of the served chain issued {leaf.issuer.rfc4514_string()!r}; "
                             "give the chain file (dns_records_services[].chain)")


class FilterModule:
    """Zone fragment filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"zone_fragments": zone_fragments, "tls_issuer": tls_issuer}
