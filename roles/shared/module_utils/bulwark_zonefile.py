# -*- coding: utf-8 -*-
"""Zone-file lines as Bulwark writes them: exactly one record, every name absolute, parsed by dnspython.

The last check before a line reaches a zone file (dns_records' fragments, and the zones dns_zone writes):
a line that would not load, or would load as something else than it says, stops here with a message
naming the line's index, never in the name server.

Controller side only: it needs dnspython (requirements.txt), so filters import it and modules do not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.zone
except ImportError:  # the filters load without it (ansible-doc); what parses a line says it is missing
    dns = None  # type: ignore[assignment]

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
except ImportError:  # a role of the repository, or vendored beside this file
    sys.path.append(str(Path(__file__).resolve().parent))
    import bulwark_dns  # type: ignore[no-redef]

# Far above any record Bulwark writes (a TLSA 0 0 0 record of a large certificate is about 8 KiB of hex),
# and small enough that dnspython parses it in milliseconds.
MAX_LINE_CHARS = 65536
# Relative names are found by parsing the line under two origins: only a relative name differs.
_PROBE_ORIGINS = (dns.name.from_text("bulwark-probe-a.invalid."), dns.name.from_text("bulwark-probe-b.invalid.")) \
    if dns is not None else ()
_NO_DNSPYTHON = "it cannot be checked: the Python package dnspython is missing on the controller (pip install dnspython)"
_DEFAULT_TTL = 3600


class ZoneLineError(ValueError):
    """A zone-file line Bulwark refuses; the message never quotes the line."""


@dataclass(frozen=True)
class Record:
    """One parsed record: its absolute owner, its TTL (3600 when the line gives none) and its data."""

    owner: dns.name.Name
    ttl: int
    rdata: dns.rdata.Rdata


def _records(line: str, origin: dns.name.Name) -> list[tuple[dns.name.Name, int, dns.rdata.Rdata]]:
    text = f"$ORIGIN {origin.to_text()}\n$TTL {_DEFAULT_TTL}\n{line}\n"
    zone = dns.zone.from_text(text, origin=dns.name.root, relativize=False, check_origin=False)
    return [(name, rdataset.ttl, rdata)
            for name, node in zone.nodes.items() for rdataset in node.rdatasets for rdata in rdataset]


def parse_record(line: Any) -> Record:
    """The one record of zone-file ``line``; ZoneLineError (a safe message) when it is not exactly that.

    Refused: a non-string; more than MAX_LINE_CHARS; a line break or other control character (a tab is
    whitespace); a leading blank (the previous owner) or ``$`` (a directive); a comment; a relative name
    anywhere (owner or data: names end with a dot); a class other than IN; anything dnspython does not load
    as one record.
    """
    if dns is None:
        raise ZoneLineError(_NO_DNSPYTHON)
    if not isinstance(line, str):
        raise ZoneLineError("it is not a string (a zone-file line)")
    if not line.strip():
        raise ZoneLineError("it is empty (a zone-file line)")
    if len(line) > MAX_LINE_CHARS:
        raise ZoneLineError(f"it is {len(line)} characters long, more than {MAX_LINE_CHARS}")
    if any((char < " " and char != "\t") or char == "\x7f" for char in line):
        raise ZoneLineError("it has a line break or another control character: one record per line")
    if line[0] in " \t":
        raise ZoneLineError("it starts with a blank, which means 'the previous owner': write the owner")
    if line[0] == "$":
        raise ZoneLineError("it is a zone-file directive ($...), not a record")
    try:
        parsed = [_records(line, origin) for origin in _PROBE_ORIGINS]
    except dns.exception.DNSException as exc:
        # The exception text can quote the line: only its kind is shown.
        raise ZoneLineError(f"dnspython cannot load it as a record ({type(exc).__name__})") from None
    if len(parsed[0]) != 1:
        raise ZoneLineError(f"it holds {len(parsed[0])} records, not one")
    if parsed[0] != parsed[1]:
        raise ZoneLineError("it has a relative name (owner or data): write every name absolute, ending with a dot")
    owner, ttl, rdata = parsed[0][0]
    if rdata.rdcomment is not None:
        raise ZoneLineError("it has a comment: one record per line, nothing else")
    return Record(owner, ttl, rdata)


def zone_name(value: Any) -> dns.name.Name:
    """A zone given as a host name (trailing dot optional) as an absolute dnspython name; ZoneLineError if not."""
    if dns is None:
        raise ZoneLineError(_NO_DNSPYTHON)
    if not isinstance(value, str):
        raise ZoneLineError("it is not a string (a zone name)")
    text = value[:-1] if value.endswith(".") else value
    problem = bulwark_dns.name_problem(text)
    if problem:
        raise ZoneLineError(f"it is not a zone name ({problem})")
    return dns.name.from_text(text.lower() + ".")


def zone_of(owner: dns.name.Name, zones: Iterable[dns.name.Name]) -> dns.name.Name | None:
    """The longest of ``zones`` that contains ``owner`` (the zone itself or a name below it), or None."""
    best: dns.name.Name | None = None
    for zone in zones:
        if owner.is_subdomain(zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best
