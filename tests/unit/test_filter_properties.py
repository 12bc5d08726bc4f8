"""Property tests for every public filter: the exact bytes or a clear refusal (issue 16).

- Digests: random RSA, EC and Ed25519 keys and certificates, in every PEM layout drawn by
  ``hostile.pem_layouts``: whenever cryptography loads the text, tlsa_record and hpkp_pin give exactly the
  digest hashlib computes over the DER cryptography wrote when the object was made; when it does not, the
  filters refuse.
- Hostile arguments: each argument of each filter in turn gets a hostile value (``hostile.hostile_values``).
  The filter either answers (and every zone-file line it returns loads in dnspython as one record) or
  raises AnsibleFilterError naming that argument, short and without any fragment of a secret. Key
  material is never accepted where a name, URL, number or path belongs.

Derandomized (``hostile.properties``): the same cases on every run. Case counts are in the decorators.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pki_factory as pf
import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hostile import (
    SECRET_VALUES,
    assert_one_record,
    assert_safe_message,
    hostile_values,
    pem_layouts,
    properties,
)
from hypothesis import given
from hypothesis import strategies as st

from apache_tls import apache_module_links
from ct_monitor import ct_monitor_config, ct_monitor_known_keys, ct_monitor_watchlist
from dns_records import zone_fragments
from pinning import caa_records, hpkp_header, hpkp_pin, tlsa_record
from tls_common import tls_pem_bundle, tls_site_model

DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
HASHES = {0: lambda data: data, 1: lambda data: hashlib.sha256(data).digest(),
          2: lambda data: hashlib.sha512(data).digest()}
CURVES = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}


def is_secret(value: Any) -> bool:
    return isinstance(value, str) and value in SECRET_VALUES or (
        isinstance(value, list) and any(isinstance(item, str) and item in SECRET_VALUES for item in value))


# --------------------------------------------------------------------------
# digests over the DER, whatever the PEM layout
# --------------------------------------------------------------------------


@st.composite
def private_keys(draw: Any) -> Any:
    """RSA keys from pki_factory's cache (generation is slow); EC and Ed25519 keys from drawn secrets."""
    kind = draw(st.sampled_from(["rsa2048", "rsa2048b", "rsa3072", "p256", "p384", "p521", "ed25519"]))
    if kind.startswith("rsa"):
        return pf.cached_rsa_key(int(kind[3:7]), 1 if kind.endswith("b") else 0)
    if kind in CURVES:
        return ec.derive_private_key(draw(st.integers(1, 2**250)), CURVES[kind])
    return ed25519.Ed25519PrivateKey.from_private_bytes(draw(st.binary(min_size=32, max_size=32)))


def forms_of(key: Any) -> list[str]:
    forms = ["certificate", "public key", "private key (PKCS#8)"]
    if isinstance(key, rsa.RSAPrivateKey):
        forms += ["RSA public key (PKCS#1)", "private key (traditional)"]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        forms += ["private key (traditional)"]
    return forms


def encoded(key: Any, form: str, host: str) -> tuple[str, bytes, bytes | None]:
    """(PEM label, DER, certificate DER or None) of ``key`` in ``form``, all written by cryptography."""
    public = key.public_key()
    if form == "certificate":
        cert_der = pf.make_cert(key, host).public_bytes(DER)
        return "CERTIFICATE", cert_der, cert_der
    if form == "public key":
        return "PUBLIC KEY", public.public_bytes(DER, SPKI), None
    if form == "RSA public key (PKCS#1)":
        return "RSA PUBLIC KEY", public.public_bytes(DER, serialization.PublicFormat.PKCS1), None
    none = serialization.NoEncryption()
    if form == "private key (PKCS#8)":
        return "PRIVATE KEY", key.private_bytes(DER, serialization.PrivateFormat.PKCS8, none), None
    label = "RSA PRIVATE KEY" if isinstance(key, rsa.RSAPrivateKey) else "EC PRIVATE KEY"
    return label, key.private_bytes(DER, serialization.PrivateFormat.TraditionalOpenSSL, none), None


def cryptography_loads(form: str, text: str) -> bool:
    """Whether cryptography itself loads ``text`` as ``form`` (the acceptance the filters must match)."""
    data = text.encode("ascii")
    try:
        if form == "certificate":
            x509.load_pem_x509_certificate(data)
        elif "public" in form:
            serialization.load_pem_public_key(data)
        else:
            serialization.load_pem_private_key(data, password=None)
    except ValueError:
        return False
    return True


@properties(300)
@given(data=st.data())
def test_digest_is_over_the_der_in_every_layout_cryptography_accepts(data: Any) -> None:
    key = data.draw(private_keys(), label="key")
    form = data.draw(st.sampled_from(forms_of(key)), label="form")
    label, der, cert_der = encoded(key, form, "www.example.org")
    text = data.draw(pem_layouts(label, der), label="layout")
    selector = data.draw(st.sampled_from([0, 1] if cert_der else [1]), label="selector")
    mtype = data.draw(st.integers(0, 2), label="matching_type")
    spki = key.public_key().public_bytes(DER, SPKI)  # what a certificate made by cryptography carries
    if not cryptography_loads(form, text):
        with pytest.raises(AnsibleFilterError):
            tlsa_record(text, "www.example.org", selector=selector, matching_type=mtype)
        return
    expected = HASHES[mtype](cert_der if selector == 0 else spki).hex()  # type: ignore[arg-type]
    line = tlsa_record(text, "www.example.org", selector=selector, matching_type=mtype)
    assert line == f"_443._tcp.www.example.org. IN TLSA 3 {selector} {mtype} {expected}"
    assert_one_record(line)
    assert hpkp_pin(text) == base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_a_public_key_written_otherwise_than_cryptography_writes_it_is_refused() -> None:
    """A compressed EC point loads, but its digest differs from the re-encoded key's: refused, not guessed."""
    compressed = pf.make_compressed_point_cert()
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(compressed.spki_der).decode() + "-----END PUBLIC KEY-----\n"
    serialization.load_pem_public_key(pem.encode())  # cryptography accepts it
    with pytest.raises(AnsibleFilterError, match="not written in the DER form cryptography writes"):
        tlsa_record(pem, "www.example.org")
    # The certificate carrying that key gives the digest of the key as written (what DANE clients hash).
    assert tlsa_record(compressed.pem, "www.example.org").endswith(hashlib.sha256(compressed.spki_der).hexdigest())


# --------------------------------------------------------------------------
# hostile arguments
# --------------------------------------------------------------------------

GOOD_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32))
GOOD_CERT = pf.cert_pem(pf.make_cert(GOOD_KEY, "www.example.org"))
PIN_A = base64.b64encode(bytes(range(32))).decode()
PIN_B = base64.b64encode(bytes(range(1, 33))).decode()
TLSA_LINE = "_443._tcp.www.example.org. 3600 IN TLSA 3 1 1 " + "ab" * 32

TLSA_ARGS = {"pem": GOOD_CERT, "name": "www.example.org", "port": 443, "proto": "tcp", "usage": 3,
             "selector": 1, "matching_type": 1, "ttl": 3600}
HPKP_ARGS = {"pins": [PIN_A, PIN_B], "max_age": 600, "include_subdomains": True,
             "report_uri": "https://report.example.org/hpkp", "report_only": False}
CAA_ARGS = {"domain": "example.org", "issue": ["letsencrypt.org"], "issuewild": None,
            "iodef": ["mailto:security@example.org"], "critical": False, "accounturi": None,
            "validationmethods": ["dns-01"], "ttl": 3600}


def refused_or_checked(call: Any, argument: str, value: Any, secret_accepted: bool = False) -> Any:
    """Call; an error must name ``argument`` safely; key material must not be accepted unless allowed."""
    try:
        result = call()
    except AnsibleFilterError as exc:
        assert_safe_message(str(exc), argument)
        return None
    assert secret_accepted or not is_secret(value), f"key material accepted as {argument}"
    return result


@properties(500)
@given(argument=st.sampled_from(sorted(TLSA_ARGS)), value=hostile_values)
def test_tlsa_record_hostile_argument(argument: str, value: Any) -> None:
    kwargs = {**TLSA_ARGS, argument: value}
    line = refused_or_checked(lambda: tlsa_record(**kwargs), argument, value, secret_accepted=argument == "pem")
    if line is not None:
        assert_one_record(line)


@properties(150)
@given(value=hostile_values)
def test_hpkp_pin_hostile_argument(value: Any) -> None:
    pin = refused_or_checked(lambda: hpkp_pin(value), "pem", value, secret_accepted=True)
    if pin is not None:
        assert len(base64.b64decode(pin, validate=True)) == 32


@properties(400)
@given(argument=st.sampled_from(sorted(HPKP_ARGS)), value=hostile_values, in_list=st.booleans())
def test_hpkp_header_hostile_argument(argument: str, value: Any, in_list: bool) -> None:
    if argument == "pins" and in_list:
        value = [PIN_A, value]
    kwargs = {**HPKP_ARGS, argument: value}
    header = refused_or_checked(lambda: hpkp_header(**kwargs), argument, value)
    if header is not None:
        assert header.isprintable() and header.isascii() and len(header) < 1000


@properties(600)
@given(argument=st.sampled_from(sorted(CAA_ARGS)), value=hostile_values, in_list=st.booleans())
def test_caa_records_hostile_argument(argument: str, value: Any, in_list: bool) -> None:
    if argument in ("issue", "issuewild", "iodef", "validationmethods") and in_list:
        value = [value]
    kwargs = {**CAA_ARGS, argument: value}
    lines = refused_or_checked(lambda: caa_records(**kwargs), argument, value)
    for line in lines or []:
        assert_one_record(line)


@properties(300)
@given(argument=st.sampled_from(["records", "records[0]", "zones", "zones[0]"]), value=hostile_values)
def test_zone_fragments_hostile_argument(argument: str, value: Any) -> None:
    records: Any = [TLSA_LINE]
    zones: Any = ["example.org"]
    if argument == "records":
        records = value
    elif argument == "records[0]":
        records = [value, TLSA_LINE]
    elif argument == "zones":
        zones = value
    else:
        zones = [value, "example.org"]
    named = "dns_records_zones" if argument.startswith("zones") else "records"
    fragments = refused_or_checked(lambda: zone_fragments(records, zones), named, value)
    for lines in (fragments or {}).values():
        for line in lines:
            assert_one_record(line)


@properties(200)
@given(value=hostile_values, in_list=st.booleans())
def test_tls_pem_bundle_hostile_argument(value: Any, in_list: bool) -> None:
    texts = [GOOD_CERT, value] if in_list else value
    # Beside a certificate, a key is left out (only CERTIFICATE blocks are bundled), never copied.
    bundle = refused_or_checked(lambda: tls_pem_bundle(texts), "texts", value, secret_accepted=in_list)
    if bundle is not None:
        assert bundle == GOOD_CERT


MODULE_ARGS = {"modules": ["ssl", "headers"], "available": ["ssl.load", "ssl.conf", "headers.load"],
               "enabled_dir": "/etc/apache2/mods-enabled", "available_dir": "../mods-available"}


@properties(200)
@given(argument=st.sampled_from(sorted(MODULE_ARGS)), value=hostile_values, in_list=st.booleans())
def test_apache_module_links_hostile_argument(argument: str, value: Any, in_list: bool) -> None:
    if argument in ("modules", "available") and in_list:
        value = [*MODULE_ARGS[argument], value]  # type: ignore[misc]
    # An extra name in the directory listing is not linked, whatever it is: accepted, and never copied.
    links = refused_or_checked(lambda: apache_module_links(**{**MODULE_ARGS, argument: value}),
                               "module" if argument == "modules" else argument, value,
                               secret_accepted=argument == "available")
    assert links is None or not any(is_secret(v) for link in links for v in link.values())
    for link in links or []:
        assert set(link) == {"path", "src"} and all(isinstance(v, str) and "\n" not in v for v in link.values())


GUIDELINES = {"version": 6.0, "configurations": {"intermediate": {
    "tls_curves": ["X25519", "prime256v1"], "tls_versions": ["TLSv1.2", "TLSv1.3"],
    "ciphers": {"openssl": ["ECDHE-ECDSA-AES128-GCM-SHA256"]}, "ciphersuites": ["TLS_AES_128_GCM_SHA256"],
    "server_preferred_order": False, "hsts_min_age": 63072000, "certificate_types": ["ecdsa"]}}}
GENERATOR = {"session_timeout": 86400, "session_tickets_off_before_nginx": "1.23.2"}
MODEL_ARGS = {"sites": None, "profile": "intermediate", "guidelines": GUIDELINES, "generator": GENERATOR,
              "overrides": {}, "inspection": None, "bundle_dir": "/etc/ssl/bulwark", "acme_root": "/var/www/acme"}
MODEL_NAMES = {"sites": "tls_sites", "profile": "tls_profile", "guidelines": "guidelines",
               "generator": "generator", "overrides": "overrides", "inspection": "inspection",
               "bundle_dir": "bundle_dir", "acme_root": "acme_root"}
SITE_FIELDS = ["name", "aliases", "certificates", "hsts", "ocsp_stapling", "breach", "root", "upstream",
               "cert", "key", "chain", "max_age", "include_subdomains", "preload"]


def good_site() -> dict[str, Any]:
    return {"name": "www.example.org", "aliases": ["example.org"], "root": "/var/www/html",
            "certificates": [{"cert": "/etc/ssl/a.crt", "key": "/etc/ssl/a.key", "chain": "/etc/ssl/a.ch"}],
            "hsts": {"max_age": 63072000, "include_subdomains": True, "preload": False}}


def check_model(kwargs: dict[str, Any], argument: str, value: Any) -> None:
    """A wrong type is an error naming ``argument``; a wrong value is a problem naming it (the play fails)."""
    model = refused_or_checked(lambda: tls_site_model(**kwargs), argument, value, secret_accepted=True)
    if model is None:
        return
    texts = model["problems"] + model["notes"]
    for text in texts:
        assert_safe_message(text, "")
    if is_secret(value) or (isinstance(value, str) and "\n" in value and argument not in ("inspection",)):
        assert any(argument in text for text in model["problems"]), (argument, model["problems"])


@properties(300)
@given(argument=st.sampled_from(sorted(MODEL_ARGS)), value=hostile_values)
def test_tls_site_model_hostile_argument(argument: str, value: Any) -> None:
    kwargs = {**MODEL_ARGS, "sites": [good_site()], argument: value}
    check_model(kwargs, MODEL_NAMES[argument], value)


@properties(500)
@given(field=st.sampled_from(SITE_FIELDS), value=hostile_values)
def test_tls_site_model_hostile_site_field(field: str, value: Any) -> None:
    site = good_site()
    if field in ("cert", "key", "chain"):
        site["certificates"][0][field] = value
    elif field in ("max_age", "include_subdomains", "preload"):
        site["hsts"][field] = value
    else:
        site[field] = value
    check_model({**MODEL_ARGS, "sites": [site]}, field, value)


# ct_monitor: the watch list is written one entry per line, the configuration as JSON

CT_CONFIG_ARGS = {"email": ["security@example.org"], "email_from": "ct@example.org",
                  "webhook": "https://hooks.example.org/ct", "log_list": "/etc/ct/log-list.json",
                  "alert_log": "/var/log/ct_monitor/alerts.jsonl",
                  "caa": [{"domain": "example.org", "issue": ["letsencrypt.org"]}],
                  "ca_domains": [{"issuer": "Example CA", "caa": ["ca.example.org"]}],
                  "public_ca_domains": [{"issuer": "Let's Encrypt", "caa": ["letsencrypt.org"]}],
                  "extra_keys": ["ab" * 32], "state_dir": "/var/lib/certspotter"}
CT_CONFIG_NAMES = {"email": "ct_monitor_email", "email_from": "ct_monitor_email_from", "webhook": "ct_monitor_webhook",
                   "log_list": "ct_monitor_log_list", "alert_log": "ct_monitor_alert_log", "caa": "dns_records_caa",
                   "ca_domains": "ct_monitor_ca_domains", "public_ca_domains": "public_ca_domains",
                   "extra_keys": "ct_monitor_extra_keys", "state_dir": "state_dir"}
CT_LISTS = ("email", "caa", "ca_domains", "public_ca_domains", "extra_keys")
CT_KEY = {"host": "web", "names": ["www.example.org", "*.apps.example.org"], "port": 443, "proto": "tcp",
          "source": "fallback", "kind": "current", "path": "/etc/ssl/www.crt", "certificate": GOOD_CERT,
          "public_key": "PUB", "spki_sha256": "cd" * 32}


@properties(500)
@given(argument=st.sampled_from(sorted(CT_CONFIG_ARGS)), value=hostile_values, in_list=st.booleans())
def test_ct_monitor_config_hostile_argument(argument: str, value: Any, in_list: bool) -> None:
    if argument in CT_LISTS and in_list:
        value = [*CT_CONFIG_ARGS[argument], value]  # type: ignore[misc]
    # A webhook or log list URL may carry a token in its path (refused messages show only scheme and host); a
    # 64-hex-digit value is what an extra key is.
    config = refused_or_checked(lambda: ct_monitor_config(**{**CT_CONFIG_ARGS, argument: value}),
                                CT_CONFIG_NAMES[argument], value,
                                secret_accepted=argument in ("webhook", "log_list", "extra_keys"))
    if config is not None:
        text = json.dumps(config)
        assert json.loads(text) == config
        assert all(isinstance(address, str) and "\n" not in address and "\r" not in address
                   for address in config["email"] + [config["email_from"]])


@properties(400)
@given(argument=st.sampled_from(["keys", "keys[0]", "names", "names[0]", "extra_domains", "subdomains"]),
       value=hostile_values, in_list=st.booleans())
def test_ct_monitor_watchlist_hostile_argument(argument: str, value: Any, in_list: bool) -> None:
    keys: Any = [CT_KEY]
    extra: Any = ["shop.example.org"]
    subdomains: Any = ["example.net"]
    if argument == "keys":
        keys = value
    elif argument == "keys[0]":
        keys = [value, CT_KEY]
    elif argument == "names":
        keys = [{**CT_KEY, "names": value}]
    elif argument == "names[0]":
        keys = [{**CT_KEY, "names": [value, "www.example.org"]}]
    elif argument == "extra_domains":
        extra = [*extra, value] if in_list else value
    else:
        subdomains = [*subdomains, value] if in_list else value
    named = {"keys": "key set", "keys[0]": "key set[0]", "names": "key set[0].names", "names[0]": "key set[0].names",
             "extra_domains": "ct_monitor_extra_domains", "subdomains": "ct_monitor_subdomains"}[argument]
    entries = refused_or_checked(lambda: ct_monitor_watchlist(keys, extra, subdomains), named, value)
    for entry in entries or []:  # one line of certspotter's watch list each
        assert bulwark_dns_name(entry.removeprefix(".")), entry[:80]


@properties(400)
@given(argument=st.sampled_from(["keys", "keys[0]", "host", "path", "kind", "spki_sha256", "known", "known[0]"]),
       value=hostile_values)
def test_ct_monitor_known_keys_hostile_argument(argument: str, value: Any) -> None:
    keys: Any = [CT_KEY]
    known: Any = {"ef" * 32: ["ct_monitor_extra_keys"]}
    if argument == "keys":
        keys = value
    elif argument == "keys[0]":
        keys = [value]
    elif argument in ("host", "path", "kind", "spki_sha256"):
        keys = [{**CT_KEY, argument: value}]
    elif argument == "known":
        known = value
    else:
        known = {"ef" * 32: value}
    named = {"keys": "key set", "keys[0]": "key set[0]", "known[0]": "known"}.get(argument, argument)
    # A digest in hex is what it is. The host is an inventory name tls_key_reads checked against the inventory
    # (names there are free-form); here it only labels a key, as do the known keys' labels (the role's own
    # text), and kind only says whether the key is staged.
    result = refused_or_checked(lambda: ct_monitor_known_keys(keys, known), named, value,
                                secret_accepted=argument in ("spki_sha256", "host", "kind", "known[0]"))
    for digest, labels in (result or {}).items():
        assert len(digest) == 64 and digest == digest.lower() and int(digest, 16) >= 0
        assert labels and all(isinstance(label, str) and label.isprintable() for label in labels)


def bulwark_dns_name(text: str) -> bool:
    from ansible.module_utils.bulwark_dns import name_problem

    return name_problem(text, wildcard=True) is None and text == text.lower()


# --------------------------------------------------------------------------
# every accepted output is one record: filters chained as the dns_records role chains them
# --------------------------------------------------------------------------

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@properties(100)
@given(hosts=st.lists(st.lists(labels, min_size=1, max_size=3).map(lambda l: ".".join([*l, "example", "org"])),
                      min_size=1, max_size=4),
       ttl=st.none() | st.integers(0, 2**31 - 1), port=st.integers(1, 65535), mtype=st.integers(0, 2))
def test_zone_fragments_of_filter_output_are_records_of_their_zone(
        hosts: list[str], ttl: int | None, port: int, mtype: int) -> None:
    records = [tlsa_record(GOOD_CERT, host, port=port, matching_type=mtype, ttl=ttl) for host in hosts]
    records += caa_records("example.org", issue=["letsencrypt.org"], issuewild=[], ttl=ttl)
    fragments = zone_fragments(records + records[:1], ["example.org", "sub.example.org"])
    lines = [line for zone_lines in fragments.values() for line in zone_lines]
    assert sorted(lines) == sorted(set(records))
    for zone, zone_lines in fragments.items():
        for line in zone_lines:
            assert_one_record(line)
            owner = line.split()[0]
            assert owner == f"{zone}." or owner.endswith(f".{zone}.")
