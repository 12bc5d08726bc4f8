# -*- coding: utf-8 -*-
"""PEM text as Bulwark reads it: one implementation for every filter and module.

- ``pem_blocks`` scans a text for ``-----BEGIN <label>-----`` ... ``-----END <label>-----`` blocks in one
  linear pass and refuses a text longer than ``MAX_PEM_CHARS`` (1 MiB): certificate files are read from
  managed hosts, and a hostile or broken file must cost the controller milliseconds, not minutes.
- ``PemBlock.der()`` decodes a block's body strictly (RFC 7468 with RFC 1421 headers allowed, as
  cryptography's own parser accepts them); ``certificate_blocks`` returns the certificates of a text
  re-encoded from their DER, so the same certificate always gives the same text.
- ``certificate_spki``/``csr_spki`` return the SubjectPublicKeyInfo exactly as a certificate (or CSR)
  carries it: the bytes a DANE client or an HPKP browser hashes.

Every ``PemError`` message is safe to show: it names sizes, labels and positions, never the text.

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

MAX_PEM_CHARS = 1 << 20  # 1 MiB: a certificate chain is a few KiB; a CA bundle about 200 KiB
MAX_LABEL_CHARS = 64

# One marker: BEGIN or END, a label of upper-case letters, digits, spaces and inner hyphens (RFC 7468
# labelchar, bounded), five dashes. The label cannot contain '-', so each attempt is bounded: linear scan.
_MARKER_RE = re.compile(r"-----(BEGIN|END) ([A-Z0-9](?:[A-Z0-9 ]|-(?!----)){0,62}[A-Z0-9]?)-----")
_WHITESPACE_RE = re.compile(r"\s+")

CERTIFICATE_LABEL = "CERTIFICATE"


class PemError(ValueError):
    """A PEM text Bulwark refuses; the message is safe to show (no part of the text)."""


@dataclass(frozen=True)
class PemBlock:
    """One complete PEM block: its label, its text from BEGIN to END (both markers included), its place."""

    label: str
    text: str
    start: int  # offset of the BEGIN marker in the scanned text
    index: int  # 0 for the text's first complete block, 1 for the next...

    def der(self) -> bytes:
        """The block's body decoded (RFC 1421 headers, ended by a blank line, are skipped).

        Raises PemError when the body is not strict base64 (padding included) or has non-ASCII characters.
        """
        body = self.text[self.text.index("-----", 5) + 5 : self.text.rindex("-----END ")]
        body = body.replace("\r\n", "\n")
        first_line = body.lstrip(" \t\r\n").split("\n", 1)[0]
        if ":" in first_line:  # RFC 1421 headers (Proc-Type, Comment...) end at the first blank line
            _headers, blank, body = body.partition("\n\n")
            if not blank:
                raise PemError(f"the {self.label} block has a header line but no blank line after the headers")
        data = _WHITESPACE_RE.sub("", body)
        if not data.isascii():
            raise PemError(f"the {self.label} block has non-ASCII characters in its body")
        try:
            decoded = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise PemError(f"the {self.label} block's body is not valid base64") from None
        if not decoded:
            raise PemError(f"the {self.label} block is empty")
        return decoded


def check_size(text: str | bytes, limit: int = MAX_PEM_CHARS) -> None:
    """Refuse a text longer than ``limit`` characters (bytes), before any scan."""
    if len(text) > limit:
        raise PemError(f"the text is {len(text)} characters long, more than the {limit}-character (1 MiB) limit "
                       "for PEM input")


def pem_blocks(text: str, limit: int = MAX_PEM_CHARS) -> list[PemBlock]:
    """The complete PEM blocks of ``text`` in order, found in one linear pass.

    A BEGIN marker followed by another BEGIN before its END, or by an END of another label, starts no
    block (the text between is not returned); so does a BEGIN that is never closed. Use ``unclosed_labels``
    to learn about those. Raises PemError for a text longer than ``limit``.
    """
    return _scan(text, limit)[0]


def unclosed_labels(text: str, limit: int = MAX_PEM_CHARS) -> list[str]:
    """Labels of the BEGIN markers of ``text`` that no matching END closes, in order."""
    return _scan(text, limit)[1]


def _scan(text: str, limit: int) -> tuple[list[PemBlock], list[str]]:
    if not isinstance(text, str):
        raise PemError(f"PEM input must be a string, got a {type(text).__name__}")
    check_size(text, limit)
    blocks: list[PemBlock] = []
    unclosed: list[str] = []
    open_label: str | None = None
    open_start = 0
    for marker in _MARKER_RE.finditer(text):
        kind, label = marker.group(1), marker.group(2)
        if kind == "BEGIN":
            if open_label is not None:
                unclosed.append(open_label)
            open_label, open_start = label, marker.start()
        elif open_label is not None:
            if label == open_label:
                blocks.append(PemBlock(label, text[open_start : marker.end()], open_start, len(blocks)))
            else:
                unclosed.append(open_label)
            open_label = None
    if open_label is not None:
        unclosed.append(open_label)
    return blocks, unclosed


def encode(label: str, der: bytes) -> str:
    """RFC 7468 strict PEM text of ``der`` (64-character lines), without a trailing newline."""
    data = base64.b64encode(der).decode("ascii")
    lines = [data[i : i + 64] for i in range(0, len(data), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


def certificate_blocks(text: str, limit: int = MAX_PEM_CHARS) -> list[str]:
    """The ``CERTIFICATE`` blocks of ``text`` in order, each re-encoded from its DER (no trailing newline).

    Raises PemError when the text is too long, a CERTIFICATE block is not closed, or its body does not
    decode to one DER SEQUENCE: a chain with a truncated certificate is refused, not shortened.
    """
    scanned, unclosed = _scan(text, limit)
    if CERTIFICATE_LABEL in unclosed:
        raise PemError("a CERTIFICATE block has no matching -----END CERTIFICATE----- line")
    result = []
    for block in scanned:
        if block.label != CERTIFICATE_LABEL:
            continue
        where = f"PEM block {block.index + 1} (CERTIFICATE)"
        try:
            der = block.der()
            if der[0] != _SEQUENCE or _element_end(der, 0, "certificate") != len(der):
                raise PemError("it is not one DER SEQUENCE")
        except PemError as exc:
            raise PemError(f"{where}: {exc}") from None
        result.append(encode(CERTIFICATE_LABEL, der))
    return result


# --------------------------------------------------------------------------
# DER: just enough to find the SubjectPublicKeyInfo of a certificate or CSR
# --------------------------------------------------------------------------

_SEQUENCE = 0x30
_CONTEXT_0 = 0xA0


def _header(data: bytes, offset: int, what: str) -> tuple[int, int, int]:
    """``(tag, content_start, content_end)`` of the DER element at ``offset``; PemError if malformed."""
    if offset + 2 > len(data):
        raise PemError(f"the {what} is truncated DER")
    tag, first, start = data[offset], data[offset + 1], offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise PemError(f"the {what} has a DER length that is not valid")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise PemError(f"the {what} is truncated DER")
    return tag, start, start + length


def _element_end(data: bytes, offset: int, what: str) -> int:
    return _header(data, offset, what)[2]


def _children(data: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """``(tag, element_start, element_end)`` of each element of a constructed value."""
    children = []
    offset = start
    while offset < end:
        tag, _content, element_end = _header(data, offset, what)
        children.append((tag, offset, element_end))
        offset = element_end
    return children


def _spki_in(signed_der: bytes, index_without_version: int, what: str) -> bytes:
    """The SPKI element of the to-be-signed part of a signed structure (certificate or CSR)."""
    tag, start, end = _header(signed_der, 0, what)
    if tag != _SEQUENCE or end != len(signed_der):
        raise PemError(f"the {what} is not one DER SEQUENCE")
    tbs_tag, tbs_start, tbs_end = _header(signed_der, start, what)
    if tbs_tag != _SEQUENCE:
        raise PemError(f"the {what} has no to-be-signed SEQUENCE")
    children = _children(signed_der, tbs_start, tbs_end, what)
    index = index_without_version
    if children and children[0][0] == _CONTEXT_0:
        index += 1
    if index >= len(children) or children[index][0] != _SEQUENCE:
        raise PemError(f"the {what} has no SubjectPublicKeyInfo")
    _tag, element_start, element_end = children[index]
    return signed_der[element_start:element_end]


def certificate_spki(cert_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a DER certificate, byte for byte as the certificate carries it.

    TBSCertificate: [0] version (optional), serial, signature, issuer, validity, subject, SPKI.
    """
    return _spki_in(cert_der, 5, "certificate")


def csr_spki(csr_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a DER certification request (PKCS#10), as the request carries it.

    CertificationRequestInfo: version (a plain INTEGER), subject, SPKI.
    """
    return _spki_in(csr_der, 2, "certificate request")
