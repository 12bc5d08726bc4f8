"""Unit tests for roles/tls_common/library/tls_inspect.py, against the controller's real openssl."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID


import tls_inspect

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

NOW = datetime.datetime.now(datetime.timezone.utc)
PEM = serialization.Encoding.PEM


def run(argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
    proc = subprocess.run(list(argv), input=data, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"})
    return proc.returncode, proc.stdout, proc.stderr


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def ca() -> tuple[Any, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def leaf(ca: tuple[Any, x509.Certificate], key: Any, names: Sequence[str], ocsp: str | None = None,
         days: int = 30, expired: bool = False) -> x509.Certificate:
    ca_key, ca_cert = ca
    start, end = (NOW - datetime.timedelta(days=10), NOW - datetime.timedelta(days=1)) if expired else \
        (NOW - datetime.timedelta(hours=1), NOW + datetime.timedelta(days=days))
    builder = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if ocsp:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp))]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def write(tmp: Path, stem: str, cert: x509.Certificate, key: Any, chain: x509.Certificate,
          key_mode: int = 0o600) -> dict[str, str]:
    paths = {"cert": tmp / f"{stem}.crt", "key": tmp / f"{stem}.key", "chain": tmp / f"{stem}.chain.crt"}
    paths["cert"].write_bytes(cert.public_bytes(PEM))
    paths["key"].write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths["key"].chmod(key_mode)
    paths["chain"].write_bytes(chain.public_bytes(PEM))
    return {k: str(v) for k, v in paths.items()}


def test_good_ecdsa_certificate(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "ec", leaf(ca, key, ["www.example.org", "example.org"], ocsp="http://192.0.2.1:8080"),
                  key, ca[1])
    result = tls_inspect.inspect_entry(entry, run)
    assert result["errors"] == []
    assert result["key_type"] == "ecdsa"
    assert result["names"] == ["www.example.org", "example.org"]
    assert result["ocsp_uri"] == "http://192.0.2.1:8080"
    assert result["expired"] is False and result["not_after"].startswith(str(NOW.year))
    assert "BEGIN CERTIFICATE" in result["chain_pem"]


def test_rsa_certificate_without_responder(tmp_path: Path, ca: tuple[Any, x509.Certificate],
                                           rsa_key: rsa.RSAPrivateKey) -> None:
    entry = write(tmp_path, "rsa", leaf(ca, rsa_key, ["api.example.org"]), rsa_key, ca[1])
    result = tls_inspect.inspect_entry(entry, run)
    assert result["errors"] == []
    assert result["key_type"] == "rsa"
    assert result["ocsp_uri"] is None


def test_mismatched_key(tmp_path: Path, ca: tuple[Any, x509.Certificate], rsa_key: rsa.RSAPrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "x", leaf(ca, key, ["www.example.org"]), rsa_key, ca[1])
    errors = tls_inspect.inspect_entry(entry, run)["errors"]
    assert errors == [f"key {entry['key']} does not match cert {entry['cert']}"]


def test_expired_certificate(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "old", leaf(ca, key, ["www.example.org"], expired=True), key, ca[1])
    result = tls_inspect.inspect_entry(entry, run)
    assert result["expired"] is True
    assert len(result["errors"]) == 1 and result["errors"][0].startswith(f"cert {entry['cert']} expired on ")


def test_missing_files_and_wrong_chain(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other_ca = (key, leaf(ca, key, ["not-a-ca.example.org"]))
    entry = write(tmp_path, "e", leaf(ca, key, ["www.example.org"]), key, other_ca[1])
    errors = tls_inspect.inspect_entry(entry, run)["errors"]
    assert len(errors) == 1 and errors[0].startswith(f"chain {entry['chain']} does not verify cert {entry['cert']}")
    gone = {**entry, "cert": str(tmp_path / "gone.crt")}
    assert tls_inspect.inspect_entry(gone, run)["errors"] == [f"cert {gone['cert']} does not exist"]


def test_world_readable_key_and_not_a_certificate(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "w", leaf(ca, key, ["www.example.org"]), key, ca[1], key_mode=0o644)
    assert tls_inspect.inspect_entry(entry, run)["errors"] == [
        f"key {entry['key']} is readable by every user (mode 0644); make it 0600"]
    Path(entry["cert"]).write_text("not a certificate\n")
    assert tls_inspect.inspect_entry(entry, run)["errors"][0] == f"cert {entry['cert']} is not a PEM certificate"


def test_a_key_given_as_chain_is_never_returned(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "k", leaf(ca, key, ["www.example.org"]), key, ca[1])
    entry["chain"] = entry["key"]
    result = tls_inspect.inspect_entry(entry, run)
    assert "PRIVATE" not in str(result)
    assert result["chain_pem"] == ""
    entry["cert"], entry["chain"] = entry["key"], str(tmp_path / "k.crt")
    result = tls_inspect.inspect_entry(entry, run)
    assert "PRIVATE" not in str(result)
    assert result["cert_pem"] == ""


def test_the_certificate_and_chain_blocks_are_returned_as_read(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = leaf(ca, key, ["www.example.org"])
    entry = write(tmp_path, "p", certificate, key, ca[1])
    result = tls_inspect.inspect_entry(entry, run)
    assert result["cert_pem"] == certificate.public_bytes(serialization.Encoding.PEM).decode()
    assert result["chain_pem"] == ca[1].public_bytes(serialization.Encoding.PEM).decode()


def test_inspect_all_reports_the_version_and_each_entry_once(tmp_path: Path, ca: tuple[Any, x509.Certificate]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    entry = write(tmp_path, "a", leaf(ca, key, ["www.example.org"]), key, ca[1])
    result = tls_inspect.inspect_all([entry, dict(entry)], run)
    assert result["openssl_version"] and result["openssl_version"][0].isdigit()
    assert len(result["certificates"]) == 1


@pytest.mark.parametrize("text, version", [
    ("OpenSSL 3.5.1 1 Jul 2025 (Library: OpenSSL 3.5.1 1 Jul 2025)", "3.5.1"),
    ("OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.5.4 30 Sep 2025)", "3.5.4"),
    ("OpenSSL 3.0.2 15 Mar 2022", "3.0.2"),
    ("LibreSSL 3.8.2", None),
])
def test_parse_openssl_version(text: str, version: str | None) -> None:
    assert tls_inspect.parse_openssl_version(text) == version


def test_parse_helpers() -> None:
    when = tls_inspect.parse_enddate("notAfter=Jan  2 03:04:05 2027 GMT\n")
    assert when == datetime.datetime(2027, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert tls_inspect.parse_enddate("garbage") is None
    text = "X509v3 Subject Alternative Name:\n    DNS:WWW.example.org, DNS:example.org, IP Address:192.0.2.1\n"
    assert tls_inspect.parse_san_names(text) == ["www.example.org", "example.org"]
    assert tls_inspect.spki_key_type("no pem here") == "unknown"


def test_cipher_lists_are_checked_with_openssl() -> None:
    assert tls_inspect.check_ciphers(["ECDHE-RSA-AES128-GCM-SHA256"], ["TLS_AES_128_GCM_SHA256"], run) == []
    assert tls_inspect.check_ciphers([], [], run) == []
    errors = tls_inspect.check_ciphers(["NOT-A-CIPHER"], ["TLS_NOT_A_SUITE"], run)
    assert errors == ["ciphers: the host's OpenSSL rejects 'NOT-A-CIPHER' (no cipher match)",
                      "ciphersuites: the host's OpenSSL rejects 'TLS_NOT_A_SUITE' (no cipher match)"]
