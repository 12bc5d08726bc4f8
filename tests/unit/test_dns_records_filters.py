"""Unit tests for roles/dns_records/filter_plugins/dns_records.py: records, fragments and their files."""

from __future__ import annotations

import hashlib
from typing import Any

import pki_factory
import pytest
from ansible.errors import AnsibleFilterError

from dns_records import dns_records_files, dns_records_lines, zone_for, zone_fragments

TLSA_WWW = "_443._tcp.www.example.org. 3600 IN TLSA 3 1 1 " + "ab" * 32
TLSA_SUB = "_443._tcp.www.sub.example.org. 3600 IN TLSA 3 1 1 " + "cd" * 32
CAA_APEX = 'example.org. 3600 IN CAA 0 issue "letsencrypt.org"'


def test_longest_zone_wins() -> None:
    assert zone_for("_443._tcp.www.sub.example.org.", ["example.org", "sub.example.org"]) == "sub.example.org"
    assert zone_for("_443._tcp.www.example.org.", ["example.org", "sub.example.org"]) == "example.org"


def test_apex_owner_belongs_to_its_zone_and_suffix_must_be_a_label() -> None:
    assert zone_for("example.org.", ["example.org"]) == "example.org"
    assert zone_for("badexample.org.", ["example.org"]) is None


def test_fragments_are_sorted_deduplicated_and_grouped() -> None:
    records = [TLSA_SUB, CAA_APEX, TLSA_WWW, TLSA_WWW]
    assert zone_fragments(records, ["sub.example.org", "example.org."]) == {
        "example.org": [TLSA_WWW, CAA_APEX],  # plain string order: "_" sorts before letters
        "sub.example.org": [TLSA_SUB],
    }


def test_output_does_not_depend_on_input_order() -> None:
    zones = ["example.org", "sub.example.org"]
    assert zone_fragments([TLSA_WWW, TLSA_SUB, CAA_APEX], zones) == zone_fragments([CAA_APEX, TLSA_SUB, TLSA_WWW], zones)


def test_every_zone_gets_a_fragment_even_when_empty() -> None:
    assert zone_fragments([], ["example.org"]) == {"example.org": []}


def test_record_outside_every_zone_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match=r"_443\._tcp\.www\.example\.net\..*dns_records_zones"):
        zone_fragments(["_443._tcp.www.example.net. IN TLSA 3 1 1 " + "00" * 32], ["example.org"])


@pytest.mark.parametrize("zones", ["example.org", [""], [None], None])
def test_bad_zone_list_is_named(zones: object) -> None:
    with pytest.raises(AnsibleFilterError, match="dns_records_zones"):
        zone_fragments([], zones)


@pytest.mark.parametrize("record", ["", "   ", 42])
def test_bad_record_is_named(record: object) -> None:
    with pytest.raises(AnsibleFilterError, match="zone-file line"):
        zone_fragments([record], ["example.org"])


def test_an_empty_zone_list_is_refused_with_an_example() -> None:
    with pytest.raises(AnsibleFilterError, match=r"dns_records_zones is empty: .*e\.g\. \[example\.org\]"):
        zone_fragments([], [])


LEAF = pki_factory.make_pki("p256")
NEXT = pki_factory.new_key("p256")
CURRENT: dict[str, Any] = {"host": "web", "names": ["www.example.org", "example.org"], "port": 443, "proto": "tcp",
                           "kind": "current", "certificate": LEAF.leaf_pem,
                           "public_key": pki_factory.public_pem(LEAF.leaf_key)}
STAGED: dict[str, Any] = {**CURRENT, "kind": "next", "path": "/etc/ssl/next.key", "certificate": None,
                          "public_key": pki_factory.public_pem(NEXT)}
DANE_EE = [{"usage": 3, "selector": 1, "matching_type": 1}]


def _digest(key: Any) -> str:
    return hashlib.sha256(pki_factory.spki_der(key)).hexdigest()


def test_one_tlsa_line_per_key_name_and_parameter_set() -> None:
    lines = dns_records_lines([CURRENT, STAGED], DANE_EE + [{"usage": 1, "selector": 1, "matching_type": 2}], ttl=300)
    assert len(lines) == 2 * 2 * 2
    assert f"_443._tcp.www.example.org. 300 IN TLSA 3 1 1 {_digest(LEAF.leaf_key)}" in lines
    assert f"_443._tcp.example.org. 300 IN TLSA 3 1 1 {_digest(NEXT)}" in lines


def test_selector_0_uses_the_certificate() -> None:
    [line] = dns_records_lines([{**CURRENT, "names": ["www.example.org"]}],
                               [{"usage": 3, "selector": 0, "matching_type": 1}])
    assert line.endswith(hashlib.sha256(LEAF.leaf.public_bytes(pki_factory.DER)).hexdigest())


def test_selector_0_with_a_staged_key_is_refused_naming_host_and_key() -> None:
    with pytest.raises(AnsibleFilterError, match=r"selector 0 .* web stages a next_key \(/etc/ssl/next\.key\)"):
        dns_records_lines([CURRENT, STAGED], [{"usage": 3, "selector": 0, "matching_type": 1}])


def test_caa_entries_take_the_role_defaults() -> None:
    lines = dns_records_lines([], [], [{"domain": "example.org", "issue": ["letsencrypt.org"],
                                        "validationmethods": ["dns-01"]},
                                       {"domain": "www.example.org", "issue": [], "issuewild": None}], ttl=3600)
    assert lines == ['example.org. 3600 IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01"',
                     'www.example.org. 3600 IN CAA 0 issue ";"']


@pytest.mark.parametrize(("args", "message"), [
    (("text", DANE_EE, []), "the input must be a key set"),
    (([CURRENT], "3 1 1", []), "dns_records_tlsa: must be a list"),
    (([CURRENT], ["3 1 1"], []), r"dns_records_tlsa\[0\]: must be a mapping"),
    (([], DANE_EE, "example.org"), "dns_records_caa: must be a list"),
    (([], DANE_EE, [{"issue": []}]), r"dns_records_caa\[0\]: must be a mapping with a domain"),
    (([], DANE_EE, [{"domain": "example.org", "isue": []}]), r"dns_records_caa\[0\]: unknown key 'isue'"),
    (([{"names": ["www.example.org"]}], DANE_EE, []), "a key without certificate or public_key"),
])
def test_bad_input_names_the_variable(args: tuple[Any, Any, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        dns_records_lines(*args)


def test_fragment_files_carry_a_header_and_one_line_per_record() -> None:
    files = dns_records_files({"example.org": [CAA_APEX], "sub.example.org": []}, "/var/lib/bulwark/dns/")
    assert [f["path"] for f in files] == ["/var/lib/bulwark/dns/example.org.records",
                                          "/var/lib/bulwark/dns/sub.example.org.records"]
    assert files[0]["content"].startswith("; Managed by Bulwark's dns_records role: TLSA and CAA records of example.org")
    assert files[0]["content"].endswith("\n" + CAA_APEX + "\n")
    assert all(line.startswith(";") for line in files[1]["content"].splitlines())


@pytest.mark.parametrize(("fragments", "directory", "message"), [
    ([], "/d", "zone_fragments' result"),
    ({}, "relative/dir", "dns_records_dir: 'relative/dir' is not an absolute path"),
])
def test_bad_fragment_input_is_refused(fragments: Any, directory: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        dns_records_files(fragments, directory)


ISSUER: dict[str, Any] = {**CURRENT, "names": ["mx.example.org"], "port": 25, "kind": "issuer",
                          "certificate": LEAF.ca_pem, "public_key": pki_factory.public_pem(LEAF.ca_key)}


def test_an_issuer_key_gets_one_dane_ta_line_whatever_dns_records_tlsa_says() -> None:
    lines = dns_records_lines([{**CURRENT, "names": ["mx.example.org"], "port": 25}, ISSUER],
                              DANE_EE + [{"usage": 3, "selector": 0, "matching_type": 1}], ttl=60)
    assert f"_25._tcp.mx.example.org. 60 IN TLSA 2 1 1 {_digest(LEAF.ca_key)}" in lines
    assert len(lines) == 3 and sum(" 2 1 1 " in line for line in lines) == 1


POLICY = "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 604800\n"
MAIL = {"host": "mx", "domain": "example.org", "mta_sts_policy": POLICY, "tls_rpt": ["mailto:tlsrpt@example.org"]}


def test_a_mail_domain_gets_its_mta_sts_and_tls_rpt_records_once() -> None:
    lines = dns_records_lines([], [], [], ttl=300, mail=[MAIL, {**MAIL, "host": "mx2"}])
    policy_id = hashlib.sha256(POLICY.encode()).hexdigest()[:32]
    assert lines == [f'_mta-sts.example.org. 300 IN TXT "v=STSv1; id={policy_id}"',
                     '_smtp._tls.example.org. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"']
    assert dns_records_lines([], [], [], mail=[{**MAIL, "mta_sts_policy": None, "tls_rpt": []}]) == []
    assert zone_fragments(lines, ["example.org"])["example.org"] == lines


@pytest.mark.parametrize(("other", "label"), [
    ({"mta_sts_policy": POLICY.replace("enforce", "testing")}, "_mta-sts"),
    ({"tls_rpt": ["mailto:other@example.org"]}, "_smtp._tls"),
])
def test_two_mx_with_different_policies_for_one_domain_are_refused(other: dict[str, Any], label: str) -> None:
    with pytest.raises(AnsibleFilterError, match=rf"^{label}\.example\.org: mx and mx2 publish different values"):
        dns_records_lines([], [], [], mail=[MAIL, {**MAIL, "host": "mx2", **other}])


@pytest.mark.parametrize(("mail", "message"), [
    ("example.org", r"mail must be tls_key_mail's result \(a list\), got 'example.org'"),
    ([{"domain": 3}], r"mail\[0\] must be a mapping with a domain"),
    ([{**MAIL, "tls_rpt": ["ftp://x"]}], r"tls_rpt_record: rua\[0\] must be a mailto: or https: URI"),
])
def test_bad_mail_input_is_refused(mail: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        dns_records_lines([], [], [], mail=mail)


# --- CAA bound to acme_certificates' accounts ---------------------------------------------------------------------
ACME_READ = {"services": [], "acme": {
    "accounts": [{"ca": "primary", "directory": "https://a/dir", "account_uri": "https://a/acct/1",
                  "caa_identity": "letsencrypt.org"},
                 {"ca": "backup", "directory": "https://b/dir", "account_uri": "https://b/acct/2", "caa_identity": ""}],
    "certificates": [{"domains": ["www.example.org", "*.example.org"], "challenge": "dns-01"},
                     {"domains": ["www.example.org"], "challenge": "http-01"}]}}


def test_acme_accounts_become_caa_entries_with_accounturi_and_the_challenges_used() -> None:
    from dns_records import dns_records_acme_caa

    entries = dns_records_acme_caa({"results": [ACME_READ, {"services": [], "acme": {"accounts": [], "certificates": []}}]})
    assert entries == [
        {"domain": "example.org", "issuewild": ["letsencrypt.org"], "accounturi": "https://a/acct/1",
         "validationmethods": ["dns-01"]},
        {"domain": "www.example.org", "issue": ["letsencrypt.org"], "accounturi": "https://a/acct/1",
         "validationmethods": ["dns-01", "http-01"]},
    ]
    lines = dns_records_lines([], (), entries, 3600)
    assert 'www.example.org. 3600 IN CAA 0 issue "letsencrypt.org; accounturi=https://a/acct/1; ' \
           'validationmethods=dns-01,http-01"' in lines


def test_hosts_without_the_acme_fact_add_nothing_and_bad_input_is_named() -> None:
    from dns_records import dns_records_acme_caa

    assert dns_records_acme_caa([{"services": []}]) == []
    with pytest.raises(AnsibleFilterError, match="registered result of a looped tls_public_keys task"):
        dns_records_acme_caa("nope")
    with pytest.raises(AnsibleFilterError, match=r"results\[0\]\.acme must be a mapping"):
        dns_records_acme_caa([{"services": [], "acme": ["x"]}])


def test_a_rollover_key_refuses_selector_0_like_a_next_key() -> None:
    key = {"host": "web", "names": ["www.example.org"], "kind": "rollover", "path": "/k.pub", "certificate": None,
           "public_key": pki_factory.public_pem(pki_factory.new_key("p256"))}
    with pytest.raises(AnsibleFilterError, match="selector 0"):
        dns_records_lines([key], [{"usage": 3, "selector": 0, "matching_type": 1}])
