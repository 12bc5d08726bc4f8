# -*- coding: utf-8 -*-
"""Filters for the DNS side of key pinning: DANE TLSA, CAA and (legacy) HPKP.

Filters provided (documentation in the ``<filter>.yml`` files next to this
module and in ``docs/filters.md``):

* ``tlsa_record``  - a TLSA zone-file line (RFC 6698, RFC 7218, RFC 7671)
* ``spki_sha256``  - the hex SHA-256 of a key's SubjectPublicKeyInfo (TLSA 3 1 1 data)
* ``hpkp_pin``     - the base64 ``pin-sha256`` of a key (RFC 7469)
* ``hpkp_header``  - a ``Public-Key-Pins`` header value (RFC 7469)
* ``caa_records``  - CAA zone-file lines (RFC 8659, RFC 8657)

Only the standard library, ``cryptography``, ansible and the ``shared`` role's
module_utils (bulwark_pem, bulwark_dns, bulwark_messages) are imported.
Errors are AnsibleFilterError naming the argument; a bad value is described
(``bulwark_messages.describe``), never quoted when it looks like key material
or is long. Errors about ``pem`` give its size and PEM block labels only.

Digests are taken over DER that cryptography wrote for the object it parsed,
never over text this plugin decoded (see the PEM / DER section): for a
certificate (and a CSR) the SubjectPublicKeyInfo element of its DER, as the
certificate carries it. That is what DANE clients hash and what danetool,
ldns-dane, hash-slinger and openssl give, also for an EC key written in
compressed form; for every other key it is byte for byte
``public_key().public_bytes(DER, SubjectPublicKeyInfo)``, which is checked.
A key's digest is over ``public_bytes(DER, SubjectPublicKeyInfo)``, and a
PUBLIC KEY block written otherwise than cryptography writes it is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:  # the filters load without it (ansible-doc, caa_records); those that parse PEM say what is missing
    x509 = serialization = None  # type: ignore[assignment]

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns, bulwark_messages, bulwark_pem
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]
    import bulwark_messages  # type: ignore[no-redef]
    import bulwark_pem  # type: ignore[no-redef]

# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------

_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})
_CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
_PUBLIC_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_PRIVATE_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_ENCRYPTED_LABELS = frozenset({"ENCRYPTED PRIVATE KEY"})

_MAX_NAME_LEN = bulwark_dns.MAX_NAME_LENGTH
_MAX_TTL = bulwark_dns.MAX_TTL
# max-age of a header: 2^31-1 seconds (68 years) is far past every browser's cap, and keeps the value a
# number every parser reads (and one str() can always format).
_MAX_AGE = 2**31 - 1
_PROTOS = ("tcp", "udp", "sctp")
_TLSA_USAGES = (0, 1, 2, 3)
_TLSA_SELECTORS = (0, 1)
_TLSA_MATCHING = (0, 1, 2)
_CAA_CRITICAL_FLAG = 128
_PIN_LEN = 44  # base64 of 32 bytes

_DER = serialization.Encoding.DER if serialization is not None else None
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo if serialization is not None else None


class _SafeError(Exception):
    """Internal error whose message is safe to show (no key material)."""


@dataclass(frozen=True)
class _KeyMaterial:
    """What we extracted from a ``pem`` argument.

    ``kind`` is a human description (``certificate``, ``public key``,
    ``private key`` or ``certificate request``); ``cert_der`` is set only for
    certificates; ``spki_der`` is the DER SubjectPublicKeyInfo.
    """

    kind: str
    spki_der: bytes
    cert_der: bytes | None = None


# --------------------------------------------------------------------------
# generic argument helpers
# --------------------------------------------------------------------------


def _fail(filter_name: str, message: str) -> AnsibleFilterError:
    """Build the error raised by every filter: ``<filter>: <message>``."""
    return AnsibleFilterError(f"{filter_name}: {message}")


def _show(value: Any) -> str:
    """A bad value as an error message may show it: short, and never key material."""
    return bulwark_messages.describe(value)


def _show_name(name: str) -> str:
    """A validated DNS name as it is, unless it is long or looks like key material."""
    shown = bulwark_messages.describe(name)
    return name if shown == repr(name) else shown


def _int_choice(
    filter_name: str, arg: str, value: Any, choices: tuple[int, ...]
) -> int:
    """Check that ``value`` is one of a few small integer ``choices``."""
    number = bulwark_dns.to_int(value)
    if number is None or number not in choices:
        allowed = ", ".join(str(c) for c in choices[:-1]) + f" or {choices[-1]}"
        raise _fail(filter_name, f"{arg} must be {allowed}, got {_show(value)}")
    return number


def _int_range(filter_name: str, arg: str, value: Any, low: int, high: int) -> int:
    """Check that ``value`` is an integer (or decimal string) from ``low`` to ``high``."""
    number = bulwark_dns.int_in_range(value, low, high)
    if number is None:
        if low == 0:
            what = f"a non-negative integer (at most {high})"
        else:
            what = f"an integer from {low} to {high}"
        raise _fail(filter_name, f"{arg} must be {what}, got {_show(value)}")
    return number


def _bool(filter_name: str, arg: str, value: Any) -> bool:
    """Ansible-style strict boolean (true/false/yes/no/1/0)."""
    try:
        return bool(boolean(value, strict=True))
    except (TypeError, ValueError):
        raise _fail(
            filter_name, f"{arg} must be a boolean, got {_show(value)}"
        ) from None


def _string_list(filter_name: str, arg: str, value: Any) -> list[str]:
    """Accept a list of strings, or one string as a one-item list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _fail(
                    filter_name, f"{arg}[{index}] must be a string, got {_show(item)}"
                )
        return list(value)
    raise _fail(filter_name, f"{arg} must be a list of strings, got {_show(value)}")


def _optional_list(filter_name: str, arg: str, value: Any) -> list[str]:
    """Like ``_string_list``, with None (not given) as the empty list.

    Only None means "none": 0, False or {} are wrong types, refused by name, not read as empty.
    """
    return [] if value is None else _string_list(filter_name, arg, value)


def _dedupe(items: Iterable[str]) -> list[str]:
    """Drop repeated items, keeping the first occurrence's position."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# --------------------------------------------------------------------------
# DNS names
# --------------------------------------------------------------------------


def _name_problem(name: str) -> str | None:
    """Return why ``name`` (no trailing dot) is not a host name, or None."""
    return bulwark_dns.name_problem(name)


def _dns_name(filter_name: str, arg: str, value: Any, trailing_dot: bool = True) -> str:
    """Validate a DNS host name; return it lower-cased without trailing dot.

    ``trailing_dot`` says whether one trailing dot (an absolute name) is
    accepted in the input.
    """
    if not isinstance(value, str):
        raise _fail(filter_name, f"{arg} must be a DNS name, got {_show(value)}")
    name = value[:-1] if trailing_dot and value.endswith(".") else value
    problem: str | None
    if name.endswith("."):
        problem = (
            "it ends with an empty label"
            if trailing_dot
            else "issuer domain names are written without a trailing dot"
        )
    else:
        problem = _name_problem(name)
    if problem:
        raise _fail(
            filter_name,
            f"{arg} must be a valid DNS name ({problem}), got {_show(value)}",
        )
    return name.lower()


# --------------------------------------------------------------------------
# PEM / DER
#
# Every digest is taken over DER that cryptography produced from the object it parsed, never over
# text this plugin decoded itself:
#
# - certificate: cryptography's DER of the parsed certificate (``public_bytes(DER)``, the very bytes it
#   parsed); selector 1 hashes the SubjectPublicKeyInfo element inside that DER, byte for byte as the
#   certificate carries it. That is what a DANE client or a browser hashes, and what danetool, ldns-dane,
#   hash-slinger and openssl give (tests/unit/test_pinning_crosscheck.py), also for the rare key written
#   in a form cryptography would re-encode differently (an EC point in compressed form). For every other
#   key, ``public_key().public_bytes(DER, SubjectPublicKeyInfo)`` gives the same bytes, and the plugin
#   checks that the element it took is the certificate's key.
# - certificate request: the same, inside the request's DER.
# - private key: ``public_key().public_bytes(DER, SubjectPublicKeyInfo)``.
# - public key: ``public_bytes(DER, SubjectPublicKeyInfo)`` of the parsed key. A key written in another
#   form than the one cryptography writes (a compressed EC point, BER) is refused: its digest would not
#   be the one a certificate carrying the key as written gives, and a wrong "next key" record breaks
#   DANE at the key switch.
# --------------------------------------------------------------------------


def _spki_of(key: Any) -> bytes:
    """DER SubjectPublicKeyInfo of a cryptography public key object."""
    der: bytes = key.public_bytes(_DER, _SPKI)
    return der


def _checked_spki(spki: bytes, key: Any) -> bytes:
    """``spki`` (taken from a signed structure) after checking it is the structure's own ``key``."""
    if _spki_of(serialization.load_der_public_key(spki)) != _spki_of(key):
        raise _SafeError("its SubjectPublicKeyInfo does not hold its public key")
    return spki


def _load_certificate(block: Any) -> _KeyMaterial:
    """A certificate: its DER and its SubjectPublicKeyInfo as written."""
    cert = x509.load_pem_x509_certificate(block.text.encode("ascii"))
    der = cert.public_bytes(_DER)
    spki = _checked_spki(bulwark_pem.certificate_spki(der), cert.public_key())
    return _KeyMaterial("certificate", spki, der)


def _load_csr(block: Any) -> _KeyMaterial:
    """A certificate signing request: its SubjectPublicKeyInfo as written."""
    csr = x509.load_pem_x509_csr(block.text.encode("ascii"))
    spki = bulwark_pem.csr_spki(csr.public_bytes(_DER))
    return _KeyMaterial("certificate request", _checked_spki(spki, csr.public_key()))


def _load_public_key(block: Any) -> _KeyMaterial:
    """A public key (SPKI or PKCS#1 RSA), refused unless written exactly as cryptography writes it."""
    key = serialization.load_pem_public_key(block.text.encode("ascii"))
    spki = _spki_of(key)
    canonical = (
        spki
        if block.label == "PUBLIC KEY"
        else key.public_bytes(_DER, serialization.PublicFormat.PKCS1)
    )
    if block.der() != canonical:
        raise _SafeError(
            "the key is not written in the DER form cryptography writes (for example an EC point in "
            "compressed form), so its digest could differ from the one of a certificate carrying it; "
            "pass the certificate or the private key"
        )
    return _KeyMaterial("public key", spki)


def _load_private_key(block: Any) -> _KeyMaterial:
    """Load an unencrypted PEM private key and derive its public SPKI."""
    try:
        key = serialization.load_pem_private_key(block.text.encode("ascii"), password=None)
    except TypeError:
        raise _SafeError(
            "the private key is encrypted; pass its certificate or public key"
        ) from None
    return _KeyMaterial("private key", _spki_of(key.public_key()))


def _pick_block(blocks: list[Any], allowed: frozenset[str]) -> Any | None:
    """First certificate if any (a chain gives its leaf), else first key."""
    for block in blocks:
        if block.label in _CERT_LABELS:
            return block
    for block in blocks:
        if block.label in allowed or block.label in _ENCRYPTED_LABELS:
            return block
    return None


def _load_pem(filter_name: str, pem: Any, allow_csr: bool) -> _KeyMaterial:
    """Parse the ``pem`` argument into ``_KeyMaterial``.

    Error messages never contain the input text: only its size and PEM labels.
    """
    if x509 is None:
        raise _fail(filter_name, "needs the Python package cryptography on the controller (pip install cryptography)")
    try:
        if isinstance(pem, (bytes, bytearray)):
            bulwark_pem.check_size(pem)
            pem = bytes(pem).decode("ascii", "replace")
        if not isinstance(pem, str):
            raise _fail(filter_name, f"pem must be a PEM string, got {_show(pem)}")
        blocks = bulwark_pem.pem_blocks(pem)
    except bulwark_pem.PemError as exc:
        raise _fail(filter_name, f"pem: {exc}") from None
    allowed = (
        _PUBLIC_LABELS | _PRIVATE_LABELS | (_CSR_LABELS if allow_csr else frozenset())
    )
    wanted = (
        "a certificate, public key, private key or CSR"
        if allow_csr
        else ("a certificate, public key or private key")
    )
    if not blocks:
        raise _fail(
            filter_name,
            f"pem must be PEM text ({wanted}), got a {len(pem)}-character string with no PEM block",
        )
    chosen = _pick_block(blocks, allowed)
    if chosen is None:
        labels = ", ".join(sorted({block.label for block in blocks}))
        raise _fail(filter_name, f"pem must hold {wanted}, got PEM block(s): {labels}")
    label = chosen.label
    if not chosen.text.isascii():
        raise _fail(filter_name, f"pem: the {label} block has non-ASCII characters")
    try:
        return _load_block(chosen)
    except (_SafeError, bulwark_pem.PemError) as exc:
        raise _fail(filter_name, f"pem: cannot use the {label} block: {exc}") from None
    except Exception:  # noqa: BLE001 - cryptography raises several types
        # Deliberately no exception text: it could quote the input.
        raise _fail(
            filter_name, f"pem: the {label} block is not valid (cannot be parsed)"
        ) from None


def _load_block(block: Any) -> _KeyMaterial:
    """Dispatch one PEM block on its label."""
    if block.label in _CERT_LABELS:
        return _load_certificate(block)
    if block.label in _CSR_LABELS:
        return _load_csr(block)
    if block.label in _PUBLIC_LABELS:
        return _load_public_key(block)
    if block.label in _ENCRYPTED_LABELS:
        raise _SafeError(
            "encrypted private keys are not supported; pass the certificate or public key"
        )
    return _load_private_key(block)


# --------------------------------------------------------------------------
# tlsa_record
# --------------------------------------------------------------------------

_TLSA_MATCHERS: dict[int, Callable[[bytes], bytes]] = {
    0: lambda data: data,
    1: lambda data: hashlib.sha256(data).digest(),
    2: lambda data: hashlib.sha512(data).digest(),
}


def _ttl_field(filter_name: str, ttl: Any) -> str:
    """The optional TTL column (with its trailing space) of a zone line."""
    if ttl is None:
        return ""
    return f"{_int_range(filter_name, 'ttl', ttl, 0, _MAX_TTL)} "


def _tlsa_owner(name: Any, port: Any, proto: Any) -> str:
    """Absolute owner ``_<port>._<proto>.<name>.`` with validation."""
    host = _dns_name("tlsa_record", "name", name)
    number = _int_range("tlsa_record", "port", port, 1, 65535)
    if not isinstance(proto, str) or proto.lower() not in _PROTOS:
        raise _fail(
            "tlsa_record", f"proto must be tcp, udp or sctp, got {_show(proto)}"
        )
    owner = f"_{number}._{proto.lower()}.{host}"
    if len(owner) > _MAX_NAME_LEN:
        raise _fail(
            "tlsa_record",
            f"name is too long: the owner _{number}._{proto.lower()}.<name>. would be {len(owner)} "
            f"characters, more than {_MAX_NAME_LEN}, got {_show(name)}",
        )
    return owner + "."


def tlsa_record(
    pem: Any,
    name: Any,
    port: Any = 443,
    proto: Any = "tcp",
    usage: Any = 3,
    selector: Any = 1,
    matching_type: Any = 1,
    ttl: Any = None,
) -> str:
    """Return one TLSA zone-file line for ``pem`` at ``_port._proto.name.``.

    ``pem`` is a certificate, a chain (its first certificate is used), a
    public key or a private key (keys only with ``selector=1``).
    """
    usage_n = _int_choice("tlsa_record", "usage", usage, _TLSA_USAGES)
    selector_n = _int_choice("tlsa_record", "selector", selector, _TLSA_SELECTORS)
    matching_n = _int_choice(
        "tlsa_record", "matching_type", matching_type, _TLSA_MATCHING
    )
    owner = _tlsa_owner(name, port, proto)
    ttl_text = _ttl_field("tlsa_record", ttl)
    material = _load_pem("tlsa_record", pem, allow_csr=False)
    if selector_n == 0:
        if material.cert_der is None:
            raise _fail(
                "tlsa_record",
                f"selector 0 (full certificate) needs a certificate, got a {material.kind}",
            )
        selected = material.cert_der
    else:
        selected = material.spki_der
    data = _TLSA_MATCHERS[matching_n](selected).hex()
    return f"{owner} {ttl_text}IN TLSA {usage_n} {selector_n} {matching_n} {data}"


def spki_sha256(pem: Any) -> str:
    """Return the hex SHA-256 of the SubjectPublicKeyInfo of ``pem``: the data of a TLSA 3 1 1 record.

    Certificate Transparency monitors report the same digest for each logged certificate
    (certspotter's ``PUBKEY_SHA256``), so it tells whether a logged certificate is on one of our keys.
    """
    return hashlib.sha256(_load_pem("spki_sha256", pem, allow_csr=False).spki_der).hexdigest()


# --------------------------------------------------------------------------
# HPKP
# --------------------------------------------------------------------------


def hpkp_pin(pem: Any) -> str:
    """Return the RFC 7469 ``pin-sha256`` value (base64) of ``pem``."""
    material = _load_pem("hpkp_pin", pem, allow_csr=True)
    return base64.b64encode(hashlib.sha256(material.spki_der).digest()).decode("ascii")


def _check_pin(index: int, pin: Any) -> str:
    """Validate one base64 SHA-256 pin (44 characters, 32 bytes)."""
    bad = _fail(
        "hpkp_header",
        f"pins[{index}] must be a base64 SHA-256 pin (44 characters decoding to 32 bytes), "
        f"got {_show(pin)}",
    )
    if not isinstance(pin, str) or len(pin) != _PIN_LEN:
        raise bad
    try:
        raw = base64.b64decode(pin, validate=True)
    except (binascii.Error, ValueError):
        raise bad from None
    if len(raw) != 32:
        raise bad
    return pin


def _check_https_url(filter_name: str, arg: str, value: Any) -> str:
    """Validate an absolute ``https://host/...`` URL safe inside quotes."""
    if not isinstance(value, str):
        raise _fail(filter_name, f"{arg} must be an https:// URL, got {_show(value)}")
    _check_quotable(filter_name, arg, value)
    if bulwark_dns.https_url_problem(value) is not None:
        raise _fail(
            filter_name,
            f"{arg} must be an https:// URL with a host name, got {_show(value)}",
        )
    return value


def hpkp_header(
    pins: Any,
    max_age: Any = 5184000,
    include_subdomains: Any = False,
    report_uri: Any = None,
    report_only: Any = False,
) -> str:
    """Return a ``Public-Key-Pins`` (or ``-Report-Only``) header value.

    At least two distinct pins are required (RFC 7469 section 4.3: a backup
    pin). ``report_only`` does not change the value; it only requires
    ``report_uri`` since a report-only header without one does nothing.
    """
    if not isinstance(pins, (list, tuple)):
        raise _fail(
            "hpkp_header",
            f"pins must be a list of base64 SHA-256 pins, got {_show(pins)}",
        )
    unique = _dedupe(_check_pin(index, pin) for index, pin in enumerate(pins))
    if len(unique) < 2:
        raise _fail(
            "hpkp_header",
            f"pins must hold at least two distinct pins (RFC 7469 requires a backup pin), "
            f"got {len(unique)}",
        )
    age = _int_range("hpkp_header", "max_age", max_age, 0, _MAX_AGE)
    subdomains = _bool("hpkp_header", "include_subdomains", include_subdomains)
    only_report = _bool("hpkp_header", "report_only", report_only)
    parts = [f'pin-sha256="{pin}"' for pin in unique]
    parts.append(f"max-age={age}")
    if subdomains:
        parts.append("includeSubDomains")
    if report_uri is not None:
        parts.append(
            f'report-uri="{_check_https_url("hpkp_header", "report_uri", report_uri)}"'
        )
    elif only_report:
        raise _fail(
            "hpkp_header",
            "report_only needs report_uri (a report-only header without report-uri does nothing), "
            "got report_uri=None",
        )
    return "; ".join(parts)


# --------------------------------------------------------------------------
# caa_records
# --------------------------------------------------------------------------


def _check_quotable(filter_name: str, arg: str, value: str) -> None:
    """Reject what cannot sit inside a zone-file quoted CAA value."""
    if '"' in value:
        raise _fail(
            filter_name, f"{arg} must not contain a double quote, got {_show(value)}"
        )
    if "\\" in value:
        raise _fail(
            filter_name, f"{arg} must not contain a backslash, got {_show(value)}"
        )
    if not value or any(not 0x21 <= ord(char) <= 0x7E for char in value):
        raise _fail(
            filter_name,
            f"{arg} must be non-empty printable ASCII without spaces, got {_show(value)}",
        )


def _check_iodef(index: int, value: Any) -> str:
    """Validate one iodef target: ``mailto:user@domain`` or ``https://host/...``."""
    arg = f"iodef[{index}]"
    bad = _fail(
        "caa_records", f"{arg} must be a mailto: or https: URL, got {_show(value)}"
    )
    if not isinstance(value, str):
        raise bad
    _check_quotable("caa_records", arg, value)
    scheme = value.split(":", 1)[0].lower()
    if scheme == "mailto":
        if bulwark_dns.mail_address_problem(value[len("mailto:"):]) is not None:
            raise bad
        return value
    if scheme == "https" and bulwark_dns.https_url_problem(value) is None:
        return value
    raise bad


def _check_validation_methods(value: Any) -> list[str]:
    """Validate RFC 8657 validation-method labels (e.g. dns-01, http-01)."""
    if isinstance(value, str):
        value = [item.strip(" ") for item in value.split(",")]
    methods = _optional_list("caa_records", "validationmethods", value)
    for index, method in enumerate(methods):
        if not bulwark_dns.is_label(method):
            raise _fail(
                "caa_records",
                f"validationmethods[{index}] must be a method label such as dns-01 "
                f"(letters, digits, inner hyphens), got {_show(method)}",
            )
    return _dedupe(methods)


def _check_accounturi(value: Any) -> str:
    """Validate an RFC 8657 ``accounturi`` (an https:// ACME account URL)."""
    uri = _check_https_url("caa_records", "accounturi", value)
    if ";" in uri:
        raise _fail("caa_records", f"accounturi must not contain ';', got {_show(uri)}")
    return uri


def _issuers(arg: str, value: Any) -> list[str] | None:
    """Validated issuer domain names of ``issue``/``issuewild`` (None = omitted)."""
    if value is None:
        return None
    names = _string_list("caa_records", arg, value)
    for index, name in enumerate(names):
        if '"' in name:
            raise _fail(
                "caa_records",
                f"{arg}[{index}] must not contain a double quote, got {_show(name)}",
            )
    return _dedupe(
        _dns_name("caa_records", f"{arg}[{index}]", name, trailing_dot=False)
        for index, name in enumerate(names)
    )


def _issue_values(issuers: list[str], params: list[str]) -> list[str]:
    """Property values for one tag: ``;`` alone when no CA may issue."""
    if not issuers:
        return [";"]
    return ["; ".join([issuer, *params]) for issuer in issuers]


def caa_records(
    domain: Any,
    issue: Any = None,
    issuewild: Any = None,
    iodef: Any = None,
    critical: Any = False,
    accounturi: Any = None,
    validationmethods: Any = None,
    ttl: Any = None,
) -> list[str]:
    """Return CAA zone-file lines for ``domain``.

    ``issue``/``issuewild``: ``None`` (default) omits the tag, an empty list
    publishes ``";"`` (no CA may issue). At least one of them must be given.
    ``accounturi`` and ``validationmethods`` are added to every issuer.
    """
    owner = _dns_name("caa_records", "domain", domain) + "."
    ttl_text = _ttl_field("caa_records", ttl)
    issue_names = _issuers("issue", issue)
    wild_names = _issuers("issuewild", issuewild)
    if issue_names is None and wild_names is None:
        raise _fail(
            "caa_records",
            "issue or issuewild must be given (an empty list forbids issuance), got neither",
        )
    targets = [
        _check_iodef(i, v)
        for i, v in enumerate(_optional_list("caa_records", "iodef", iodef))
    ]
    flag = _CAA_CRITICAL_FLAG if _bool("caa_records", "critical", critical) else 0
    params = _issuer_params(
        issue_names or [], wild_names or [], accounturi, validationmethods
    )
    values: list[tuple[str, str]] = []
    if issue_names is not None:
        values += [("issue", v) for v in _issue_values(issue_names, params)]
    if wild_names is not None:
        values += [("issuewild", v) for v in _issue_values(wild_names, params)]
    values += [("iodef", target) for target in _dedupe(targets)]
    return [f'{owner} {ttl_text}IN CAA {flag} {tag} "{value}"' for tag, value in values]


def _issuer_params(
    issue_names: list[str],
    wild_names: list[str],
    accounturi: Any,
    validationmethods: Any,
) -> list[str]:
    """RFC 8657 parameters shared by every issuer record."""
    params = []
    if accounturi is not None:
        uri = _check_accounturi(accounturi)
        distinct = _dedupe([*issue_names, *wild_names])
        if len(distinct) != 1:
            raise _fail(
                "caa_records",
                "accounturi belongs to one CA, so issue/issuewild must name exactly one "
                f"issuer when it is set, got {len(distinct)}: "
                f"{', '.join(_show_name(name) for name in distinct) or 'none'}",
            )
        params.append(f"accounturi={uri}")
    methods = _check_validation_methods(validationmethods)
    if methods:
        params.append("validationmethods=" + ",".join(methods))
    return params


# --------------------------------------------------------------------------
# Ansible entry point
# --------------------------------------------------------------------------


class FilterModule:
    """Ansible filters for DANE TLSA, CAA and HPKP values."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Map filter names to functions."""
        return {
            "tlsa_record": tlsa_record,
            "spki_sha256": spki_sha256,
            "hpkp_pin": hpkp_pin,
            "hpkp_header": hpkp_header,
            "caa_records": caa_records,
        }
