# -*- coding: utf-8 -*-
"""DNS checks with dnspython, validating DNSSEC itself from the configured trust anchors.

Queries go to ``audit_dns_servers`` (or the probe's resolver) with DO and CD set: the resolver is only a
transport, every RRset is validated here, from the answer's RRSIG up the DS/DNSKEY chain to a trust
anchor (``audit_trust_anchors``: DS or DNSKEY records, or ``{zone, server}`` to take a private zone's
key-signing keys from its server, trusted on first use, as a lab without a real parent needs).

Checks of an HTTPS site: ``dnssec`` (its names' addresses validate), ``dane-tlsa`` (TLSA published,
validated, and matching the certificates served on the port), ``caa`` (present and allowing the CA that
issued the served certificates). Checks of a name server's zone (kind ``dns``): ``authoritative``,
``dnssec-zone``, ``caa-published`` (equal to ``dns_records_caa``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_tls import (
        key_type, served_certificates)
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check
    from ansible.module_utils.bulwark_audit_tls import key_type, served_certificates


def _public_key(key: Any) -> Any:
    """The cryptography public key of a DNSKEY (RFC 3110 RSA, RFC 6605 ECDSA, RFC 8080 EdDSA)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    data = key.key
    if key.algorithm in (5, 7, 8, 10):
        if data[0] == 0:
            length, offset = int.from_bytes(data[1:3], "big"), 3
        else:
            length, offset = data[0], 1
        exponent = int.from_bytes(data[offset:offset + length], "big")
        modulus = int.from_bytes(data[offset + length:], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    if key.algorithm in (13, 14):
        curve = ec.SECP256R1() if key.algorithm == 13 else ec.SECP384R1()
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + data)
    if key.algorithm == 15:
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    if key.algorithm == 16:
        return ed448.Ed448PublicKey.from_public_bytes(data)
    raise ValueError(f"DNSSEC algorithm {key.algorithm} is not supported")


def verify_signature(signature: bytes, data: bytes, key: Any) -> None:
    """Raise when ``signature`` (an RRSIG's) over ``data`` does not verify with DNSKEY ``key``.

    Done here with cryptography rather than dns.dnssec.validate: dnspython 2.9 refuses DNSSEC unless
    cryptography is newer than the one pinned for sslyze."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

    public = _public_key(key)
    if key.algorithm in (5, 7, 8, 10):
        digest = {5: hashes.SHA1(), 7: hashes.SHA1(), 8: hashes.SHA256(), 10: hashes.SHA512()}[key.algorithm]
        public.verify(signature, data, padding.PKCS1v15(), digest)
    elif key.algorithm in (13, 14):
        half = len(signature) // 2
        der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                         int.from_bytes(signature[half:], "big"))
        public.verify(der, data, ec.ECDSA(hashes.SHA256() if key.algorithm == 13 else hashes.SHA384()))
    else:
        public.verify(signature, data)


class Bogus(Exception):
    """The chain of trust is broken (a signature or digest does not match)."""


class Insecure(Exception):
    """No chain of trust: an unsigned zone, a delegation without DS, or no anchor above."""


def parse_anchor(text: str) -> tuple[Any, Any]:
    """'lab.test. IN DS 12345 13 2 ABCD...' (TTL and class optional) -> (zone name, rdata)."""
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    tokens = str(text).split()
    if len(tokens) < 3:
        raise ValueError(f"audit_trust_anchors: {str(text)[:60]!r} is not a DS or DNSKEY record")
    owner, rest = dns.name.from_text(tokens[0]), tokens[1:]
    while rest and (rest[0].isdigit() or rest[0].upper() in ("IN", "CH")):
        rest = rest[1:]
    if not rest or rest[0].upper() not in ("DS", "DNSKEY"):
        raise ValueError(f"audit_trust_anchors: {str(text)[:60]!r} is not a DS or DNSKEY record")
    rdtype = dns.rdatatype.from_text(rest[0].upper())
    return owner, dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(rest[1:]))


class Resolver:
    """DNSSEC validation from trust anchors over plain queries (DO+CD) to the given servers."""

    def __init__(self, query: Any, anchors: dict[Any, dict[str, list[Any]]]) -> None:
        self.query = query  # (qname: str, rdtype: str) -> dns.message.Message
        self.anchors = anchors  # zone name -> {"ds": [...], "dnskey": [...], "source": [text]}
        self._keys: dict[Any, tuple[Any, list[str]]] = {}

    @staticmethod
    def _rrsets(message: Any, name: Any, rdtype: Any) -> tuple[Any, Any]:
        import dns.rdatatype

        rrset = sigs = None
        for candidate in message.answer:
            if candidate.name != name:
                continue
            if candidate.rdtype == rdtype:
                rrset = candidate
            elif candidate.rdtype == dns.rdatatype.RRSIG and candidate.covers == rdtype:
                sigs = candidate
        return rrset, sigs

    def _validate(self, rrset: Any, sigs: Any, signer: Any, keys: Any, now: float | None = None) -> None:
        import time

        import dns.dnssec

        now = time.time() if now is None else now
        seen = []
        for sig in sigs:
            if sig.signer != signer:
                continue
            if not sig.inception <= now <= sig.expiration:
                seen.append(f"RRSIG key tag {sig.key_tag} outside its validity period")
                continue
            for key in keys:
                if key.algorithm != sig.algorithm or dns.dnssec.key_id(key) != sig.key_tag:
                    continue
                try:
                    verify_signature(sig.signature, dns.dnssec._make_rrsig_signature_data(rrset, sig), key)
                    return
                except Exception as exc:  # noqa: BLE001 - InvalidSignature and unsupported algorithms alike
                    seen.append(f"RRSIG key tag {sig.key_tag}: {type(exc).__name__} {exc}".strip())
        raise Bogus(f"{rrset.name} {_type(rrset)}: no valid signature by {signer} ({'; '.join(seen) or 'no key'})")

    def keys(self, zone: Any, depth: int = 0) -> tuple[Any, list[str]]:
        """The validated DNSKEY RRset of ``zone`` and the chain that proves it (one line per link)."""
        import dns.dnssec
        import dns.rdatatype
        import dns.rrset

        if zone in self._keys:
            return self._keys[zone]
        if depth > 12:
            raise Bogus(f"chain too long at {zone}")
        answer = self.query(zone.to_text(), "DNSKEY")
        dnskeys, dnskey_sigs = self._rrsets(answer, zone, dns.rdatatype.DNSKEY)
        if dnskeys is None:
            raise Insecure(f"{zone} publishes no DNSKEY (unsigned zone)")
        anchor = self.anchors.get(zone)
        if anchor is not None:
            trusted = [k for k in dnskeys if k in anchor["dnskey"]
                       or any(_ds_matches(zone, k, ds) for ds in anchor["ds"])]
            if not trusted:
                raise Bogus(f"no DNSKEY of {zone} matches the trust anchor ({'; '.join(anchor['source'])})")
            chain = [f"{zone} DNSKEY: key tag {', '.join(str(dns.dnssec.key_id(k)) for k in trusted)} is the trust "
                     f"anchor ({'; '.join(anchor['source'])})"]
        else:
            if len(zone.labels) <= 1:
                raise Insecure(f"no configured trust anchor covers {zone}")
            ds_answer = self.query(zone.to_text(), "DS")
            ds_set, ds_sigs = self._rrsets(ds_answer, zone, dns.rdatatype.DS)
            if ds_set is None or ds_sigs is None:
                # No DS: either an insecure delegation or no anchor above; climb to see which anchor covers it.
                raise Insecure(f"no signed DS for {zone} at its parent (insecure delegation, or no trust anchor "
                               "above it)")
            parent = ds_sigs[0].signer
            parent_keys, parent_chain = self.keys(parent, depth + 1)
            self._validate(ds_set, ds_sigs, parent, parent_keys)
            trusted = [k for k in dnskeys if any(_ds_matches(zone, k, ds) for ds in ds_set)]
            if not trusted:
                raise Bogus(f"no DNSKEY of {zone} matches its DS at {parent}")
            chain = parent_chain + [f"{zone} DS (signed by {parent}) -> DNSKEY key tag "
                                    f"{', '.join(str(dns.dnssec.key_id(k)) for k in trusted)}"]
        if dnskey_sigs is None:
            raise Bogus(f"{zone} DNSKEY is not signed")
        self._validate(dnskeys, dnskey_sigs, zone, dns.rrset.from_rdata_list(zone, dnskeys.ttl, trusted))
        self._keys[zone] = (dnskeys, chain)
        return dnskeys, chain

    def resolve(self, qname: str, rdtype: str) -> dict[str, Any]:
        """{status: secure|insecure|bogus|nxdomain|nodata, rrset, chain, error} for ``qname``/``rdtype``."""
        import dns.name
        import dns.rcode
        import dns.rdatatype

        name = dns.name.from_text(qname)
        wanted = dns.rdatatype.from_text(rdtype)
        try:
            message = self.query(qname, rdtype)
        except Exception as exc:  # noqa: BLE001 - timeouts and refusals are findings, not crashes
            return {"status": "error", "rrset": None, "chain": [], "error": f"{type(exc).__name__}: {exc}"}
        if message.rcode() == dns.rcode.NXDOMAIN:
            return {"status": "nxdomain", "rrset": None, "chain": [], "error": f"{qname} does not exist"}
        if message.rcode() != dns.rcode.NOERROR:
            return {"status": "error", "rrset": None, "chain": [], "error": dns.rcode.to_text(message.rcode())}
        chain: list[str] = []
        target = None
        try:
            current = name
            for _hop in range(8):
                rrset, sigs = self._rrsets(message, current, wanted)
                if rrset is None:
                    cname, cname_sigs = self._rrsets(message, current, dns.rdatatype.CNAME)
                    if cname is None:
                        break
                    rrset, sigs = cname, cname_sigs
                if sigs is None:
                    raise Insecure(f"{current} {_type(rrset)} carries no RRSIG")
                signer = sigs[0].signer
                keys, key_chain = self.keys(signer)
                self._validate(rrset, sigs, signer, keys)
                chain = key_chain + [f"{current} {_type(rrset)} signed by {signer}"]
                if rrset.rdtype == wanted:
                    target = rrset
                    break
                current = rrset[0].target
        except Bogus as exc:
            return {"status": "bogus", "rrset": None, "chain": chain, "error": str(exc)}
        except Insecure as exc:
            return {"status": "insecure", "rrset": target, "chain": chain, "error": str(exc)}
        if target is None:
            return {"status": "nodata", "rrset": None, "chain": chain, "error": f"no {rdtype} at {qname}"}
        return {"status": "secure", "rrset": target, "chain": chain, "error": ""}


def _type(rrset: Any) -> str:
    import dns.rdatatype

    return dns.rdatatype.to_text(rrset.rdtype)


def _ds_matches(zone: Any, key: Any, ds: Any) -> bool:
    import dns.dnssec

    try:
        return dns.dnssec.make_ds(zone, key, ds.digest_type) == ds
    except Exception:  # noqa: BLE001 - an unsupported digest matches nothing
        return False


# --- transport and anchors, per probe run --------------------------------------------------------


def _servers(ctx: Context) -> list[str]:
    servers = [str(s) for s in ctx.options.get("dns_servers") or []]
    if servers:
        return servers
    import dns.resolver

    return list(dns.resolver.Resolver().nameservers)


def raw_query(server: str, qname: str, rdtype: str, timeout: float, recursion: bool = True,
              checking_disabled: bool = True) -> Any:
    import dns.flags
    import dns.message
    import dns.query

    query = dns.message.make_query(qname, rdtype, want_dnssec=True, payload=1232)
    if checking_disabled:
        query.flags |= dns.flags.CD
    if not recursion:
        query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, server, timeout=timeout)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(query, server, timeout=timeout)
    return response


def _query_function(ctx: Context) -> Any:
    servers = _servers(ctx)
    timeout = float(ctx.options.get("timeout", 10)) / 2

    def query(qname: str, rdtype: str) -> Any:
        def ask() -> Any:
            last: Exception | None = None
            for server in servers:
                try:
                    return raw_query(server, qname, rdtype, timeout)
                except Exception as exc:  # noqa: BLE001 - try the next server
                    last = exc
            raise RuntimeError(f"no answer from {', '.join(servers)} for {qname} {rdtype}: {last}")

        return ctx.evidence(("dns", qname.lower().rstrip("."), rdtype), ask)

    return query


def _anchors(ctx: Context) -> dict[Any, dict[str, list[Any]]]:
    import dns.name
    import dns.rdatatype

    anchors: dict[Any, dict[str, list[Any]]] = {}
    for entry in ctx.options.get("trust_anchors") or []:
        if isinstance(entry, dict):
            zone = dns.name.from_text(str(entry["zone"]))
            server = str(entry["server"])
            answer = raw_query(server, zone.to_text(), "DNSKEY", float(ctx.options.get("timeout", 10)) / 2,
                               recursion=False)
            slot = anchors.setdefault(zone, {"ds": [], "dnskey": [], "source": []})
            keys = [k for rrset in answer.answer if rrset.rdtype == dns.rdatatype.DNSKEY for k in rrset
                    if k.flags & 0x0001]
            if not keys:
                raise RuntimeError(f"audit_trust_anchors: {server} publishes no key-signing key for {zone}")
            slot["dnskey"] += keys
            slot["source"].append(f"{zone} KSK from {server}, trusted on first use")
        else:
            zone, rdata = parse_anchor(str(entry))
            slot = anchors.setdefault(zone, {"ds": [], "dnskey": [], "source": []})
            slot["ds" if rdata.rdtype == dns.rdatatype.DS else "dnskey"].append(rdata)
            slot["source"].append(f"{zone} {dns.rdatatype.to_text(rdata.rdtype)} {getattr(rdata, 'key_tag', '')}"
                                  .strip())
    return anchors


def resolver(ctx: Context) -> Resolver:
    return ctx.evidence("resolver", lambda: Resolver(_query_function(ctx), _anchors(ctx)))


def lookup_addresses(ctx: Context, name: str) -> list[str]:
    """Addresses of ``name`` (A, then AAAA), validated or not: for finding hosts, not for verdicts."""
    found = []
    for rdtype in ("A", "AAAA"):
        result = resolver(ctx).resolve(name, rdtype)
        if result["rrset"] is not None:
            found += [r.address for r in result["rrset"]]
        elif result["status"] == "insecure":
            message = _query_function(ctx)(name, rdtype)
            found += [r.address for rrset in message.answer for r in rrset if hasattr(r, "address")]
    return found


# --- DANE ---------------------------------------------------------------------------------------


def tlsa_data(chain: list[Any], usage: int, selector: int, matching_type: int) -> list[bytes]:
    """The association data a TLSA record with these parameters must carry for the served ``chain``."""
    from cryptography.hazmat.primitives import serialization

    certificates = chain[:1] if usage in (1, 3) else chain[1:]
    result = []
    for certificate in certificates:
        if selector == 0:
            data = certificate.public_bytes(serialization.Encoding.DER)
        else:
            data = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
        if matching_type == 1:
            data = hashlib.sha256(data).digest()
        elif matching_type == 2:
            data = hashlib.sha512(data).digest()
        result.append(data)
    return result


def _status_text(result: dict[str, Any]) -> str:
    return {"secure": "validated", "insecure": "not signed", "bogus": "BOGUS", "nxdomain": "no such name",
            "nodata": "no record", "error": "no answer"}.get(result["status"], result["status"])


@check("https", "dnssec", needs=("dnspython",), title="DNSSEC chain to the trust anchor")
def check_dnssec(ctx: Context, service: dict[str, Any]) -> Any:
    """Every name of the site has addresses that validate from the configured trust anchor."""
    dns_decl = service.get("dns") or {}
    if not dns_decl.get("dnssec"):
        return ctx.finding(service, "dnssec", "n/a", "no zone of dns_records_zones covers "
                           f"{', '.join(service['names'])}: nothing declares DNSSEC for it")
    problems, lines, elsewhere = [], [], []
    for name in service["names"]:
        result = resolver(ctx).resolve(name, "A")
        addresses = sorted(r.address for r in result["rrset"]) if result["rrset"] is not None else []
        lines.append(f"{name} A {', '.join(addresses) or '-'}: {_status_text(result)}"
                     + (f" ({result['error']})" if result["error"] else ""))
        lines += [f"  {link}" for link in result["chain"]]
        if result["status"] != "secure":
            problems.append(f"{name}: {_status_text(result)} ({result['error']})")
        elif service["address"] not in addresses and ":" not in service["address"]:
            elsewhere.append(f"{name} -> {', '.join(addresses)}")
    if problems:
        return ctx.finding(service, "dnssec", "fail", "; ".join(problems),
                           variable="audit_trust_anchors / the zone's signing", details=lines)
    if elsewhere:
        return ctx.finding(service, "dnssec", "warn", f"validated, but not this host's address: {'; '.join(elsewhere)}",
                           details=lines)
    anchor = next((line.split()[0] for line in lines if "trust anchor" in line), "the trust anchor")
    return ctx.finding(service, "dnssec", "pass", f"{', '.join(service['names'])}: A records validated from the "
                       f"trust anchor {anchor}", details=lines)


def tlsa_matches(records: list[Any], chain: list[Any]) -> list[Any]:
    """The TLSA records (dnspython rdata) that match the served ``chain`` (leaf first), each by its own usage,
    selector and matching type: the leaf for 1 and 3, a certificate after it (an issuer) for 0 and 2."""
    matched = []
    for record in records:
        try:
            wanted = tlsa_data(chain, int(record.usage), int(record.selector), int(record.mtype))
        except Exception:  # noqa: BLE001 - a selector or matching type nobody defined matches nothing
            continue
        if record.cert in wanted:
            matched.append(record)
    return matched


def _tlsa_text(record: Any) -> str:
    return f"{record.usage} {record.selector} {record.mtype} {record.cert.hex()[:16]}..."


@check("https", "dane-tlsa", needs=("dnspython", "sslyze"), title="TLSA matches the served certificates (DANE)")
def check_tlsa(ctx: Context, service: dict[str, Any]) -> Any:
    """_PORT._tcp.NAME TLSA validates and matches every certificate served on the port, per declared parameters."""
    params = (service.get("dns") or {}).get("tlsa") or []
    if not params:
        return ctx.finding(service, "dane-tlsa", "n/a", "no TLSA declared for this service (its names are in no zone "
                           "of a name server whose dns_records_tls_hosts lists this host)")
    chains = served_certificates(ctx, service)
    problems, lines = [], []
    for name in service["names"]:
        owner = f"_{service['port']}._tcp.{name}"
        result = resolver(ctx).resolve(owner, "TLSA")
        records = list(result["rrset"]) if result["rrset"] is not None else []
        lines.append(f"{owner} TLSA: {len(records)} record(s), {_status_text(result)}")
        lines += [f"  {_tlsa_text(r)}" for r in records]
        if result["status"] != "secure":
            problems.append(f"{owner}: {_status_text(result)}" + (f" ({result['error']})" if result["error"] else ""))
            continue
        for chain in chains:
            kind = key_type(chain[0])
            matched = tlsa_matches(records, chain)
            by = ", ".join(f"{r.usage} {r.selector} {r.mtype}" for r in matched)
            lines.append(f"  served {kind}: matched by {by or 'nothing'}")
            if not matched:
                problems.append(f"{owner}: no record matches the served {kind} certificate (DANE clients refuse it)")
                continue
            for p in params:
                usage, selector, mtype = int(p["usage"]), int(p["selector"]), int(p["matching_type"])
                if not any((r.usage, r.selector, r.mtype) == (usage, selector, mtype) for r in matched):
                    problems.append(f"{owner}: no {usage} {selector} {mtype} record matches the served {kind} "
                                    f"{'certificate' if usage in (1, 3) else 'chain'}")
    declared = ", ".join(f"{p['usage']} {p['selector']} {p['matching_type']}" for p in params)
    owners = ", ".join(f"_{service['port']}._tcp.{name}" for name in service["names"])
    return ctx.verdict(service, "dane-tlsa", problems, f"every served certificate ({len(chains)}) matches a "
                       f"validated TLSA record of each declared kind ({declared}) at {owners}",
                       "dns_records_tlsa (re-run dns_records after a certificate change)", details=lines)


def caa_identity(issuer: str, identities: list[dict[str, str]]) -> str | None:
    """The CAA issuer domain of a CA, from its certificate's issuer DN (audit_caa_identities)."""
    for identity in identities:
        if re.search(str(identity["issuer"]), issuer):
            return str(identity["domain"]).lower()
    return None


def _caa_issuers(rrset: Any, tag: str) -> list[str]:
    values = []
    for record in rrset:
        if record.tag.decode().lower() == tag:
            values.append(record.value.decode().split(";")[0].strip().lower())
    return values


def relevant_caa(ctx: Context, name: str) -> tuple[str, dict[str, Any]]:
    """RFC 8659 tree climbing: the first CAA RRset at or above ``name`` (stopping before the TLD)."""
    labels = name.rstrip(".").split(".")
    last: dict[str, Any] = {}
    for i in range(len(labels) - 1):
        owner = ".".join(labels[i:])
        result = resolver(ctx).resolve(owner, "CAA")
        last = result
        if result["rrset"] is not None or result["status"] in ("bogus", "error"):
            return owner, result
    return "", last


@check("https", "caa", needs=("dnspython", "sslyze"), title="CAA allows the CA that issued the certificates")
def check_caa(ctx: Context, service: dict[str, Any]) -> Any:
    """The CAA set relevant to every name (RFC 8659) validates and allows the CA of every served certificate."""
    declared = (service.get("dns") or {}).get("caa_domain")
    identities = ctx.options.get("caa_identities") or []
    issuers = sorted({chain[0].issuer.rfc4514_string() for chain in served_certificates(ctx, service)})
    problems, lines, warns = [], [f"issuer: {i} -> CAA identity {caa_identity(i, identities) or 'unknown'}"
                                  for i in issuers], []
    for name in service["names"]:
        owner, result = relevant_caa(ctx, name)
        if result.get("rrset") is None:
            text = f"{name}: no CAA at or above it ({_status_text(result) if result else 'not asked'})"
            lines.append(text)
            (problems if declared or result.get("status") == "bogus" else warns).append(text)
            continue
        if result["status"] != "secure" and (service.get("dns") or {}).get("dnssec"):
            problems.append(f"{owner} CAA: {_status_text(result)} ({result['error']})")
        tag = "issuewild" if name.startswith("*.") and _caa_issuers(result["rrset"], "issuewild") else "issue"
        allowed = _caa_issuers(result["rrset"], tag)
        lines.append(f"{name}: CAA at {owner} {tag}: {', '.join(a or ';' for a in allowed) or 'none'}")
        for issuer in issuers:
            identity = caa_identity(issuer, identities)
            if identity is None:
                warns.append(f"{name}: the issuer {issuer} has no CAA identity in audit_caa_identities")
            elif identity not in allowed:
                problems.append(f"{name}: CAA at {owner} does not allow {identity} ({issuer})")
    if problems:
        return ctx.finding(service, "caa", "fail", "; ".join(problems), variable="dns_records_caa", details=lines)
    if warns:
        return ctx.finding(service, "caa", "warn", "; ".join(warns), details=lines)
    return ctx.finding(service, "caa", "pass", "; ".join(line for line in lines if not line.startswith("issuer")),
                       details=lines)


# --- a name server's zones ----------------------------------------------------------------------


@check("dns", "authoritative", needs=("dnspython",), title="The server answers for its zone")
def check_authoritative(ctx: Context, service: dict[str, Any]) -> Any:
    """The name server answers the zone's SOA authoritatively (AA), over UDP from the probe."""
    import dns.flags
    import dns.rdatatype

    zone = service["zone"]
    try:
        answer = raw_query(service["address"], zone, "SOA", float(ctx.options.get("timeout", 10)) / 2,
                           recursion=False, checking_disabled=False)
    except Exception as exc:  # noqa: BLE001
        return ctx.finding(service, "authoritative", "fail", f"no answer from {service['address']}: {exc}",
                           variable="dns_records_zones")
    soa = [r for rrset in answer.answer if rrset.rdtype == dns.rdatatype.SOA for r in rrset]
    if not (answer.flags & dns.flags.AA) or not soa:
        return ctx.finding(service, "authoritative", "fail", f"{service['address']} does not answer {zone} SOA "
                           "authoritatively", variable="dns_records_zones")
    return ctx.finding(service, "authoritative", "pass", f"{service['address']} answers {zone} SOA authoritatively "
                       f"(serial {soa[0].serial})")


@check("dns", "dnssec-zone", needs=("dnspython",), title="The zone is signed from the trust anchor")
def check_zone_dnssec(ctx: Context, service: dict[str, Any]) -> Any:
    """The zone's DNSKEY and SOA validate from the configured trust anchor."""
    result = resolver(ctx).resolve(service["zone"], "SOA")
    if result["status"] != "secure":
        return ctx.finding(service, "dnssec-zone", "fail", f"{service['zone']} SOA: {_status_text(result)} "
                           f"({result['error']})", variable="audit_trust_anchors / the zone's signing",
                           details=result["chain"])
    return ctx.finding(service, "dnssec-zone", "pass", f"{service['zone']} SOA validated: "
                       f"{' <- '.join(reversed(result['chain']))}"[:500], details=result["chain"])


def _caa_text(record: Any) -> str:
    return f'{record.flags} {record.tag.decode()} "{record.value.decode()}"'


@check("dns", "caa-published", needs=("dnspython",), title="CAA records are the declared ones")
def check_caa_published(ctx: Context, service: dict[str, Any]) -> Any:
    """For every dns_records_caa domain in the zone, the published CAA set equals the declared one."""
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    declared = service.get("caa") or {}
    if not declared:
        return ctx.finding(service, "caa-published", "n/a", f"no dns_records_caa entry for {service['zone']}")
    problems, lines = [], []
    for domain, records in sorted(declared.items()):
        want = set()
        for line in records:
            match = re.search(r"\sCAA\s+(.*)$", line)
            if match:
                want.add(_caa_text(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.CAA, match.group(1))))
        result = resolver(ctx).resolve(domain, "CAA")
        got = {_caa_text(r) for r in result["rrset"]} if result["rrset"] is not None else set()
        lines.append(f"{domain} CAA ({_status_text(result)}): {'; '.join(sorted(got)) or 'none'}")
        if got != want:
            missing, extra = sorted(want - got), sorted(got - want)
            differences = [f"missing {', '.join(missing)}" if missing else "",
                           f"not declared {', '.join(extra)}" if extra else ""]
            problems.append(f"{domain}: " + "; ".join(filter(None, differences)))
        elif result["status"] != "secure":
            problems.append(f"{domain} CAA: {_status_text(result)} ({result['error']})")
    return ctx.verdict(service, "caa-published", problems, "; ".join(lines), "dns_records_caa (re-run dns_records)",
                       details=lines)
