"""Unit and property tests for roles/shared/module_utils/bulwark_pem.py: the PEM scanner every filter uses."""

from __future__ import annotations

import base64
import time
from typing import Any

import pki_factory as pf
import pytest
from ansible.module_utils.bulwark_pem import (
    MAX_PEM_CHARS,
    PemError,
    certificate_blocks,
    certificate_spki,
    csr_spki,
    encode,
    pem_blocks,
    unclosed_labels,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hostile import pem_layouts, properties
from hypothesis import given
from hypothesis import strategies as st

DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo

# --------------------------------------------------------------------------
# the scanner against a model: complete blocks, unclosed BEGINs, stray ENDs and junk, in any order
# --------------------------------------------------------------------------

COMPLETE_LABELS = ["CERTIFICATE", "PUBLIC KEY", "PRIVATE KEY", "X509 CRL"]
UNCLOSED_LABELS = ["CERTIFICATE", "TRUSTED CERTIFICATE"]
STRAY_END_LABELS = ["DH PARAMETERS", "EC PARAMETERS"]
junk = st.text(alphabet=st.sampled_from("abc XYZ019+/=:\n\r\t-"), max_size=30).filter(lambda t: "-----" not in t)


@st.composite
def pieces(draw: Any) -> tuple[str, str, str | None]:
    """(kind, text, label): a complete block, an unclosed BEGIN, a stray END, or junk."""
    kind = draw(st.sampled_from(["block", "block", "unclosed", "stray end", "junk"]))
    if kind == "block":
        label = draw(st.sampled_from(COMPLETE_LABELS))
        body = base64.b64encode(draw(st.binary(min_size=1, max_size=60))).decode()
        return kind, f"-----BEGIN {label}-----\n{body}\n-----END {label}-----", label
    if kind == "unclosed":
        label = draw(st.sampled_from(UNCLOSED_LABELS))
        return kind, f"-----BEGIN {label}-----\n" + draw(junk), label
    if kind == "stray end":
        return kind, f"-----END {draw(st.sampled_from(STRAY_END_LABELS))}-----", None
    return kind, draw(junk), None


@properties(400)
@given(items=st.lists(pieces(), max_size=12), separators=st.lists(st.sampled_from(["", "\n", " ", "\r\n"]),
                                                                   min_size=12, max_size=12))
def test_scanner_finds_exactly_the_complete_blocks_in_order(items: list[Any], separators: list[str]) -> None:
    text = "".join(piece + separator for (_kind, piece, _label), separator in zip(items, separators))
    blocks = pem_blocks(text)
    assert [(b.label, b.text) for b in blocks] == [(label, piece) for kind, piece, label in items if kind == "block"]
    assert [b.index for b in blocks] == list(range(len(blocks)))
    assert all(text[b.start : b.start + len(b.text)] == b.text for b in blocks)
    assert unclosed_labels(text) == [label for kind, _piece, label in items if kind == "unclosed"]


@pytest.mark.parametrize("shape", [
    "-----BEGIN CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----",
    "-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nA\n-----END PRIVATE KEY-----\n",
    "-----BEGIN " + "A" * 60 + "-",
    "-",
    "-----BEGIN CERTIFICATE-----\n" + "QUFB" * 16 + "\n",
])
def test_a_mebibyte_of_hostile_pem_is_scanned_in_well_under_a_second(shape: str) -> None:
    text = (shape * (MAX_PEM_CHARS // len(shape) + 1))[:MAX_PEM_CHARS]
    started = time.perf_counter()
    assert pem_blocks(text) == []
    try:
        assert certificate_blocks(text) == []
    except PemError:
        assert "BEGIN CERTIFICATE" in text
    assert time.perf_counter() - started < 0.5


def test_text_over_the_limit_is_refused_before_any_scan() -> None:
    started = time.perf_counter()
    with pytest.raises(PemError, match=r"1048577 characters long, more than the 1048576-character \(1 MiB\) limit"):
        pem_blocks("-----BEGIN CERTIFICATE-----\n" * 37449 + "x" * 5)
    with pytest.raises(PemError, match="limit"):
        certificate_blocks("x" * (MAX_PEM_CHARS + 1))
    assert time.perf_counter() - started < 0.5
    assert pem_blocks("x" * MAX_PEM_CHARS) == []


def test_non_text_is_refused() -> None:
    with pytest.raises(PemError, match="must be a string, got a bytes"):
        pem_blocks(b"-----BEGIN CERTIFICATE-----")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# certificates: re-encoded from their DER, whatever the layout cryptography accepts
# --------------------------------------------------------------------------


@properties(150)
@given(data=st.data())
def test_certificate_blocks_give_the_certificate_as_cryptography_writes_it(data: Any) -> None:
    key = data.draw(st.sampled_from(["p256", "ed25519", "rsa2048"]).map(pf.new_key), label="key")
    cert = pf.make_cert(key, "www.example.org")
    text = data.draw(pem_layouts("CERTIFICATE", cert.public_bytes(DER)), label="layout")
    try:
        loaded = x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        with pytest.raises(PemError):
            certificate_blocks(text)
        return
    assert certificate_blocks(text) == [loaded.public_bytes(serialization.Encoding.PEM).decode().strip()]


def test_broken_certificates_are_refused_not_skipped() -> None:
    good = pf.cert_pem(pf.make_cert(pf.new_key("p256")))
    with pytest.raises(PemError, match=r"PEM block 2 \(CERTIFICATE\): .*not valid base64"):
        certificate_blocks(good + "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    with pytest.raises(PemError, match="not one DER SEQUENCE"):
        certificate_blocks(encode("CERTIFICATE", b"\x02\x01\x00"))
    with pytest.raises(PemError, match="no matching -----END CERTIFICATE-----"):
        certificate_blocks(good + good[: len(good) // 2])
    assert certificate_blocks(good + pf.private_pem(pf.new_key("p256"))) == [good.strip()]


def test_encode_is_rfc7468_strict() -> None:
    text = encode("CERTIFICATE", bytes(range(100)))
    lines = text.split("\n")
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and lines[-1] == "-----END CERTIFICATE-----"
    assert [len(line) for line in lines[1:-1]] == [64, 64, 8]


# --------------------------------------------------------------------------
# SPKI extraction
# --------------------------------------------------------------------------


@properties(60)
@given(kind=st.sampled_from(["rsa2048", "rsa3072", "p256", "p384", "ed25519"]))
def test_spki_is_the_key_cryptography_serialises(kind: str) -> None:
    key = pf.new_key(kind)
    spki = key.public_key().public_bytes(DER, SPKI)
    assert certificate_spki(pf.make_cert(key).public_bytes(DER)) == spki
    assert csr_spki(pf.make_csr(key).public_bytes(DER)) == spki


def test_spki_as_written_in_a_compressed_point_certificate() -> None:
    compressed = pf.make_compressed_point_cert()
    der = x509.load_pem_x509_certificate(compressed.pem.encode()).public_bytes(DER)
    assert certificate_spki(der) == compressed.spki_der


@pytest.mark.parametrize("der", [b"", b"\x30", b"\x30\x05\x30\x03\x02\x01", b"\x30\x84\xff\xff\xff\xff",
                                 b"\x30\x03\x02\x01\x00", b"\x02\x01\x00", b"\x30\x80\x00\x00"])
def test_malformed_der_is_a_pem_error(der: bytes) -> None:
    with pytest.raises(PemError):
        certificate_spki(der)
    with pytest.raises(PemError):
        csr_spki(der)


def test_spki_of_a_key_from_cryptography_round_trips() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = pf.make_cert(key).public_bytes(DER)
    loaded = serialization.load_der_public_key(certificate_spki(der))
    assert loaded.public_bytes(DER, SPKI) == key.public_key().public_bytes(DER, SPKI)
    assert isinstance(ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey)
