"""One regression test per defect class of issue 16 (filters: the exact bytes or a clear refusal).

Each test failed on the filters as they were before the fix (checked by running this file against that
code); the property tests in test_filter_properties.py cover each class in breadth. Only the public
filter functions are imported, so this file runs unchanged against any version of the filters.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pki_factory as pf
import pytest
from ansible.errors import AnsibleFilterError
from cryptography.hazmat.primitives.asymmetric import ed25519

from dns_records import zone_fragments
from pinning import caa_records, hpkp_header, hpkp_pin, tlsa_record
from tls_common import tls_pem_bundle, tls_site_model

PIN_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
PIN_B = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
GUIDELINES = {"version": 6.0, "configurations": {"intermediate": {
    "tls_curves": ["X25519"], "tls_versions": ["TLSv1.2", "TLSv1.3"], "ciphers": {"openssl": ["ECDHE-ECDSA-AES128-GCM-SHA256"]},
    "ciphersuites": ["TLS_AES_128_GCM_SHA256"], "server_preferred_order": False, "hsts_min_age": 63072000,
    "certificate_types": ["ecdsa"]}}}
GENERATOR = {"session_timeout": 86400, "session_tickets_off_before_nginx": "1.23.2"}


def message_of(func: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AnsibleFilterError) as info:
        func(*args, **kwargs)
    return str(info.value)


def site(**changes: Any) -> dict[str, Any]:
    entry = {"cert": "/etc/ssl/a.crt", "key": "/etc/ssl/a.key", "chain": "/etc/ssl/a.chain.crt"}
    return {"name": "www.example.org", "certificates": [entry], "root": "/var/www/html", **changes}


def site_problems(sites: Any, **kwargs: Any) -> list[str]:
    return tls_site_model(sites, guidelines=GUIDELINES, generator=GENERATOR, **kwargs)["problems"]


# 1. Wrong digest, no error: a PUBLIC KEY block was hashed as this code decoded its text.
@pytest.mark.parametrize("layout", ["no newline before END", "RFC 1421 header"])
def test_public_key_digest_is_over_cryptographys_der(layout: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    lines = pf.public_pem(key).strip().split("\n")
    if layout == "no newline before END":
        pem = lines[0] + "\n" + "".join(lines[1:-1]) + lines[-1]
    else:
        pem = lines[0] + "\nComment: next key\n\n" + "\n".join(lines[1:-1]) + "\n" + lines[-1] + "\n"
    digest = hashlib.sha256(pf.spki_der(key)).hexdigest()
    assert tlsa_record(pem, "www.example.org") == f"_443._tcp.www.example.org. IN TLSA 3 1 1 {digest}"


# 2. Secrets in error messages: a private key given as another argument was quoted.
def test_private_key_in_the_wrong_argument_is_never_quoted() -> None:
    secret = pf.private_pem(pf.new_key("p256"), "traditional")
    body = "".join(secret.strip().splitlines()[1:-1])
    messages = [
        message_of(tlsa_record, pf.cert_pem(pf.make_cert(pf.new_key("p256"))), secret),
        message_of(caa_records, secret, issue=[]),
        message_of(caa_records, "example.org", issue=[secret]),
        message_of(hpkp_header, [PIN_A, secret]),
    ]
    for message in messages:
        assert "PRIVATE KEY" not in message
        assert not any(body[i : i + 12] in message for i in range(len(body) - 12)), message


# 3. '$' accepted a trailing newline: 'x\n' passed checks meant for 'x'.
@pytest.mark.parametrize("changes", [{"root": "/var/www/html\n"},
                                     {"root": None, "upstream": "http://127.0.0.1:8080\n"}])
def test_trailing_newline_is_not_the_end_of_a_value(changes: dict[str, Any]) -> None:
    assert site_problems([site(**changes)])


def test_trailing_newline_in_acme_root_and_cipher_names() -> None:
    assert site_problems([site()], acme_root="/var/www/acme\n")
    assert site_problems([site()], overrides={"ciphers": ["ECDHE-ECDSA-AES128-GCM-SHA256\n"]})


# 4. Uncaught exceptions instead of AnsibleFilterError naming the argument.
@pytest.mark.parametrize(("call", "argument"), [
    (lambda: caa_records("example.org", issue=[], iodef=["https://[::1/report"]), "iodef[0]"),
    (lambda: caa_records("example.org", issue=["le.org"], accounturi="https://acme]/acct/1"), "accounturi"),
    (lambda: hpkp_header([PIN_A, PIN_B], report_uri="https://[r.example.org/"), "report_uri"),
    (lambda: hpkp_header([PIN_A, PIN_B], max_age=10**5000), "max_age"),
    (lambda: tlsa_record(pf.cert_pem(pf.make_cert(pf.new_key("p256"))), "a.example", port="4" * 5000), "port"),
    (lambda: tls_site_model(["www.example.org"], guidelines=GUIDELINES, generator=GENERATOR), "tls_sites[0]"),
    (lambda: tls_site_model([site(aliases="example.org")], guidelines=GUIDELINES, generator=GENERATOR), "aliases"),
    (lambda: tls_pem_bundle([None]), "texts[0]"),
])
def test_bad_input_is_an_ansible_error_naming_the_argument(call: Any, argument: str) -> None:
    with pytest.raises(AnsibleFilterError, match=argument.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_one_pem_string_given_to_tls_pem_bundle_is_one_text() -> None:
    cert = pf.cert_pem(pf.make_cert(pf.new_key("p256")))
    assert tls_pem_bundle(cert) == cert


# 5. Quadratic PEM scan: BEGIN lines without END took minutes of controller CPU.
def test_a_mebibyte_of_unclosed_begin_lines_is_refused_fast() -> None:
    hostile = "-----BEGIN CERTIFICATE-----\n" * ((1 << 20) // 28)
    for func in (lambda: tlsa_record(hostile, "www.example.org"), lambda: hpkp_pin(hostile),
                 lambda: tls_pem_bundle([hostile])):
        started = time.perf_counter()
        with pytest.raises(AnsibleFilterError):
            func()
        assert time.perf_counter() - started < 0.5


# 6. Falsy wrong types read as empty: iodef=0 silently meant "no iodef".
@pytest.mark.parametrize(("argument", "value"), [("iodef", 0), ("iodef", False), ("iodef", {}),
                                                  ("validationmethods", 0), ("validationmethods", "")])
def test_falsy_wrong_types_are_refused_by_name(argument: str, value: Any) -> None:
    message = message_of(caa_records, "example.org", issue=["letsencrypt.org"], **{argument: value})
    assert argument in message


# 7. zone_fragments passed anything whose first token is in a zone.
@pytest.mark.parametrize("record", [
    "www.example.org IN A 192.0.2.1",  # relative owner
    "www.example.org. IN A 192.0.2.1\nwww.example.org. IN A 192.0.2.2",  # two records
    "www.example.org. IN CNAME www",  # relative name in the data
    "www.example.org. this is not a record",
    "www.example.org. IN TLSA 3 1 1 00",  # digest of the wrong length
])
def test_zone_fragments_takes_only_one_absolute_record_per_item(record: str) -> None:
    assert "records[0]" in message_of(zone_fragments, [record], ["example.org"])
