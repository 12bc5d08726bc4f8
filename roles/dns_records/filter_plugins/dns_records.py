# -*- coding: utf-8 -*-
"""Filters of the dns_records role: from the key set to one zone-file fragment per zone.

* ``dns_records_lines`` - the TLSA lines of the key set (shared role's ``tls_key_set``: 3 1 1 and the like for
  served and staged keys, 2 1 1 for the issuers mail_tls asks for), the CAA lines, and the MTA-STS and TLS-RPT
  lines of the published mail domains (``tls_key_mail``).
* ``zone_fragments`` - records grouped by the longest zone that holds them, each checked to be one absolute
  record (dnspython), sorted and de-duplicated.
* ``dns_records_files`` - the fragments as files (``{path, content}``) for config_apply.
* ``dns_records_acme_caa`` - CAA entries bound to the real ACME accounts (RFC 8657 ``accounturi``) for every name
  acme_certificates holds a certificate for, from the same reads (``tls_public_keys``' ``acme`` part).

Documentation: the ``<filter>.yml`` files beside this one and docs/dns_records.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.filter.mail_policy import mta_sts_record, tls_rpt_record
    from ansible_collections.bulwark.hardening.plugins.filter.pinning import caa_records, tlsa_record
    from ansible_collections.bulwark.hardening.plugins.filter.tls_keys import tls_key_results
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_messages, bulwark_zonefile
except ImportError:  # a role of the repository, or vendored: filter_plugins and module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "filter_plugins"))
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_messages  # type: ignore[no-redef]
    import bulwark_zonefile  # type: ignore[no-redef]
    from mail_policy import mta_sts_record, tls_rpt_record  # type: ignore[no-redef]
    from pinning import caa_records, tlsa_record  # type: ignore[no-redef]
    from tls_keys import tls_key_results  # type: ignore[no-redef]

FRAGMENT_HEADER = (
    "; Managed by Bulwark's dns_records role: TLSA and CAA records of {zone}, computed from the\n"
    "; certificates the servers serve. Sorted, so an unchanged fleet writes a byte-identical file.\n"
    "; $INCLUDE this file from the zone file.\n"
)
# The defaults of dns_records_caa entries (meta/argument_specs.yml states the same).
_CAA_DEFAULTS: dict[str, Any] = {"issue": None, "issuewild": None, "iodef": [], "critical": False,
                                 "accounturi": None, "validationmethods": []}
# The record of an issuer's key (RFC 7671 section 5.2): DANE-TA, its SubjectPublicKeyInfo, SHA-256.
ISSUER_TLSA = {"usage": 2, "selector": 1, "matching_type": 1}


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


def dns_records_lines(key_set: Any, tlsa: Any = (), caa: Any = (), ttl: Any = None, mail: Any = ()) -> list[str]:
    """TLSA lines for every key of ``key_set`` on each of its names, per parameter set of ``tlsa``; then CAA;
    then the MTA-STS and TLS-RPT lines of the ``mail`` domains.

    ``key_set`` is the shared role's ``tls_key_set`` (public keys and certificates, never private keys). A key
    of kind ``issuer`` (the CA that issued a served certificate, read for services that ask for it) gets one
    ``2 1 1`` line instead (RFC 7671 section 5.2). A staged next key has no certificate: ``tlsa`` with
    selector 0 is refused when the set holds one. ``mail`` is ``tls_key_mail``'s result: ``_mta-sts`` with the
    id of the published policy text, ``_smtp._tls`` with the report URIs; two hosts that publish different
    values for one domain are refused, since a domain has exactly one of each record.
    """
    if not isinstance(key_set, Sequence) or isinstance(key_set, str):
        raise AnsibleFilterError("dns_records_lines: the input must be a key set (tls_key_set's result)")
    if not isinstance(tlsa, Sequence) or isinstance(tlsa, str):
        raise AnsibleFilterError(f"dns_records_tlsa: must be a list of {{usage, selector, matching_type}}, "
                                 f"got {bulwark_messages.describe(tlsa)}")
    if not isinstance(caa, Sequence) or isinstance(caa, str):
        raise AnsibleFilterError(f"dns_records_caa: must be a list of entries, got {bulwark_messages.describe(caa)}")
    # Staged keys (next_key) and the keys of an ACME rollover have no certificate yet.
    next_keys = [key for key in key_set if isinstance(key, Mapping) and key.get("kind") in ("next", "rollover")]
    if next_keys and any(isinstance(p, Mapping) and str(p.get("selector")) == "0" for p in tlsa):
        raise AnsibleFilterError(
            f"dns_records_tlsa has selector 0 (full certificate), but {next_keys[0].get('host')} stages a next_key "
            f"({next_keys[0].get('path')}), which has no certificate yet: publish selector 1 (SPKI) records, which "
            "survive renewals that keep the key")
    for number, params in enumerate(tlsa):
        if not isinstance(params, Mapping):
            raise AnsibleFilterError(f"dns_records_tlsa[{number}]: must be a mapping, got "
                                     f"{bulwark_messages.describe(params)}")
    records = []
    for key in key_set:
        if not isinstance(key, Mapping) or not (key.get("certificate") or key.get("public_key")):
            raise AnsibleFilterError("dns_records_lines: a key without certificate or public_key (not tls_key_set's)")
        pem = key.get("certificate") or key["public_key"]
        for name in key.get("names", []):
            for params in [ISSUER_TLSA] if key.get("kind") == "issuer" else tlsa:
                records.append(tlsa_record(pem, name, port=key.get("port", 443), proto=key.get("proto", "tcp"),
                                           usage=params.get("usage"), selector=params.get("selector"),
                                           matching_type=params.get("matching_type"), ttl=ttl))
    for number, entry in enumerate(caa):
        if not isinstance(entry, Mapping) or "domain" not in entry:
            raise AnsibleFilterError(f"dns_records_caa[{number}]: must be a mapping with a domain")
        unknown = sorted(set(entry) - set(_CAA_DEFAULTS) - {"domain"})
        if unknown:
            raise AnsibleFilterError(f"dns_records_caa[{number}]: unknown key {bulwark_messages.describe(unknown[0])}; use "
                                     f"{', '.join(_CAA_DEFAULTS)}")
        options = {k: default if entry.get(k) is None else entry[k] for k, default in _CAA_DEFAULTS.items()}
        records.extend(caa_records(entry["domain"], ttl=ttl, **options))
    return records + _mail_lines(mail, ttl)


def _mail_lines(mail: Any, ttl: Any) -> list[str]:
    """One ``_mta-sts`` and one ``_smtp._tls`` TXT line per mail domain, from the published mail sections."""
    if not isinstance(mail, Sequence) or isinstance(mail, str):
        raise AnsibleFilterError(f"dns_records_lines: mail must be tls_key_mail's result (a list), got "
                                 f"{bulwark_messages.describe(mail)}")
    chosen: dict[tuple[str, str], tuple[str, str]] = {}
    for number, section in enumerate(mail):
        if not isinstance(section, Mapping) or not isinstance(section.get("domain"), str):
            raise AnsibleFilterError(f"dns_records_lines: mail[{number}] must be a mapping with a domain (tls_key_mail's "
                                     f"result), got {bulwark_messages.describe(section)}")
        host, domain = str(section.get("host")), section["domain"]
        lines = []
        if section.get("mta_sts_policy"):
            lines.append(("_mta-sts", mta_sts_record(section["mta_sts_policy"], domain, ttl=ttl)))
        if section.get("tls_rpt"):
            lines.append(("_smtp._tls", tls_rpt_record(domain, section["tls_rpt"], ttl=ttl)))
        for label, line in lines:
            earlier = chosen.setdefault((label, domain), (host, line))
            if earlier[1] != line:
                raise AnsibleFilterError(
                    f"{label}.{domain}: {earlier[0]} and {host} publish different values for it (a domain has one); "
                    "give every MX of the domain the same mail_tls_mta_sts_* and mail_tls_tls_rpt")
    return [line for _host, line in chosen.values()]


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
    if not zones:
        raise AnsibleFilterError("dns_records_zones is empty: name the zones this server publishes, e.g. [example.org]")
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


def dns_records_files(fragments: Any, directory: Any) -> list[dict[str, str]]:
    """One ``{path, content}`` per zone of ``fragments`` (zone_fragments' result): ``<directory>/<zone>.records``."""
    if not isinstance(fragments, Mapping):
        raise AnsibleFilterError("dns_records_files: the input must be zone_fragments' result (zone -> lines)")
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise AnsibleFilterError(f"dns_records_dir: {bulwark_messages.describe(directory)} is not an absolute path")
    return [{"path": f"{directory.rstrip('/')}/{zone}.records",
             "content": FRAGMENT_HEADER.format(zone=zone) + "".join(f"{line}\n" for line in lines)}
            for zone, lines in fragments.items()]


def dns_records_acme_caa(reads: Any) -> list[dict[str, Any]]:
    """dns_records_caa entries from acme_certificates' accounts: for every name of its certificates, one ``issue``
    (``issuewild`` on the parent for a wildcard) per CA with a CAA identity, bound to the real ACME account URL
    (RFC 8657 ``accounturi``) and to the challenges used for that name (``validationmethods``).

    ``reads`` is what the looped tls_public_keys task registered (each result's ``acme``); hosts without the
    acme_certificates fact add nothing. Sorted, so an unchanged fleet gives the same entries.
    """
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for number, (_host, result) in enumerate(tls_key_results(reads, "dns_records_acme_caa")):
        acme = result.get("acme")
        if not acme:
            continue
        if not isinstance(acme, Mapping):
            raise AnsibleFilterError(f"dns_records_acme_caa: results[{number}].acme must be a mapping, got "
                                     f"{bulwark_messages.describe(acme)}")
        accounts = [a for a in acme.get("accounts") or [] if isinstance(a, Mapping)
                    and a.get("caa_identity") and a.get("account_uri")]
        for cert in acme.get("certificates") or []:
            for domain in cert.get("domains") or []:
                name = str(domain).lower().rstrip(".")
                wildcard = name.startswith("*.")
                owner, tag = (name[2:], "issuewild") if wildcard else (name, "issue")
                for account in accounts:
                    key = (owner, tag, str(account["caa_identity"]).lower())
                    entry = entries.setdefault(key, {"domain": owner, tag: [key[2]],
                                                     "accounturi": str(account["account_uri"]),
                                                     "validationmethods": []})
                    if cert.get("challenge") and cert["challenge"] not in entry["validationmethods"]:
                        entry["validationmethods"] = sorted([*entry["validationmethods"], cert["challenge"]])
    return [entries[key] for key in sorted(entries)]


class FilterModule:
    """dns_records filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "dns_records_lines": dns_records_lines,
            "zone_fragments": zone_fragments,
            "dns_records_files": dns_records_files,
            "dns_records_acme_caa": dns_records_acme_caa,
        }
