# -*- coding: utf-8 -*-
"""Filters for the DNS side of key pinning: DANE TLSA, CAA and (legacy) HPKP.

Filters provided (documentation in the ``<filter>.yml`` files next to this
module and in ``docs/filters.md``):

* ``tlsa_record``  - a TLSA zone-file line (RFC 6698, RFC 7218, RFC 7671)
* ``hpkp_pin``     - the base64 ``pin-sha256`` of a key (RFC 7469)
* ``hpkp_header``  - a ``Public-Key-Pins`` header value (RFC 7469)
* ``caa_records``  - CAA zone-file lines (RFC 8659, RFC 8657)

Only the standard library, ``cryptography`` and ansible are imported.
Private key material is never echoed: errors about ``pem`` describe the input
by its PEM block labels only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sys
from pathlib import Path

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:  # the filters load without it (ansible-doc, caa_records); those that parse PEM say what is missing
    x509 = serialization = None  # type: ignore[assignment]

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]

# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------

_PEM_BLOCK_RE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE"})
_CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
_PUBLIC_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_PRIVATE_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_ENCRYPTED_LABELS = frozenset({"ENCRYPTED PRIVATE KEY"})

_MAX_NAME_LEN = bulwark_dns.MAX_NAME_LENGTH
_MAX_TTL = 2**31 - 1  # RFC 2181 section 8
_PROTOS = ("tcp", "udp", "sctp")
_TLSA_USAGES = (0, 1, 2, 3)
_TLSA_SELECTORS = (0, 1)
_TLSA_MATCHING = (0, 1, 2)
_CAA_CRITICAL_FLAG = 128
_PIN_LEN = 44  # base64 of 32 bytes

# ASN.1 DER universal tags used when walking TBSCertificate / CRI.
_DER_SEQUENCE = 0x30
_DER_CONTEXT_0 = 0xA0


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


def _show(value: Any, limit: int = 80) -> str:
    """Render a (non-secret) bad value for an error message, shortened."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = repr(str(value))
        return text if len(text) <= limit else text[: limit - 4] + "...'"
    return f"a {type(value).__name__}"


def _to_int(value: Any) -> int | None:
    """Return ``value`` as an int if it is an int or a decimal string.

    Booleans, floats and anything else give ``None``. Strings are accepted
    because Ansible variables (``-e port=443``, INI inventories) are strings.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value.strip())
    return None


def _int_choice(
    filter_name: str, arg: str, value: Any, choices: tuple[int, ...]
) -> int:
    """Check that ``value`` is one of a few small integer ``choices``."""
    number = _to_int(value)
    if number is None or number not in choices:
        allowed = ", ".join(str(c) for c in choices[:-1]) + f" or {choices[-1]}"
        raise _fail(filter_name, f"{arg} must be {allowed}, got {_show(value)}")
    return number


def _int_range(
    filter_name: str, arg: str, value: Any, low: int, high: int | None
) -> int:
    """Check that ``value`` is an integer from ``low`` to ``high`` (None: no limit)."""
    number = _to_int(value)
    if number is None or number < low or (high is not None and number > high):
        if low == 0:
            what = "a non-negative integer" + (
                f" (at most {high})" if high is not None else ""
            )
        else:
            what = f"an integer from {low} to {high}"
        raise _fail(filter_name, f"{arg} must be {what}, got {_show(value)}")
    return number


def _bool(filter_name: str, arg: str, value: Any) -> bool:
    """Ansible-style strict boolean (true/false/yes/no/1/0)."""
    try:
        return bool(boolean(value, strict=True))
    except TypeError:
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
# --------------------------------------------------------------------------


def _der_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """Parse one DER TLV header at ``offset``.

    Returns ``(tag, content_start, content_end)``; raises ``_SafeError`` on
    truncated or non-DER lengths.
    """
    if offset + 2 > len(data):
        raise _SafeError("truncated DER")
    tag = data[offset]
    first = data[offset + 1]
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise _SafeError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise _SafeError("truncated DER")
    return tag, start, end


def _der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """List ``(tag, element_start, element_end)`` of a constructed value."""
    children = []
    offset = start
    while offset < end:
        tag, _content, element_end = _der_header(data, offset)
        children.append((tag, offset, element_end))
        offset = element_end
    return children


def _spki_from_tbs(tbs: bytes, index_without_version: int) -> bytes:
    """Return the exact SubjectPublicKeyInfo bytes from a TBS structure.

    The bytes are taken as written, not re-encoded from the key, because a
    DANE client hashes what the certificate contains.
    ``index_without_version`` is the SPKI's position among the children of
    the outer SEQUENCE: 5 in a TBSCertificate (one more when the optional
    ``[0] EXPLICIT`` version is present), 2 in a CertificationRequestInfo
    (whose version is a plain INTEGER, so the index is not shifted).
    """
    tag, start, end = _der_header(tbs, 0)
    if tag != _DER_SEQUENCE:
        raise _SafeError("TBS is not a SEQUENCE")
    children = _der_children(tbs, start, end)
    index = index_without_version
    if children and children[0][0] == _DER_CONTEXT_0:
        index += 1
    if index >= len(children) or children[index][0] != _DER_SEQUENCE:
        raise _SafeError("no SubjectPublicKeyInfo")
    _tag, element_start, element_end = children[index]
    return tbs[element_start:element_end]


def _pem_blocks(text: str) -> list[tuple[str, bytes]]:
    """Return ``(label, whole PEM block bytes)`` for each PEM block in text."""
    return [
        (match.group(1), match.group(0).encode("ascii", "replace"))
        for match in _PEM_BLOCK_RE.finditer(text)
    ]


def _load_certificate(block: bytes) -> _KeyMaterial:
    """Load a PEM certificate; keep its DER and its exact SPKI bytes."""
    cert = x509.load_pem_x509_certificate(block)
    spki = _spki_from_tbs(cert.tbs_certificate_bytes, 5)
    return _KeyMaterial(
        "certificate", spki, cert.public_bytes(serialization.Encoding.DER)
    )


def _load_csr(block: bytes) -> _KeyMaterial:
    """Load a PEM certificate signing request; keep its exact SPKI bytes."""
    csr = x509.load_pem_x509_csr(block)
    return _KeyMaterial(
        "certificate request", _spki_from_tbs(csr.tbs_certrequest_bytes, 2)
    )


def _spki_of(key: Any) -> bytes:
    """DER SubjectPublicKeyInfo of a cryptography public key object."""
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _load_public_key(label: str, block: bytes) -> _KeyMaterial:
    """Load a PEM public key (SPKI or PKCS#1 RSA)."""
    key = serialization.load_pem_public_key(block)
    if label == "PUBLIC KEY":
        # The block already *is* the SPKI: hash exactly those bytes.
        der = base64.b64decode(b"".join(block.splitlines()[1:-1]))
        return _KeyMaterial("public key", der)
    return _KeyMaterial("public key", _spki_of(key))


def _load_private_key(block: bytes) -> _KeyMaterial:
    """Load an unencrypted PEM private key and derive its public SPKI."""
    try:
        key = serialization.load_pem_private_key(block, password=None)
    except TypeError:
        raise _SafeError(
            "the private key is encrypted; pass its certificate or public key"
        ) from None
    return _KeyMaterial("private key", _spki_of(key.public_key()))


def _pick_block(
    blocks: list[tuple[str, bytes]], allowed: frozenset[str]
) -> tuple[str, bytes] | None:
    """First certificate if any (a chain gives its leaf), else first key."""
    for label, block in blocks:
        if label in _CERT_LABELS:
            return label, block
    for label, block in blocks:
        if label in allowed or label in _ENCRYPTED_LABELS:
            return label, block
    return None


def _load_pem(filter_name: str, pem: Any, allow_csr: bool) -> _KeyMaterial:
    """Parse the ``pem`` argument into ``_KeyMaterial``.

    Error messages never contain the input text: only its PEM labels.
    """
    if x509 is None:
        raise _fail(filter_name, "needs the Python package cryptography on the controller (pip install cryptography)")
    if isinstance(pem, bytes):
        pem = pem.decode("ascii", "replace")
    if not isinstance(pem, str):
        raise _fail(filter_name, f"pem must be a PEM string, got {_show(pem)}")
    blocks = _pem_blocks(pem)
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
        labels = ", ".join(sorted({label for label, _block in blocks}))
        raise _fail(filter_name, f"pem must hold {wanted}, got PEM block(s): {labels}")
    label, block = chosen
    try:
        return _load_block(label, block)
    except _SafeError as exc:
        raise _fail(filter_name, f"pem: cannot use the {label} block: {exc}") from None
    except Exception:  # noqa: BLE001 - cryptography raises several types
        # Deliberately no exception text: it could quote the input.
        raise _fail(
            filter_name, f"pem: the {label} block is not valid (cannot be parsed)"
        ) from None


def _load_block(label: str, block: bytes) -> _KeyMaterial:
    """Dispatch one PEM block on its label."""
    if label in _CERT_LABELS:
        return _load_certificate(block)
    if label in _CSR_LABELS:
        return _load_csr(block)
    if label in _PUBLIC_LABELS:
        return _load_public_key(label, block)
    if label in _ENCRYPTED_LABELS:
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
            f"name is too long: the owner {owner}. would exceed {_MAX_NAME_LEN} characters, "
            f"got {_show(name)}",
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
    parts = urlsplit(value)
    if (
        parts.scheme.lower() != "https"
        or not parts.hostname
        or not _is_host(parts.hostname)
    ):
        raise _fail(
            filter_name,
            f"{arg} must be an https:// URL with a host name, got {_show(value)}",
        )
    return value


def _is_host(host: str) -> bool:
    """True for a DNS host name or an IP address literal."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return _name_problem(host.rstrip(".")) is None


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
    age = _int_range("hpkp_header", "max_age", max_age, 0, None)
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
        local, _at, domain = value[len("mailto:") :].rpartition("@")
        if not local or _name_problem(domain) is not None:
            raise bad
        return value
    if scheme == "https":
        parts = urlsplit(value)
        if parts.hostname and _is_host(parts.hostname):
            return value
    raise bad


def _check_validation_methods(value: Any) -> list[str]:
    """Validate RFC 8657 validation-method labels (e.g. dns-01, http-01)."""
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",")]
    methods = _string_list("caa_records", "validationmethods", value)
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
        for i, v in enumerate(_string_list("caa_records", "iodef", iodef or []))
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
                f"issuer when it is set, got {len(distinct)}: {', '.join(distinct) or 'none'}",
            )
        params.append(f"accounturi={uri}")
    methods = _check_validation_methods(validationmethods or [])
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
            "hpkp_pin": hpkp_pin,
            "hpkp_header": hpkp_header,
            "caa_records": caa_records,
        }
