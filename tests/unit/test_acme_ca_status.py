"""Unit tests for roles/acme_certificates/library/acme_ca_status.py: the ARI certificate id, the renewal moment
inside the suggested window, and a CA that does not answer."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acme_ca_status import cert_id, decide, status

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def leaf(serial: int) -> str:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    aki = x509.AuthorityKeyIdentifier(b"\x69\x88\x5b\x6b\x87\x46\x40\x41\xe1\xb3\x7b\x84\x7b\xa0\xae\x2c\xde\x01"
                                      b"\xc8\xd4", None, None)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=90))
            .add_extension(aki, critical=False).sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_cert_id_is_the_rfc_9773_example() -> None:
    # RFC 9773 section 4.1: AKI 69:88:5B:..., serial 0x0087654321 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert cert_id(leaf(0x87654321)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_a_serial_without_the_high_bit_gets_no_leading_zero() -> None:
    assert cert_id(leaf(0x1234)).split(".")[1] == base64.urlsafe_b64encode(b"\x12\x34").decode().rstrip("=")


def test_the_moment_inside_the_window_is_fixed_per_certificate() -> None:
    window = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-03T00:00:00Z"}
    assert decide(window, "a.b", NOW - datetime.timedelta(seconds=1))[0] is False
    assert decide(window, "a.b", NOW + datetime.timedelta(days=2))[0] is True
    moments = {decide(window, f"a.{n}", NOW + datetime.timedelta(days=1))[0] for n in range(40)}
    assert moments == {True, False}, "renewals spread over the window"


def fetcher(answers: dict[str, Any]) -> Any:
    def fetch(url: str) -> Any:
        answer = answers.get(url.rsplit("/", 1)[0] if "/renewal/" in url else url)
        if isinstance(answer, Exception) or answer is None:
            raise answer or ConnectionRefusedError("refused")
        return answer
    return fetch


def test_ari_goes_to_the_ca_that_issued_the_certificate_and_a_dead_ca_gives_no_advice() -> None:
    window = {"suggestedWindow": {"start": "2029-12-01T00:00:00Z", "end": "2029-12-02T00:00:00Z"}}
    fetch = fetcher({"https://a/dir": {"renewalInfo": "https://a/renewal"}, "https://a/renewal": window,
                     "https://b/dir": ConnectionRefusedError("[Errno 111] Connection refused")})
    result = status({"primary": "https://a/dir", "backup": "https://b/dir", "none": ""},
                    [{"id": "x", "ca": "primary", "certificate": leaf(5)},
                     {"id": "y", "ca": "backup", "certificate": leaf(6)}], fetch, NOW)
    assert result["cas"]["primary"] == {"up": True, "error": None, "renewal_info": "https://a/renewal"}
    assert result["cas"]["backup"]["up"] is False and "refused" in result["cas"]["backup"]["error"]
    assert "none" not in result["cas"]
    assert result["ari"]["x"]["should_renew"] is True and "has opened" in result["ari"]["x"]["msg"]
    assert result["ari"]["y"] == {"should_renew": False, "msg": "", "window": None,
                                  "error": "the backup CA does not answer"}


def test_a_ca_without_ari_is_said_so() -> None:
    result = status({"primary": "https://a/dir"}, [{"id": "x", "ca": "primary", "certificate": leaf(5)}],
                    fetcher({"https://a/dir": {}}), NOW)
    assert result["ari"]["x"]["msg"] == "the CA offers no renewal information (ARI)"


@pytest.mark.parametrize("serial", [1, 0x7F, 0x80, 0xFFFF, 2**159 - 1])
def test_cert_ids_decode_back_to_the_serial(serial: int) -> None:
    encoded = cert_id(leaf(serial)).split(".")[1]
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    assert int.from_bytes(raw, "big") == serial and raw[0] < 0x80
