"""Test helpers: generate keys, certificates, chains and CSRs as PEM.

RSA key generation is slow, so RSA keys come from a small cache; the other
key types are cheap and generated fresh.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

KEY_TYPES = ("rsa2048", "rsa3072", "p256", "p384", "ed25519")
FAST_KEY_TYPES = ("p256", "p384", "ed25519")

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


@functools.lru_cache(maxsize=None)
def cached_rsa_key(bits: int, slot: int = 0) -> rsa.RSAPrivateKey:
    """A cached RSA key; ``slot`` gives a few distinct keys per size."""
    del slot  # only part of the cache key
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def new_key(key_type: str, slot: int = 0) -> Any:
    """A private key of ``key_type`` (RSA from the cache, others fresh)."""
    if key_type == "rsa2048":
        return cached_rsa_key(2048, slot % 3)
    if key_type == "rsa3072":
        return cached_rsa_key(3072, 0)
    if key_type == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(key_type)


def _hash_for(key: Any) -> hashes.HashAlgorithm | None:
    """Signature hash for ``key`` (Ed25519 signs without a separate hash)."""
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def make_cert(
    key: Any,
    common_name: str = "www.example.org",
    issuer_key: Any | None = None,
    issuer_name: str | None = None,
    ca: bool = False,
    serial: int | None = None,
) -> x509.Certificate:
    """A certificate for ``key``, self-signed unless ``issuer_key`` is given."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or common_name)]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False
        )
    signer = issuer_key or key
    return builder.sign(signer, _hash_for(signer))


def make_csr(
    key: Any, common_name: str = "www.example.org"
) -> x509.CertificateSigningRequest:
    """A CSR for ``key``."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(key, _hash_for(key))
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(PEM).decode()


def csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(PEM).decode()


def public_pem(key: Any) -> str:
    """SubjectPublicKeyInfo PEM (``BEGIN PUBLIC KEY``)."""
    return key.public_key().public_bytes(PEM, SPKI).decode()


def rsa_pkcs1_public_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#1 PEM (``BEGIN RSA PUBLIC KEY``)."""
    return key.public_key().public_bytes(PEM, serialization.PublicFormat.PKCS1).decode()


def private_pem(key: Any, fmt: str = "pkcs8", password: bytes | None = None) -> str:
    """Private key PEM: ``pkcs8`` or ``traditional`` (PKCS#1 RSA / SEC1 EC)."""
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(PEM, formats[fmt], encryption).decode()


def spki_der(key: Any) -> bytes:
    """Expected SPKI DER, computed with cryptography (independently of the plugin)."""
    return key.public_key().public_bytes(DER, SPKI)


@dataclass(frozen=True)
class Pki:
    """A leaf key and certificate plus an issuing CA."""

    key_type: str
    leaf_key: Any
    leaf: x509.Certificate
    ca_key: Any
    ca: x509.Certificate

    @property
    def leaf_pem(self) -> str:
        return cert_pem(self.leaf)

    @property
    def ca_pem(self) -> str:
        return cert_pem(self.ca)

    @property
    def chain_pem(self) -> str:
        """Leaf first, then the CA: the usual server chain file."""
        return self.leaf_pem + self.ca_pem


def make_pki(key_type: str, host: str = "www.example.org", slot: int = 0) -> Pki:
    """Leaf certificate for ``host`` issued by a fresh CA (CA key is EC)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = make_cert(ca_key, "Bulwark Test CA", ca=True)
    leaf_key = new_key(key_type, slot)
    leaf = make_cert(leaf_key, host, issuer_key=ca_key, issuer_name="Bulwark Test CA")
    return Pki(key_type, leaf_key, leaf, ca_key, ca)


# --------------------------------------------------------------------------
# A certificate whose EC public key is stored in *compressed* form.
# cryptography always writes uncompressed points, so the certificate is
# re-assembled by hand. It shows that TLSA/HPKP must hash the SPKI bytes as
# they appear in the certificate, not a re-encoding of the key.
# --------------------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    """Encode one DER TLV."""
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _der_elements(data: bytes) -> list[bytes]:
    """Split the content of the outer SEQUENCE of ``data`` into raw TLVs."""

    def header(offset: int) -> tuple[int, int]:
        first = data[offset + 1]
        if first < 0x80:
            return offset + 2, first
        count = first & 0x7F
        return offset + 2 + count, int.from_bytes(
            data[offset + 2 : offset + 2 + count], "big"
        )

    start, length = header(0)
    end = start + length
    elements = []
    offset = start
    while offset < end:
        content, size = header(offset)
        elements.append(data[offset : content + size])
        offset = content + size
    return elements


@dataclass(frozen=True)
class CompressedCert:
    """PEM of the hand-made certificate, its exact SPKI DER and its key."""

    pem: str
    spki_der: bytes
    key: ec.EllipticCurvePrivateKey


def make_compressed_point_cert(host: str = "www.example.org") -> CompressedCert:
    """Self-signed P-256 certificate with a compressed-point SPKI."""
    key = ec.generate_private_key(ec.SECP256R1())
    template = make_cert(key, host)
    tbs_parts = _der_elements(template.tbs_certificate_bytes)
    assert tbs_parts[0][0] == 0xA0, "expected an explicit version"
    algorithm = _der_elements(tbs_parts[6])[0]
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    spki = _der(0x30, algorithm + _der(0x03, b"\x00" + point))
    tbs_parts[6] = spki
    tbs = _der(0x30, b"".join(tbs_parts))
    signature_algorithm = _der_elements(template.public_bytes(DER))[1]
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    cert_der = _der(0x30, tbs + signature_algorithm + _der(0x03, b"\x00" + signature))
    pem = x509.load_der_x509_certificate(cert_der).public_bytes(PEM).decode()
    return CompressedCert(pem, spki, key)
