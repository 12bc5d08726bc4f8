#!/usr/bin/env python3
"""Every certificate of the ct_monitor scenario (molecule helper, runs on the controller, in one process).

Writes into --out, each file only if it is missing (so prepare can run again):

    lab-ca.crt/.key             "Bulwark Lab CA", the CA the lab's CAA records allow (issuer of what Bulwark installs)
    web-www-rsa.crt             www.lab.test and lab.test from the lab CA, RSA key       -> installed on web: quiet
    web-www-ecdsa.crt           the same names, ECDSA key                                -> installed on web: quiet
    mx-mail-ecdsa.crt           mail.lab.test from the lab CA                            -> installed on mx: quiet
    mail-next.key               the key mx stages for its next rollover (copied to mx)
    rogue-ca.crt/.key           "Rogue Lab CA", a CA no CAA record of the lab allows
    rogue-www.crt               www.lab.test from the rogue CA, on a new key             -> alert
    rogue-mail.precert.crt      a precertificate for mail.lab.test from the rogue CA     -> alert
    lab-api-dev.crt             api.dev.lab.test (a watched tree) from the lab CA, new key -> alert, CAA allows
    lab-mail-renewal.crt        mail.lab.test from the lab CA on mail-next.key           -> quiet (a renewal)
    unrelated.crt               www.example.net from the rogue CA                       -> not watched
    install-web.json            {file name: PEM} of what web holds in /etc/ssl/bulwark-lab (www-rsa.crt, www-ecdsa.crt)
    install-mx.json             the same for mx (mail-ecdsa.crt, mail-next.key)

The scenario needs certificates that exist and are logged, not served, so it makes them here rather than with
the shared lab PKI (molecule/_shared/lab_pki.yml), which would take a play of some twenty tasks.
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM
# What each host holds in /etc/ssl/bulwark-lab (file here -> name there): the certificates Bulwark installed (the
# monitor reads certificates, not keys, so the leaves' keys are not kept) and mx's staged next key.
INSTALLED = {"web": {"web-www-rsa.crt": "www-rsa.crt", "web-www-ecdsa.crt": "www-ecdsa.crt"},
             "mx": {"mx-mail-ecdsa.crt": "mail-ecdsa.crt", "mail-next.key": "mail-next.key"}}


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _ca(organisation: str, common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(_now() - datetime.timedelta(days=1))
          .not_valid_after(_now() + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(key, hashes.SHA256()))
    return key, ca


def _leaf(names: list[str], public_key: Any, ca_key: Any, ca: x509.Certificate, precert: bool = False) -> bytes:
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .issuer_name(ca.subject).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(_now() - datetime.timedelta(hours=1))
               .not_valid_after(_now() + datetime.timedelta(days=60))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False))
    if precert:
        builder = builder.add_extension(x509.PrecertPoison(), critical=True)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(PEM)


def _load_or_make_ca(out: Path, stem: str, organisation: str, common_name: str) -> tuple[Any, x509.Certificate]:
    if not (out / f"{stem}.crt").exists():
        key, ca = _ca(organisation, common_name)
        _write(out / f"{stem}.key", _key_pem(key), 0o600)
        _write(out / f"{stem}.crt", ca.public_bytes(PEM))
    return (serialization.load_pem_private_key((out / f"{stem}.key").read_bytes(), password=None),
            x509.load_pem_x509_certificate((out / f"{stem}.crt").read_bytes()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    out: Path = parser.parse_args().out
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    lab_key, lab_ca = _load_or_make_ca(out, "lab-ca", "Bulwark Lab", "Bulwark Lab CA")
    rogue_key, rogue_ca = _load_or_make_ca(out, "rogue-ca", "Rogue Lab CA", "Rogue Lab CA R1")
    if not (out / "mail-next.key").exists():
        _write(out / "mail-next.key", _key_pem(ec.generate_private_key(ec.SECP256R1())), 0o600)
    next_key = serialization.load_pem_private_key((out / "mail-next.key").read_bytes(), password=None)

    def ecdsa() -> Any:
        return ec.generate_private_key(ec.SECP256R1()).public_key()

    def rsa2048() -> Any:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()

    www = ["www.lab.test", "lab.test"]
    wanted: dict[str, Callable[[], bytes]] = {
        "web-www-rsa.crt": lambda: _leaf(www, rsa2048(), lab_key, lab_ca),
        "web-www-ecdsa.crt": lambda: _leaf(www, ecdsa(), lab_key, lab_ca),
        "mx-mail-ecdsa.crt": lambda: _leaf(["mail.lab.test"], ecdsa(), lab_key, lab_ca),
        "rogue-www.crt": lambda: _leaf(["www.lab.test"], ecdsa(), rogue_key, rogue_ca),
        "rogue-mail.precert.crt": lambda: _leaf(["mail.lab.test"], ecdsa(), rogue_key, rogue_ca, precert=True),
        "lab-api-dev.crt": lambda: _leaf(["api.dev.lab.test"], ecdsa(), lab_key, lab_ca),
        "lab-mail-renewal.crt": lambda: _leaf(["mail.lab.test"], next_key.public_key(), lab_key, lab_ca),
        "unrelated.crt": lambda: _leaf(["www.example.net"], ecdsa(), rogue_key, rogue_ca),
    }
    for name, make in wanted.items():
        if not (out / name).exists():
            _write(out / name, make())
    for host, files in INSTALLED.items():
        bundle = {name: (out / source).read_text() for source, name in files.items()}
        _write(out / f"install-{host}.json", json.dumps(bundle).encode(), 0o600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
