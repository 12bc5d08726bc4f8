"""Unit tests for roles/acme_certificates/library/acme_host.py against the controller's real openssl: keys made in
place (mode 0600, named by their SPKI), requests built from them, the rollover's files, and the local fact."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

import acme_host

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
NOW = 1_800_000_000


def run(argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
    proc = subprocess.run(list(argv), input=data, capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"})
    return proc.returncode, proc.stdout, proc.stderr


def make(tmp_path: Path, key_type: str = "ecdsa", domains: list[str] | None = None) -> acme_host.Host:
    cert = {"id": f"www/{key_type}", "name": "www", "key_type": key_type,
            "domains": domains or ["www.example.org", "example.org"]}
    return acme_host.Host(str(tmp_path), cert, run, NOW)


def sign(host: acme_host.Host, key_path: str, names: Sequence[str]) -> None:
    """A self-signed certificate for the key at ``key_path``, written where the host serves it."""
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(0x1234).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    Path(host.crt).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(host.ca).write_text("primary https://acme.example/dir\n")


def test_a_missing_key_is_made_in_place_private_and_named_by_its_spki(tmp_path: Path) -> None:
    host = make(tmp_path)
    assert host.inspect()["key"]["exists"] is False
    os.makedirs(host.base)
    host.make_current_key()
    seen = host.inspect()
    assert seen["key"]["exists"] and seen["key"]["spki"].startswith(seen["key"]["id"])
    target = os.path.realpath(host.link)
    assert os.readlink(host.link) == f"keys/ecdsa-{seen['key']['id']}.key"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(host.keys).st_mode) == 0o700


def test_the_request_names_every_domain_and_carries_the_served_key(tmp_path: Path) -> None:
    host = make(tmp_path, "rsa")
    os.makedirs(host.base)
    host.make_current_key()
    csr = x509.load_pem_x509_csr(host.csr("current", {}).encode())
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["www.example.org", "example.org"]
    public = serialization.load_pem_private_key(Path(host.link).read_bytes(), None).public_key()
    assert csr.public_key() == public


def test_the_served_certificate_is_read_with_serial_expiry_names_key_and_ca(tmp_path: Path) -> None:
    host = make(tmp_path)
    os.makedirs(host.base)
    host.make_current_key()
    sign(host, host.link, ["www.example.org", "example.org"])
    seen = host.inspect()
    assert seen["cert"]["serial"] == "1234"
    assert seen["cert"]["names"] == ["example.org", "www.example.org"]
    assert seen["cert"]["spki"] == seen["key"]["spki"]
    assert seen["cert"]["ca"] == "primary"
    assert seen["cert"]["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert seen["cert"]["not_after"] > NOW - 10**9


def test_a_whole_rollover_on_disk(tmp_path: Path) -> None:
    host = make(tmp_path)
    os.makedirs(host.base)
    host.make_current_key()
    first = host.inspect()["key"]["id"]
    host.op("stage", 0)
    staged = host.inspect()
    assert staged["state"]["phase"] == "staged" and staged["state"]["current"] == first
    assert staged["next"]["id"] != first and len(staged["next"]["spki_sha256"]) == 64
    assert Path(host.next_pub).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    x509.load_pem_x509_csr(host.csr("next", staged["state"]).encode())
    host.op("published", 300)
    assert host.inspect()["state"]["ttl"] == 300
    # The switch is config_apply's link change; the op records it afterwards.
    os.unlink(host.link)
    os.symlink(f"keys/ecdsa-{staged['next']['id']}.key", host.link)
    host.op("switched", 0)
    switched = host.inspect()
    assert switched["key"]["id"] == staged["next"]["id"]
    assert switched["state"]["phase"] == "withdrawing" and switched["state"]["previous"] == first
    assert not os.path.exists(host.next_pub) and os.path.exists(host.previous_pub)
    assert not os.path.exists(host.key_path(first)), "the old private key is removed at the switch"
    host.op("withdrawn", 0)
    assert host.inspect()["state"] == {"phase": "none"}
    assert not os.path.exists(host.previous_pub)


def test_staging_again_removes_keys_left_by_a_run_that_died(tmp_path: Path) -> None:
    host = make(tmp_path)
    os.makedirs(host.base)
    host.make_current_key()
    orphan = host.make_key()
    host.op("stage", 0)
    assert not os.path.exists(host.key_path(orphan))
    assert len(os.listdir(host.keys)) == 2


def test_the_fact_lists_paths_names_and_the_services_of_issued_certificates(tmp_path: Path) -> None:
    host = make(tmp_path, domains=["mx1.example.org", "*.example.org"])
    host.cert.update(challenge="dns-01", tlsa=[{"port": 25, "proto": "tcp"}])
    os.makedirs(host.base)
    host.make_current_key()
    host.op("stage", 0)
    fact = json.loads(acme_host.fact_content([host], {"accounts": [{"ca": "primary"}]}))
    assert fact["schema"] == 1 and fact["accounts"] == [{"ca": "primary"}]
    entry: dict[str, Any] = fact["certificates"][0]
    assert entry["cert"].endswith("www/ecdsa.fullchain.crt") and entry["key"] == host.link
    assert entry["rollover_keys"] == [host.next_pub, host.previous_pub] and entry["challenge"] == "dns-01"
    assert fact["services"] == [{"names": ["mx1.example.org"], "port": 25, "proto": "tcp",
                                 "certificates": [{"cert": entry["cert"], "rollover_keys": entry["rollover_keys"]}]}]
    # The first certificate does not change the fact (a run with an order, then one with nothing due: changed=0).
    before = acme_host.fact_content([host], {})
    sign(host, host.link, ["mx1.example.org"])
    Path(entry["cert"]).write_text(Path(host.crt).read_text())
    assert acme_host.fact_content([host], {}) == before


@pytest.mark.parametrize(("text", "expected"), [
    ("serial=0A1B\nnotAfter=Jun  1 12:00:00 2030 GMT\nissuer=CN = Pebble Intermediate CA 1\n"
     "X509v3 Subject Alternative Name: \n    DNS:www.Example.org, DNS:example.org\n",
     {"serial": "0a1b", "not_after": 1906545600, "issuer": "CN = Pebble Intermediate CA 1",
      "names": ["example.org", "www.example.org"], "public_pem": None}),
])
def test_openssl_text_is_parsed(text: str, expected: dict[str, Any]) -> None:
    assert acme_host.parse_x509_text(text) == expected
