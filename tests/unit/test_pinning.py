"""Unit and property tests for filter_plugins/pinning.py.

Expected values are computed independently of the plugin: fixed vectors
computed once with the openssl command line, and for generated material
with ``cryptography``/``hashlib`` directly. Every produced zone-file line is
parsed with dnspython.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pki_factory as pf
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinning
from pinning import FilterModule, caa_records, hpkp_header, hpkp_pin, spki_sha256, tlsa_record

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------
# Known-answer vectors (Ed25519 self-signed certificate made with
# `openssl req -x509 -newkey ed25519`; digests from the openssl pipeline
# `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst`)
# --------------------------------------------------------------------------

KAT_CERT = """-----BEGIN CERTIFICATE-----
MIIBSjCB/aADAgECAhQ4Dsd0tPk+yeUKyX0jIg7NNQUxsTAFBgMrZXAwGjEYMBYG
A1UEAwwPa2F0LmV4YW1wbGUub3JnMCAXDTI2MTEyMjE3MTk0NloYDzIxMjYxMDI5
MTcxOTQ2WjAaMRgwFgYDVQQDDA9rYXQuZXhhbXBsZS5vcmcwKjAFBgMrZXADIQAP
WdVu0HzfEvygKlEI8tna0mrncjS9bK2PwI0RcP6ZSaNTMFEwHQYDVR0OBBYEFF8i
oMTsSmvNs4p0re6d5y0iv09/MB8GA1UdIwQYMBaAFF8ioMTsSmvNs4p0re6d5y0i
v09/MA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAMYJtqS6xvw/NjMraYqeA8Jsm
+42mcG6x1Xf2aV2D2ckuKs8igsRabaeu85VIK8kX+tYsBwQsaXFMEjbaigoWAw==
-----END CERTIFICATE-----
"""
KAT_PUBKEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAD1nVbtB83xL8oCpRCPLZ2tJq53I0vWytj8CNEXD+mUk=
-----END PUBLIC KEY-----
"""
KAT_SPKI_HEX = "302a300506032b65700321000f59d56ed07cdf12fca02a5108f2d9dad26ae77234bd6cad8fc08d1170fe9949"
KAT_SPKI_SHA256 = "970e71c1536f35c6c297712315c0d721c451508ca6b2f9be2f82ac023c7e7c02"
KAT_SPKI_SHA512 = (
    "999e019c3361f2ad26d047ffad113f319ba56d57f5160aa774e93863284ec620"
    "291b32d1e47e7647dbec2816b5e9e077ab612fae0583a4445b1a0d851c494c50"
)
KAT_CERT_SHA256 = "b268f180ba17ac552881261d5a3176a1abfebaebbc1956f04a26d606ed795e25"
KAT_CERT_SHA512 = (
    "b65b11aae6132d2c39c32872895c4e2f67eb49d0f470f08de88d76a1d8d19683"
    "f2a3f4980389aae52d865ef93ba386f688a065a81564a652c34b76dc55deb9ec"
)
KAT_CERT_DER_PREFIX = (
    "3082014a3081fda0030201020214380ec774b4f93ec9e50ac97d23220ecd350531b1"
)
KAT_PIN = "lw5xwVNvNcbCl3EjFcDXIcRRUIymsvm+L4KsAjx+fAI="

PIN_A = base64.b64encode(bytes(range(32))).decode()
PIN_B = base64.b64encode(bytes(range(1, 33))).decode()
PIN_C = base64.b64encode(b"\xff" * 32).decode()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def parse_zone_line(line: str, rdtype: str) -> tuple[dns.name.Name, int | None, Any]:
    """Parse one zone-file line twice with dnspython.

    1. ``dns.rdata.from_text`` on the rdata after splitting off owner, TTL,
       class and type (checks the column layout exactly).
    2. ``dns.zone.from_text`` on the whole line (checks the owner and TTL).

    Returns (owner, ttl or None, rdata).
    """
    fields = line.split(None, 2)
    owner_text = fields[0]
    ttl: int | None = None
    rest = line[len(owner_text) :].lstrip()
    if fields[1].isdigit():
        ttl = int(fields[1])
        rest = rest[len(fields[1]) :].lstrip()
    rdclass, typ, rdata_text = rest.split(None, 2)
    assert rdclass == "IN"
    assert typ == rdtype
    assert owner_text.endswith("."), "owner must be absolute"
    rdata = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), rdata_text
    )

    zone = dns.zone.from_text(
        f"$TTL 4242\n{line}\n",
        origin=dns.name.root,
        relativize=False,
        check_origin=False,
    )
    owner = dns.name.from_text(owner_text)
    rdataset = zone.find_rdataset(owner, rdtype)
    assert list(rdataset) == [rdata]
    assert rdataset.ttl == (4242 if ttl is None else ttl)
    return owner, ttl, rdata


def error_of(func: Any, *args: Any, **kwargs: Any) -> str:
    """Call ``func`` expecting AnsibleFilterError; return its message."""
    with pytest.raises(AnsibleFilterError) as info:
        func(*args, **kwargs)
    return str(info.value.message if hasattr(info.value, "message") else info.value)


def secret_fragments(pem: str) -> list[str]:
    """Base64 body lines (and 12-char slices of them) of a PEM private key."""
    fragments = []
    for line in pem.splitlines():
        if line.startswith("-----") or ":" in line or not line.strip():
            continue
        fragments.append(line)
        fragments.extend(line[i : i + 12] for i in range(0, max(len(line) - 12, 1), 6))
    return [f for f in fragments if len(f) >= 12]


def assert_no_secret(message: str, private: str) -> None:
    """The message must not contain any part of the private key PEM."""
    assert "PRIVATE KEY-----" not in message
    for fragment in secret_fragments(private):
        assert fragment not in message


def expected_tlsa_data(
    cert_der: bytes | None, spki: bytes, selector: int, mtype: int
) -> str:
    """Independent computation of the TLSA association data (hex)."""
    data = cert_der if selector == 0 else spki
    assert data is not None
    digest = {
        0: lambda b: b,
        1: lambda b: hashlib.sha256(b).digest(),
        2: lambda b: hashlib.sha512(b).digest(),
    }
    return digest[mtype](data).hex()


# --------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------

labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?", fullmatch=True)
host_names = st.lists(labels, min_size=1, max_size=4).map(".".join)
lower_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
domains = st.lists(lower_labels, min_size=2, max_size=3).map(".".join)
key_slots = st.sampled_from(
    [("p256", 0), ("p384", 0), ("ed25519", 0), ("rsa2048", 0), ("rsa2048", 1)]
)


# --------------------------------------------------------------------------
# FilterModule
# --------------------------------------------------------------------------


def test_filter_module_exposes_the_five_filters() -> None:
    filters = FilterModule().filters()
    assert set(filters) == {"tlsa_record", "spki_sha256", "hpkp_pin", "hpkp_header", "caa_records"}
    assert filters["tlsa_record"] is tlsa_record
    assert filters["caa_records"] is caa_records


# --------------------------------------------------------------------------
# tlsa_record: known answers and format
# --------------------------------------------------------------------------


def test_tlsa_default_is_3_1_1_exact_line() -> None:
    assert tlsa_record(KAT_CERT, "kat.example.org") == (
        f"_443._tcp.kat.example.org. IN TLSA 3 1 1 {KAT_SPKI_SHA256}"
    )


@pytest.mark.parametrize(
    ("selector", "mtype", "expected"),
    [
        (1, 0, KAT_SPKI_HEX),
        (1, 1, KAT_SPKI_SHA256),
        (1, 2, KAT_SPKI_SHA512),
        (0, 1, KAT_CERT_SHA256),
        (0, 2, KAT_CERT_SHA512),
    ],
)
def test_tlsa_known_answers(selector: int, mtype: int, expected: str) -> None:
    line = tlsa_record(
        KAT_CERT, "kat.example.org", selector=selector, matching_type=mtype
    )
    assert line.split()[-1] == expected
    assert line.split()[-4:-1] == ["3", str(selector), str(mtype)]


def test_tlsa_selector0_full_is_certificate_der() -> None:
    data = tlsa_record(
        KAT_CERT, "kat.example.org", selector=0, matching_type=0
    ).split()[-1]
    assert data.startswith(KAT_CERT_DER_PREFIX)
    assert hashlib.sha256(bytes.fromhex(data)).hexdigest() == KAT_CERT_SHA256


def test_tlsa_public_key_known_answer() -> None:
    assert tlsa_record(KAT_PUBKEY, "kat.example.org").endswith(KAT_SPKI_SHA256)


def test_tlsa_ttl_goes_between_owner_and_class() -> None:
    line = tlsa_record(KAT_CERT, "kat.example.org", ttl=3600)
    assert line == f"_443._tcp.kat.example.org. 3600 IN TLSA 3 1 1 {KAT_SPKI_SHA256}"
    assert parse_zone_line(line, "TLSA")[1] == 3600


def test_tlsa_ttl_zero_is_allowed() -> None:
    assert tlsa_record(KAT_CERT, "kat.example.org", ttl=0).startswith(
        "_443._tcp.kat.example.org. 0 IN"
    )


def test_tlsa_owner_is_absolute_and_lowercase() -> None:
    line = tlsa_record(KAT_CERT, "KAT.Example.ORG.", port=25, proto="TCP")
    assert line.startswith("_25._tcp.kat.example.org. IN TLSA ")


@pytest.mark.parametrize(
    ("port", "proto"), [(1, "tcp"), (853, "udp"), (5061, "sctp"), (65535, "tcp")]
)
def test_tlsa_port_and_proto(port: int, proto: str) -> None:
    line = tlsa_record(KAT_CERT, "kat.example.org", port=port, proto=proto)
    owner, _ttl, _rdata = parse_zone_line(line, "TLSA")
    assert owner == dns.name.from_text(f"_{port}._{proto}.kat.example.org.")


def test_tlsa_accepts_decimal_strings_like_ansible_extra_vars() -> None:
    assert tlsa_record(
        KAT_CERT, "kat.example.org", port="443", usage="3", ttl="60"
    ) == (tlsa_record(KAT_CERT, "kat.example.org", ttl=60))


@pytest.mark.parametrize("usage", [0, 1, 2, 3])
def test_tlsa_every_usage(usage: int) -> None:
    _owner, _ttl, rdata = parse_zone_line(
        tlsa_record(KAT_CERT, "kat.example.org", usage=usage), "TLSA"
    )
    assert rdata.usage == usage


def test_tlsa_longest_allowed_owner_parses() -> None:
    # owner "_1._tcp." is 8 characters; 245 more reach the 253 limit
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 53])
    assert len(name) == 245
    line = tlsa_record(KAT_CERT, name, port=1)
    owner, _ttl, _rdata = parse_zone_line(line, "TLSA")
    assert len(owner.to_wire()) == 255


# --------------------------------------------------------------------------
# tlsa_record: input kinds
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", pf.KEY_TYPES)
def test_cert_public_key_and_private_key_give_the_same_record(key_type: str) -> None:
    pki = pf.make_pki(key_type)
    expected = hashlib.sha256(pf.spki_der(pki.leaf_key)).hexdigest()
    inputs = [
        pki.leaf_pem,
        pki.chain_pem,
        pf.public_pem(pki.leaf_key),
        pf.private_pem(pki.leaf_key, "pkcs8"),
    ]
    if key_type != "ed25519":  # Ed25519 has no "traditional" private format
        inputs.append(pf.private_pem(pki.leaf_key, "traditional"))
    if key_type.startswith("rsa"):
        inputs.append(pf.rsa_pkcs1_public_pem(pki.leaf_key))
    lines = {tlsa_record(pem, "www.example.org") for pem in inputs}
    assert lines == {f"_443._tcp.www.example.org. IN TLSA 3 1 1 {expected}"}


def test_chain_uses_first_certificate() -> None:
    pki = pf.make_pki("p256")
    leaf_line = tlsa_record(pki.leaf_pem, "www.example.org", selector=0)
    ca_line = tlsa_record(pki.ca_pem, "www.example.org", selector=0)
    assert leaf_line != ca_line
    assert tlsa_record(pki.chain_pem, "www.example.org", selector=0) == leaf_line
    assert (
        tlsa_record(pki.ca_pem + pki.leaf_pem, "www.example.org", selector=0) == ca_line
    )


def test_certificate_wins_over_a_key_in_the_same_file() -> None:
    pki = pf.make_pki("p256")
    other_key = pf.new_key("p256")
    combined = pf.private_pem(other_key) + pki.leaf_pem
    assert tlsa_record(combined, "www.example.org") == tlsa_record(
        pki.leaf_pem, "www.example.org"
    )


def test_surrounding_text_and_crlf_are_tolerated() -> None:
    pem = "Subject: CN=kat\r\n" + KAT_CERT.replace("\n", "\r\n") + "trailing junk"
    assert tlsa_record(pem, "kat.example.org").endswith(KAT_SPKI_SHA256)


def test_bytes_input_is_accepted() -> None:
    assert tlsa_record(KAT_CERT.encode(), "kat.example.org").endswith(KAT_SPKI_SHA256)


def test_ec_private_key_with_ec_parameters_block() -> None:
    key = pf.new_key("p384")
    pem = "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n"
    pem += pf.private_pem(key, "traditional")
    assert tlsa_record(pem, "a.example").endswith(
        hashlib.sha256(pf.spki_der(key)).hexdigest()
    )


def test_compressed_point_certificate_hashes_the_spki_as_written() -> None:
    cert = pf.make_compressed_point_cert()
    line = tlsa_record(cert.pem, "www.example.org")
    assert line.endswith(hashlib.sha256(cert.spki_der).hexdigest())
    # A re-encoded (uncompressed) key would give a different digest; the
    # certificate's bytes are what a DANE client hashes.
    assert not line.endswith(hashlib.sha256(pf.spki_der(cert.key)).hexdigest())
    assert (
        base64.b64decode(hpkp_pin(cert.pem)) == hashlib.sha256(cert.spki_der).digest()
    )


# --------------------------------------------------------------------------
# tlsa_record: properties
# --------------------------------------------------------------------------


@PROPERTY
@given(
    key_slot=key_slots,
    name=host_names,
    port=st.integers(1, 65535),
    proto=st.sampled_from(["tcp", "udp", "sctp"]),
    usage=st.integers(0, 3),
    selector=st.integers(0, 1),
    mtype=st.integers(0, 2),
    ttl=st.none() | st.integers(0, 2**31 - 1),
)
def test_tlsa_property_parses_and_matches(
    key_slot: tuple[str, int],
    name: str,
    port: int,
    proto: str,
    usage: int,
    selector: int,
    mtype: int,
    ttl: int | None,
) -> None:
    key = pf.new_key(*key_slot)
    cert = pf.make_cert(key, "svc.example.net")
    line = tlsa_record(
        pf.cert_pem(cert), name, port, proto, usage, selector, mtype, ttl
    )
    owner, parsed_ttl, rdata = parse_zone_line(line, "TLSA")
    assert owner == dns.name.from_text(f"_{port}._{proto}.{name}.")
    assert line.split(None, 1)[0] == f"_{port}._{proto}.{name.lower()}."
    assert parsed_ttl == ttl
    assert (rdata.usage, rdata.selector, rdata.mtype) == (usage, selector, mtype)
    expected = expected_tlsa_data(
        cert.public_bytes(pf.DER), pf.spki_der(key), selector, mtype
    )
    assert rdata.cert.hex() == expected
    assert line.split()[-1] == expected  # lowercase hex in the text form


@PROPERTY
@given(key_slot=key_slots, mtype=st.integers(0, 2))
def test_tlsa_property_cert_pub_priv_agree(
    key_slot: tuple[str, int], mtype: int
) -> None:
    key = pf.new_key(*key_slot)
    cert_pem = pf.cert_pem(pf.make_cert(key))
    records = {
        tlsa_record(pem, "www.example.org", matching_type=mtype)
        for pem in (cert_pem, pf.public_pem(key), pf.private_pem(key))
    }
    assert len(records) == 1


@PROPERTY
@given(key_slot=key_slots)
def test_tlsa_311_equals_hpkp_pin_in_hex(key_slot: tuple[str, int]) -> None:
    key = pf.new_key(*key_slot)
    for pem in (pf.cert_pem(pf.make_cert(key)), pf.private_pem(key)):
        tlsa_hex = tlsa_record(pem, "www.example.org").split()[-1]
        assert tlsa_hex == base64.b64decode(hpkp_pin(pem)).hex()


def test_tlsa_311_equals_hpkp_pin_known_answer() -> None:
    assert base64.b64decode(KAT_PIN).hex() == KAT_SPKI_SHA256


@PROPERTY
@given(key_slot=key_slots)
def test_spki_sha256_is_the_tlsa_311_data(key_slot: tuple[str, int]) -> None:
    key = pf.new_key(*key_slot)
    expected = hashlib.sha256(pf.spki_der(key)).hexdigest()
    for pem in (pf.cert_pem(pf.make_cert(key)), pf.public_pem(key), pf.private_pem(key)):
        assert spki_sha256(pem) == expected
        assert tlsa_record(pem, "www.example.org").split()[-1] == expected


def test_spki_sha256_known_answer() -> None:
    assert spki_sha256(KAT_CERT) == spki_sha256(KAT_PUBKEY) == KAT_SPKI_SHA256


def test_spki_sha256_refuses_what_is_not_a_key_without_quoting_it() -> None:
    key = pf.new_key("p256")
    csr = pf.csr_pem(pf.make_csr(key))
    with pytest.raises(AnsibleFilterError, match="spki_sha256: pem must hold a certificate, public key or private "
                                                 "key, got PEM block"):
        spki_sha256(csr)
    secret = pf.private_pem(key).replace("A", "B", 3)
    with pytest.raises(AnsibleFilterError) as caught:
        spki_sha256(secret)
    assert "MII" not in str(caught.value)


# --------------------------------------------------------------------------
# tlsa_record: errors
# --------------------------------------------------------------------------

TLSA_ARG_ERRORS = [
    ({"usage": 7}, "tlsa_record: usage must be 0, 1, 2 or 3, got 7"),
    ({"usage": -1}, "usage must be 0, 1, 2 or 3, got -1"),
    ({"usage": True}, "usage must be 0, 1, 2 or 3, got True"),
    ({"usage": 3.0}, "usage must be 0, 1, 2 or 3, got a float"),
    ({"usage": "DANE-EE"}, "usage must be 0, 1, 2 or 3, got 'DANE-EE'"),
    ({"selector": 2}, "tlsa_record: selector must be 0 or 1, got 2"),
    ({"selector": None}, "selector must be 0 or 1, got None"),
    ({"matching_type": 3}, "tlsa_record: matching_type must be 0, 1 or 2, got 3"),
    ({"matching_type": 255}, "matching_type must be 0, 1 or 2, got 255"),
    ({"port": 0}, "tlsa_record: port must be an integer from 1 to 65535, got 0"),
    ({"port": 65536}, "port must be an integer from 1 to 65535, got 65536"),
    ({"port": "https"}, "port must be an integer from 1 to 65535, got 'https'"),
    ({"port": -443}, "port must be an integer from 1 to 65535, got -443"),
    ({"proto": "icmp"}, "tlsa_record: proto must be tcp, udp or sctp, got 'icmp'"),
    ({"proto": "_tcp"}, "proto must be tcp, udp or sctp, got '_tcp'"),
    ({"proto": 6}, "proto must be tcp, udp or sctp, got 6"),
    (
        {"ttl": -1},
        "tlsa_record: ttl must be a non-negative integer (at most 2147483647), got -1",
    ),
    (
        {"ttl": 2**31},
        "ttl must be a non-negative integer (at most 2147483647), got 2147483648",
    ),
    (
        {"ttl": "1h"},
        "ttl must be a non-negative integer (at most 2147483647), got '1h'",
    ),
    (
        {"ttl": 1.5},
        "ttl must be a non-negative integer (at most 2147483647), got a float",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), TLSA_ARG_ERRORS)
def test_tlsa_argument_errors(kwargs: dict[str, Any], message: str) -> None:
    assert message in error_of(tlsa_record, KAT_CERT, "kat.example.org", **kwargs)


BAD_NAMES = [
    ("", "it is empty"),
    (".", "it is empty"),
    ("www.example.org..", "ends with an empty label"),
    ("*.example.org", "wildcards are not allowed"),
    ("www.*.example.org", "wildcards are not allowed"),
    ("www..example.org", "empty label"),
    ("-www.example.org", "label '-www'"),
    ("www-.example.org", "label 'www-'"),
    ("under_score.example.org", "label 'under_score'"),
    ("sp ace.example.org", "label 'sp ace'"),
    ("ünïcode.example.org", "label 'ünïcode'"),
    ("a" * 64 + ".example.org", "longer than 63"),
    (".".join(["a" * 63] * 4), "longer than 253"),
]


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES)
def test_tlsa_rejects_bad_names(name: str, reason: str) -> None:
    message = error_of(tlsa_record, KAT_CERT, name)
    assert message.startswith("tlsa_record: name must be a valid DNS name")
    assert reason in message
    assert f"got {name!r}"[:60] in message


def test_tlsa_rejects_non_string_name() -> None:
    assert "tlsa_record: name must be a DNS name, got 42" in error_of(
        tlsa_record, KAT_CERT, 42
    )


def test_tlsa_rejects_owner_longer_than_253() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 60])  # valid alone (252)
    message = error_of(tlsa_record, KAT_CERT, name, port=65535, proto="sctp")
    assert "tlsa_record: name is too long" in message


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (
            "not a certificate",
            "pem must be PEM text (a certificate, public key or private key), got a 17-character",
        ),
        ("", "got a 0-character string with no PEM block"),
        (None, "pem must be a PEM string, got None"),
        (123, "pem must be a PEM string, got 123"),
        (["x"], "pem must be a PEM string, got a list"),
        (
            "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
            "pem must hold a certificate, public key or private key, got PEM block(s): X509 CRL",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "pem: the CERTIFICATE block is not valid",
        ),
        (
            KAT_CERT.replace("MIIBSjCB", "MIIBSjCC"),
            "pem: the CERTIFICATE block is not valid",
        ),
    ],
)
def test_tlsa_bad_pem(pem: Any, message: str) -> None:
    full = error_of(tlsa_record, pem, "kat.example.org")
    assert full.startswith("tlsa_record: ")
    assert message in full


def test_tlsa_rejects_csr() -> None:
    csr = pf.csr_pem(pf.make_csr(pf.new_key("p256")))
    assert "got PEM block(s): CERTIFICATE REQUEST" in error_of(
        tlsa_record, csr, "www.example.org"
    )


@pytest.mark.parametrize("kind", ["private", "public"])
def test_tlsa_selector0_needs_a_certificate(kind: str) -> None:
    key = pf.new_key("p256")
    pem = pf.private_pem(key) if kind == "private" else pf.public_pem(key)
    message = error_of(tlsa_record, pem, "www.example.org", selector=0)
    assert message == (
        f"tlsa_record: selector 0 (full certificate) needs a certificate, got a {kind} key"
    )
    assert_no_secret(message, pem)


@pytest.mark.parametrize("key_type", ["p256", "rsa2048", "ed25519"])
def test_no_private_key_material_in_errors(key_type: str) -> None:
    key = pf.new_key(key_type)
    good = pf.private_pem(key)
    body = good.splitlines()
    # Corrupt the key's DER (keep valid base64) so that parsing fails.
    middle = len(body) // 2
    body[middle] = (
        body[middle][:8] + ("A" if body[middle][8] != "A" else "B") + body[middle][9:]
    )
    body[1] = "MIIB" + body[1][4:] if key_type != "ed25519" else "MC8C" + body[1][4:]
    corrupted = "\n".join(body) + "\n"
    encrypted = pf.private_pem(key, password=b"correct horse")
    cases = [
        (tlsa_record, (corrupted, "www.example.org"), {}),
        (tlsa_record, (encrypted, "www.example.org"), {}),
        (tlsa_record, (good, "www.example.org"), {"selector": 0}),
        (tlsa_record, (good, "bad name!"), {}),
        (hpkp_pin, (corrupted,), {}),
        (hpkp_pin, (encrypted,), {}),
        (
            hpkp_pin,
            (good.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIV KEY-----"),),
            {},
        ),
    ]
    for func, args, kwargs in cases:
        message = error_of(func, *args, **kwargs)
        assert_no_secret(message, good)
        assert_no_secret(message, encrypted)
        assert_no_secret(message, corrupted)


def test_encrypted_private_key_error_message() -> None:
    pem = pf.private_pem(pf.new_key("p256"), password=b"pw")
    message = error_of(tlsa_record, pem, "www.example.org")
    assert "encrypted private keys are not supported" in message
    legacy = pf.private_pem(pf.new_key("p256"), "traditional", password=b"pw")
    assert "private key is encrypted" in error_of(hpkp_pin, legacy)


# --------------------------------------------------------------------------
# hpkp_pin
# --------------------------------------------------------------------------


def test_hpkp_pin_known_answer() -> None:
    assert hpkp_pin(KAT_CERT) == KAT_PIN
    assert hpkp_pin(KAT_PUBKEY) == KAT_PIN


@pytest.mark.parametrize("key_type", pf.KEY_TYPES)
def test_hpkp_pin_same_for_cert_key_csr(key_type: str) -> None:
    pki = pf.make_pki(key_type)
    expected = base64.b64encode(
        hashlib.sha256(pf.spki_der(pki.leaf_key)).digest()
    ).decode()
    csr = pf.csr_pem(pf.make_csr(pki.leaf_key))
    for pem in (
        pki.leaf_pem,
        pki.chain_pem,
        pf.public_pem(pki.leaf_key),
        pf.private_pem(pki.leaf_key),
        csr,
    ):
        pin = hpkp_pin(pem)
        assert pin == expected
        assert len(pin) == 44
    assert hpkp_pin(pki.ca_pem) != expected


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (
            "nope",
            "hpkp_pin: pem must be PEM text (a certificate, public key, private key or CSR)",
        ),
        (None, "hpkp_pin: pem must be a PEM string, got None"),
    ],
)
def test_hpkp_pin_errors(pem: Any, message: str) -> None:
    assert message in error_of(hpkp_pin, pem)


# --------------------------------------------------------------------------
# hpkp_header
# --------------------------------------------------------------------------


def test_hpkp_header_defaults() -> None:
    assert (
        hpkp_header([PIN_A, PIN_B])
        == f'pin-sha256="{PIN_A}"; pin-sha256="{PIN_B}"; max-age=5184000'
    )


def test_hpkp_header_all_directives() -> None:
    value = hpkp_header(
        [PIN_A, PIN_B, PIN_C],
        max_age=2592000,
        include_subdomains=True,
        report_uri="https://report.example.org/hpkp",
    )
    assert value == (
        f'pin-sha256="{PIN_A}"; pin-sha256="{PIN_B}"; pin-sha256="{PIN_C}"; '
        'max-age=2592000; includeSubDomains; report-uri="https://report.example.org/hpkp"'
    )


def test_hpkp_header_report_only_same_value_but_needs_report_uri() -> None:
    uri = "https://report.example.org/hpkp"
    assert hpkp_header([PIN_A, PIN_B], report_uri=uri, report_only=True) == hpkp_header(
        [PIN_A, PIN_B], report_uri=uri
    )
    message = error_of(hpkp_header, [PIN_A, PIN_B], report_only=True)
    assert message.startswith("hpkp_header: report_only needs report_uri")


def test_hpkp_header_duplicates_collapse_in_order() -> None:
    assert hpkp_header([PIN_B, PIN_A, PIN_B], max_age=0) == (
        f'pin-sha256="{PIN_B}"; pin-sha256="{PIN_A}"; max-age=0'
    )


def test_hpkp_header_ansible_style_booleans() -> None:
    assert hpkp_header((PIN_A, PIN_B), include_subdomains="yes").endswith(
        "; includeSubDomains"
    )
    assert "includeSubDomains" not in hpkp_header(
        [PIN_A, PIN_B], include_subdomains="no"
    )


def test_hpkp_header_with_real_pins() -> None:
    key1, key2 = pf.new_key("p256"), pf.new_key("ed25519")
    pins = [
        hpkp_pin(pf.cert_pem(pf.make_cert(key1))),
        hpkp_pin(pf.csr_pem(pf.make_csr(key2))),
    ]
    assert hpkp_header(pins).count("pin-sha256=") == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"pins": [PIN_A]},
            "hpkp_header: pins must hold at least two distinct pins (RFC 7469 requires a backup pin), got 1",
        ),
        (
            {"pins": [PIN_A, PIN_A]},
            "at least two distinct pins (RFC 7469 requires a backup pin), got 1",
        ),
        (
            {"pins": []},
            "at least two distinct pins (RFC 7469 requires a backup pin), got 0",
        ),
        (
            {"pins": PIN_A},
            # A lone 44-character base64 string could as well be a secret key: described, not quoted.
            "hpkp_header: pins must be a list of base64 SHA-256 pins, got a 44-character string "
            "that looks like key material (not shown)",
        ),
        ({"pins": None}, "pins must be a list of base64 SHA-256 pins, got None"),
        (
            {"pins": [PIN_A, "abc"]},
            "hpkp_header: pins[1] must be a base64 SHA-256 pin (44 characters decoding to 32 bytes), got 'abc'",
        ),
        (
            {"pins": [PIN_A, "A" * 44]},
            "pins[1] must be a base64 SHA-256 pin",
        ),  # 33 bytes
        ({"pins": ["!" * 43 + "=", PIN_A]}, "pins[0] must be a base64 SHA-256 pin"),
        (
            {"pins": [PIN_A, PIN_B.replace("A", "-", 1).replace("B", "_", 1) + "x"]},
            "pins[1]",
        ),
        ({"pins": [PIN_A, base64.urlsafe_b64encode(b"\xfb" * 32).decode()]}, "pins[1]"),
        (
            {"pins": [PIN_A, 12]},
            "pins[1] must be a base64 SHA-256 pin (44 characters decoding to 32 bytes), got 12",
        ),
        (
            {"pins": [PIN_A, PIN_B], "max_age": -1},
            "hpkp_header: max_age must be a non-negative integer (at most 2147483647), got -1",
        ),
        (
            {"pins": [PIN_A, PIN_B], "max_age": "60d"},
            "max_age must be a non-negative integer (at most 2147483647), got '60d'",
        ),
        (
            {"pins": [PIN_A, PIN_B], "include_subdomains": "maybe"},
            "hpkp_header: include_subdomains must be a boolean, got 'maybe'",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_only": "sometimes"},
            "report_only must be a boolean, got 'sometimes'",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_uri": "http://r.example.org/"},
            "hpkp_header: report_uri must be an https:// URL with a host name, got 'http://r.example.org/'",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_uri": "https:///path"},
            "report_uri must be an https:// URL with a host name",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_uri": 'https://r.example.org/"x'},
            "report_uri must not contain a double quote",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_uri": "https://r.example.org/a b"},
            "report_uri must be non-empty printable ASCII without spaces",
        ),
        (
            {"pins": [PIN_A, PIN_B], "report_uri": 5},
            "report_uri must be an https:// URL, got 5",
        ),
    ],
)
def test_hpkp_header_errors(kwargs: dict[str, Any], message: str) -> None:
    assert message in error_of(hpkp_header, **kwargs)


digests = st.binary(min_size=32, max_size=32)


@PROPERTY
@given(
    raw=st.lists(digests, min_size=2, max_size=6),
    max_age=st.integers(0, 10**9),
    sub=st.booleans(),
)
def test_hpkp_header_property(raw: list[bytes], max_age: int, sub: bool) -> None:
    pins = [base64.b64encode(item).decode() for item in raw]
    distinct = list(dict.fromkeys(pins))
    if len(distinct) < 2:
        assert "at least two distinct pins" in error_of(hpkp_header, pins)
        return
    value = hpkp_header(pins, max_age=max_age, include_subdomains=sub)
    directives = value.split("; ")
    found = [
        re.fullmatch(r'pin-sha256="([A-Za-z0-9+/=]{44})"', d)
        for d in directives[: len(distinct)]
    ]
    assert [m.group(1) for m in found if m] == distinct
    assert directives[len(distinct)] == f"max-age={max_age}"
    assert ("includeSubDomains" in directives) is sub
    assert all(len(base64.b64decode(p)) == 32 for p in distinct)


# --------------------------------------------------------------------------
# caa_records
# --------------------------------------------------------------------------

LE_ACCOUNT = "https://acme-v02.api.letsencrypt.org/acme/acct/1"


def test_caa_issue_example_from_the_issue() -> None:
    lines = caa_records(
        "example.org",
        issue=["letsencrypt.org"],
        accounturi=LE_ACCOUNT,
        validationmethods=["dns-01", "http-01"],
    )
    assert lines == [
        'example.org. IN CAA 0 issue "letsencrypt.org; '
        f'accounturi={LE_ACCOUNT}; validationmethods=dns-01,http-01"'
    ]
    _owner, _ttl, rdata = parse_zone_line(lines[0], "CAA")
    assert rdata.tag == b"issue"
    assert rdata.value == (
        f"letsencrypt.org; accounturi={LE_ACCOUNT}; validationmethods=dns-01,http-01".encode()
    )


def test_caa_empty_issue_forbids_issuance() -> None:
    assert caa_records("example.org", issue=[]) == ['example.org. IN CAA 0 issue ";"']


def test_caa_full_set_in_order() -> None:
    lines = caa_records(
        "Example.ORG.",
        issue=["letsencrypt.org", "sectigo.com", "letsencrypt.org"],
        issuewild=[],
        iodef=["mailto:security@example.org", "https://caa.example.org/report"],
        critical=True,
        ttl=300,
    )
    assert lines == [
        'example.org. 300 IN CAA 128 issue "letsencrypt.org"',
        'example.org. 300 IN CAA 128 issue "sectigo.com"',
        'example.org. 300 IN CAA 128 issuewild ";"',
        'example.org. 300 IN CAA 128 iodef "mailto:security@example.org"',
        'example.org. 300 IN CAA 128 iodef "https://caa.example.org/report"',
    ]
    for line in lines:
        _owner, ttl, rdata = parse_zone_line(line, "CAA")
        assert ttl == 300 and rdata.flags == 128


def test_caa_parameters_on_issue_and_issuewild_but_not_on_deny() -> None:
    lines = caa_records(
        "example.org",
        issue=["letsencrypt.org"],
        issuewild=["letsencrypt.org"],
        accounturi=LE_ACCOUNT,
        validationmethods="dns-01, dns-01",
    )
    assert lines == [
        f'example.org. IN CAA 0 issue "letsencrypt.org; accounturi={LE_ACCOUNT}; validationmethods=dns-01"',
        f'example.org. IN CAA 0 issuewild "letsencrypt.org; accounturi={LE_ACCOUNT}; validationmethods=dns-01"',
    ]
    deny = caa_records(
        "example.org",
        issue=["letsencrypt.org"],
        issuewild=[],
        validationmethods=["dns-01"],
    )
    assert deny[1] == 'example.org. IN CAA 0 issuewild ";"'


def test_caa_single_string_issuer_is_one_issuer() -> None:
    assert caa_records("example.org", issue="letsencrypt.org") == [
        'example.org. IN CAA 0 issue "letsencrypt.org"'
    ]


def test_caa_issuewild_only() -> None:
    assert caa_records("example.org", issuewild=["pki.goog"]) == [
        'example.org. IN CAA 0 issuewild "pki.goog"'
    ]


def test_caa_zone_parses_all_lines_together() -> None:
    lines = caa_records(
        "example.org",
        issue=["letsencrypt.org", "pki.goog"],
        issuewild=[],
        iodef=["mailto:a@example.org"],
    )
    zone = dns.zone.from_text(
        "$TTL 60\n" + "\n".join(lines) + "\n",
        origin="example.org.",
        relativize=False,
        check_origin=False,
    )
    rdataset = zone.find_rdataset("example.org.", "CAA")
    assert {(r.tag, r.value) for r in rdataset} == {
        (b"issue", b"letsencrypt.org"),
        (b"issue", b"pki.goog"),
        (b"issuewild", b";"),
        (b"iodef", b"mailto:a@example.org"),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"domain": "*.example.org", "issue": []},
            "caa_records: domain must be a valid DNS name (wildcards are not allowed), got '*.example.org'",
        ),
        (
            {"domain": "exa_mple.org", "issue": []},
            "domain must be a valid DNS name (label 'exa_mple'",
        ),
        ({"domain": "", "issue": []}, "domain must be a valid DNS name (it is empty)"),
        (
            {"domain": None, "issue": []},
            "caa_records: domain must be a DNS name, got None",
        ),
        (
            {"domain": "example.org"},
            "caa_records: issue or issuewild must be given (an empty list forbids issuance), got neither",
        ),
        (
            {"domain": "example.org", "issue": ["letsencrypt.org."]},
            "issue[0] must be a valid DNS name (issuer domain names are written without a trailing dot), got 'letsencrypt.org.'",
        ),
        (
            {"domain": "example.org", "issue": ["ok.org", 'lets"encrypt.org']},
            "caa_records: issue[1] must not contain a double quote, got 'lets\"encrypt.org'",
        ),
        (
            {"domain": "example.org", "issue": ["letsencrypt.org; accounturi=x"]},
            "issue[0] must be a valid DNS name",
        ),
        (
            {"domain": "example.org", "issuewild": ["-bad.org"]},
            "issuewild[0] must be a valid DNS name",
        ),
        (
            {"domain": "example.org", "issuewild": ["*.letsencrypt.org"]},
            "issuewild[0] must be a valid DNS name (wildcards are not allowed)",
        ),
        (
            {"domain": "example.org", "issue": [""]},
            "issue[0] must be a valid DNS name (it is empty)",
        ),
        (
            {"domain": "example.org", "issue": 5},
            "caa_records: issue must be a list of strings, got 5",
        ),
        (
            {"domain": "example.org", "issue": [5]},
            "caa_records: issue[0] must be a string, got 5",
        ),
        (
            {
                "domain": "example.org",
                "issue": [],
                "iodef": ["http://caa.example.org/"],
            },
            "caa_records: iodef[0] must be a mailto: or https: URL, got 'http://caa.example.org/'",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["ftp://x.example.org/"]},
            "iodef[0] must be a mailto: or https: URL, got 'ftp://x.example.org/'",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["security@example.org"]},
            "iodef[0] must be a mailto: or https: URL",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["mailto:nobody"]},
            "iodef[0] must be a mailto: or https: URL, got 'mailto:nobody'",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["https://"]},
            "iodef[0] must be a mailto: or https: URL",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ['mailto:"a"@example.org']},
            "caa_records: iodef[0] must not contain a double quote",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["mailto:a\\@example.org"]},
            "iodef[0] must not contain a backslash",
        ),
        (
            {"domain": "example.org", "issue": [], "iodef": ["mailto:a b@example.org"]},
            "iodef[0] must be non-empty printable ASCII without spaces",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "accounturi": "http://acme.example/acct/1",
            },
            "caa_records: accounturi must be an https:// URL with a host name, got 'http://acme.example/acct/1'",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "accounturi": "https://acme.example/a;b",
            },
            "caa_records: accounturi must not contain ';'",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "accounturi": 'https://acme.example/"',
            },
            "accounturi must not contain a double quote",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org", "pki.goog"],
                "accounturi": LE_ACCOUNT,
            },
            "accounturi belongs to one CA, so issue/issuewild must name exactly one issuer when it is set, got 2: le.org, pki.goog",
        ),
        (
            {"domain": "example.org", "issue": [], "accounturi": LE_ACCOUNT},
            "got 0: none",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "validationmethods": ["dns_01"],
            },
            "caa_records: validationmethods[0] must be a method label such as dns-01 (letters, digits, inner hyphens), got 'dns_01'",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "validationmethods": ["http-01", "-x"],
            },
            "validationmethods[1] must be a method label",
        ),
        (
            {
                "domain": "example.org",
                "issue": ["le.org"],
                "validationmethods": ['dns-01"'],
            },
            "validationmethods[0] must be a method label",
        ),
        (
            {"domain": "example.org", "issue": [], "critical": "maybe"},
            "caa_records: critical must be a boolean, got 'maybe'",
        ),
        (
            {"domain": "example.org", "issue": [], "ttl": -5},
            "caa_records: ttl must be a non-negative integer (at most 2147483647), got -5",
        ),
    ],
)
def test_caa_errors(kwargs: dict[str, Any], message: str) -> None:
    assert message in error_of(caa_records, **kwargs)


issuer_lists = st.lists(domains, max_size=3)
iodefs = st.lists(
    st.one_of(
        st.builds(
            lambda local, dom: f"mailto:{local}@{dom}",
            st.from_regex(r"[a-z0-9.+_-]{1,12}", fullmatch=True),
            domains,
        ),
        st.builds(
            lambda dom, path: f"https://{dom}/{path}",
            domains,
            st.from_regex(r"[a-zA-Z0-9/._~%-]{0,20}", fullmatch=True),
        ),
    ),
    max_size=2,
)
methods = st.lists(
    st.sampled_from(["dns-01", "http-01", "tls-alpn-01", "ca-custom"]), max_size=3
)


@PROPERTY
@given(
    domain=domains,
    issue=st.none() | issuer_lists,
    issuewild=st.none() | issuer_lists,
    iodef=iodefs,
    critical=st.booleans(),
    vmethods=methods,
    ttl=st.none() | st.integers(0, 86400),
)
def test_caa_property_every_line_parses(
    domain: str,
    issue: list[str] | None,
    issuewild: list[str] | None,
    iodef: list[str],
    critical: bool,
    vmethods: list[str],
    ttl: int | None,
) -> None:
    if issue is None and issuewild is None:
        assert "got neither" in error_of(caa_records, domain, issue, issuewild, iodef)
        return
    lines = caa_records(
        domain, issue, issuewild, iodef, critical, validationmethods=vmethods, ttl=ttl
    )
    parsed = [parse_zone_line(line, "CAA") for line in lines]
    for owner, parsed_ttl, rdata in parsed:
        assert owner == dns.name.from_text(domain + ".")
        assert parsed_ttl == ttl
        assert rdata.flags == (128 if critical else 0)
    values = [(r.tag.decode(), r.value.decode()) for _o, _t, r in parsed]
    suffix = "".join(
        f"; validationmethods={','.join(dict.fromkeys(vmethods))}"
        for _ in [1]
        if vmethods
    )
    expected: list[tuple[str, str]] = []
    for tag, issuers in (("issue", issue), ("issuewild", issuewild)):
        if issuers is None:
            continue
        if not issuers:
            expected.append((tag, ";"))
        expected.extend((tag, name + suffix) for name in dict.fromkeys(issuers))
    expected.extend(("iodef", target) for target in dict.fromkeys(iodef))
    assert values == expected


@PROPERTY
@given(domain=host_names)
def test_caa_domain_property_lowercase_absolute(domain: str) -> None:
    (line,) = caa_records(domain, issue=[])
    assert line == f'{domain.lower()}. IN CAA 0 issue ";"'


@PROPERTY
@given(
    good=host_names,
    bad=st.text(alphabet="_!@# /\\\"'é", min_size=1, max_size=3),
    where=st.integers(0, 3),
)
def test_name_validation_property_rejects_bad_characters(
    good: str, bad: str, where: int
) -> None:
    labels_ = good.split(".")
    index = where % len(labels_)
    labels_[index] = labels_[index] + bad
    broken = ".".join(labels_)
    with pytest.raises(AnsibleFilterError):
        tlsa_record(KAT_CERT, broken)
    with pytest.raises(AnsibleFilterError):
        caa_records(broken, issue=[])


def test_private_helpers_are_private() -> None:
    public = {name for name in vars(pinning) if not name.startswith("_")}
    own = {
        name
        for name in public
        if getattr(getattr(pinning, name), "__module__", None) == "pinning"
    }
    assert own == {
        "FilterModule",
        "tlsa_record",
        "spki_sha256",
        "hpkp_pin",
        "hpkp_header",
        "caa_records",
    }


@pytest.mark.parametrize(
    "name", ["tlsa_record", "spki_sha256", "hpkp_pin", "hpkp_header", "caa_records"]
)
def test_doc_sidecar_matches_signature(name: str) -> None:
    """The ansible-doc YAML next to the plugin documents every argument."""
    import inspect
    from pathlib import Path

    import yaml

    doc_path = Path(pinning.__file__).with_name(f"{name}.yml")
    doc = yaml.safe_load(doc_path.read_text())
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == name
    params = list(inspect.signature(FilterModule().filters()[name]).parameters)
    documented = set(doc["DOCUMENTATION"]["options"])
    assert documented == {"_input", *params[1:]}
    for option, spec in doc["DOCUMENTATION"]["options"].items():
        if "default" in spec and option != "_input":
            default = (
                inspect.signature(FilterModule().filters()[name])
                .parameters[option]
                .default
            )
            assert spec["default"] == (default if default is not None else [])
    assert name in doc["EXAMPLES"]


def test_without_cryptography_the_filters_load_and_say_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-doc and ansible-test's import check load the plugin on controllers without cryptography.
    monkeypatch.setattr(pinning, "x509", None)
    with pytest.raises(AnsibleFilterError, match="tlsa_record: needs the Python package cryptography"):
        tlsa_record(pf.make_pki("p256").leaf_pem, "www.example.org")
    assert caa_records("example.org", issue=[]) == ['example.org. IN CAA 0 issue ";"']
