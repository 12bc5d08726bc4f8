#!/usr/bin/env python3
"""Certificates for the ct_monitor scenario that Bulwark did not install (molecule helper, runs on the controller).

Reads the lab CA (molecule/_shared/lab_pki.yml) from --pki and writes into --out, each file only if it is
missing (so prepare can run again):

    rogue-ca.crt/.key           "Rogue Lab CA", a CA no CAA record of the lab allows
    rogue-www.crt               www.lab.test from the rogue CA, on a new key             -> alert
    rogue-mail.precert.crt      a precertificate for mail.lab.test from the rogue CA     -> alert
    lab-api-dev.crt             api.dev.lab.test (a watched tree) from the lab CA, new key -> alert, CAA allows
    mail-next.key               the key mx stages for its next rollover (copied to mx)
    lab-mail-renewal.crt        mail.lab.test from the lab CA on mail-next.key           -> quiet (a renewal)
    unrelated.crt               www.example.net from the rogue CA                       -> not watched
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def _leaf(names: list[str], public_key: object, ca_key: object, ca: x509.Certificate,
          precert: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .issuer_name(ca.subject).public_key(public_key)  # type: ignore[arg-type]
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=60))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False))
    if precert:
        builder = builder.add_extension(x509.PrecertPoison(), critical=True)
    return builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pki", required=True, type=Path, help="the lab PKI directory (ca.crt, ca.key)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    lab_ca = x509.load_pem_x509_certificate((args.pki / "ca.crt").read_bytes())
    lab_key = serialization.load_pem_private_key((args.pki / "ca.key").read_bytes(), password=None)

    if not (out / "rogue-ca.crt").exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Rogue Lab CA"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "Rogue Lab CA R1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .sign(key, hashes.SHA256()))
        _write(out / "rogue-ca.key", _key_pem(key), 0o600)
        _write(out / "rogue-ca.crt", ca.public_bytes(PEM))
    rogue_ca = x509.load_pem_x509_certificate((out / "rogue-ca.crt").read_bytes())
    rogue_key = serialization.load_pem_private_key((out / "rogue-ca.key").read_bytes(), password=None)

    if not (out / "mail-next.key").exists():
        _write(out / "mail-next.key", _key_pem(ec.generate_private_key(ec.SECP256R1())), 0o600)
    next_key = serialization.load_pem_private_key((out / "mail-next.key").read_bytes(), password=None)

    def fresh() -> object:
        return ec.generate_private_key(ec.SECP256R1()).public_key()

    wanted = {
        "rogue-www.crt": lambda: _leaf(["www.lab.test"], fresh(), rogue_key, rogue_ca),
        "rogue-mail.precert.crt": lambda: _leaf(["mail.lab.test"], fresh(), rogue_key, rogue_ca, precert=True),
        "lab-api-dev.crt": lambda: _leaf(["api.dev.lab.test"], fresh(), lab_key, lab_ca),
        "lab-mail-renewal.crt": lambda: _leaf(["mail.lab.test"], next_key.public_key(), lab_key, lab_ca),
        "unrelated.crt": lambda: _leaf(["www.example.net"], fresh(), rogue_key, rogue_ca),
    }
    for name, make in wanted.items():
        if not (out / name).exists():
            _write(out / name, make().public_bytes(PEM))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
