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

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_messages, bulwark_zonefile
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_messages  # type: ignore[no-redef]
    import bulwark_zonefile  # type: ignore[no-redef]

DOCUMENTATION_NOTE = "Documented in docs/dns_records.md; used by roles/dns_records."


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"zone_fragments: {message}")


def _key(zone: Any) -> str:
    """A zone as the fragments name it: lower case, no trailing dot."""
    return str(zone.to_text(omit_final_dot=True)).lower()


def zone_for(owner: str, zones: Iterable[str]) -> str | None:
    """The longest zone of ``zones`` that contains ``owner`` (both DNS names), or None."""
    names = {bulwark_zonefile.zone_name(zone): zone for zone in zones}
    name = bulwark_zonefile.dns.name.from_text(owner.rstrip(".") + ".")
    best = bulwark_zonefile.zone_of(name, names)
    return None if best is None else names[best]


def zone_fragments(records: Any, zones: Any) -> dict[str, list[str]]:
    """Group zone-file ``records`` by zone; each must be exactly one absolute record of a declared zone.

    Every zone in ``zones`` gets an entry, possibly empty, so that a zone whose last record goes
    away is rewritten rather than left stale. Lines are de-duplicated and sorted, so an unchanged
    fleet always produces byte-identical fragments. Each line is loaded with dnspython first
    (bulwark_zonefile.parse_record): a relative name, two records in one item, a comment, a directive or
    anything that does not load is an error naming the record's index; so is a record in no zone.
    """
    if not isinstance(zones, (list, tuple)):
        raise _fail(f"dns_records_zones must be a list of zone names, got "
                    f"{bulwark_messages.describe(zones)}")
    names = []
    for index, zone in enumerate(zones):
        try:
            names.append(bulwark_zonefile.zone_name(zone))
        except bulwark_zonefile.ZoneLineError as exc:
            raise _fail(f"dns_records_zones[{index}] {exc}, got {bulwark_messages.describe(zone)}") from None
    if not isinstance(records, (list, tuple)):
        raise _fail(f"records must be a list of zone-file lines, got {bulwark_messages.describe(records)}")
    fragments: dict[str, set[str]] = {_key(name): set() for name in names}
    for index, record in enumerate(records):
        try:
            parsed = bulwark_zonefile.parse_record(record)
        except bulwark_zonefile.ZoneLineError as exc:
            raise _fail(f"records[{index}] must be one zone-file line with one absolute record: {exc}; "
                        f"got {bulwark_messages.describe(record)}") from None
        zone = bulwark_zonefile.zone_of(parsed.owner, names)
        if zone is None:
            owner = bulwark_messages.describe(parsed.owner.to_text())
            raise _fail(f"records[{index}]: owner {owner} is in none of dns_records_zones {sorted(fragments)}; "
                        "add its zone to dns_records_zones")
        fragments[_key(zone)].add(record.rstrip(" \t"))
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
