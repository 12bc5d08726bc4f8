"""Unit tests for roles/dns_records/filter_plugins/dns_records.py: the zone_fragments filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from dns_records import zone_for, zone_fragments

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
        zone_fragments(["_443._tcp.www.example.net. IN TLSA 3 1 1 00"], ["example.org"])


@pytest.mark.parametrize("zones", ["example.org", [""], [None], None])
def test_bad_zone_list_is_named(zones: object) -> None:
    with pytest.raises(AnsibleFilterError, match="dns_records_zones"):
        zone_fragments([], zones)


@pytest.mark.parametrize("record", ["", "   ", 42])
def test_bad_record_is_named(record: object) -> None:
    with pytest.raises(AnsibleFilterError, match="zone-file line"):
        zone_fragments([record], ["example.org"])


# --- the acme_certificates fact -------------------------------------------------------------------------------------
def _slurped(host: str, fact: dict) -> dict:
    import base64
    import json

    return {"item": host, "content": base64.b64encode(json.dumps(fact).encode()).decode()}


ACME_FACT = {
    "accounts": [{"ca": "primary", "directory": "https://a/dir", "account_uri": "https://a/acct/1",
                  "caa_identity": "letsencrypt.org"},
                 {"ca": "backup", "directory": "https://b/dir", "account_uri": "https://b/acct/2",
                  "caa_identity": ""}],
    "certificates": [{"name": "www", "key_type": "ecdsa", "domains": ["www.example.org", "*.example.org"],
                      "cert": "/etc/ssl/acme/www/ecdsa.fullchain.crt",
                      "publish_keys": ["/etc/ssl/acme/www/ecdsa.next.pub"]}],
}


def test_acme_staged_keys_are_published_under_their_certificates_names() -> None:
    from dns_records import dns_records_acme_sources

    sources = [{"host": "web", "path": "/etc/ssl/acme/www/ecdsa.fullchain.crt", "names": ["www.example.org"],
                "port": 443, "proto": "tcp", "next_key": False},
               {"host": "other", "path": "/etc/ssl/acme/www/ecdsa.fullchain.crt", "names": ["x.example.org"],
                "port": 443, "proto": "tcp", "next_key": False}]
    slurped = {"results": [_slurped("web", ACME_FACT), {"item": "other", "failed": True, "msg": "not found"}]}
    assert dns_records_acme_sources(slurped, sources) == [
        {"host": "web", "path": "/etc/ssl/acme/www/ecdsa.next.pub", "names": ["www.example.org"], "port": 443,
         "proto": "tcp", "next_key": True}]


def test_acme_accounts_become_caa_issue_records_with_accounturi() -> None:
    from dns_records import dns_records_acme_caa

    assert dns_records_acme_caa({"results": [_slurped("web", ACME_FACT)]}) == [
        {"domain": "example.org", "issuewild": ["letsencrypt.org"], "accounturi": "https://a/acct/1"},
        {"domain": "www.example.org", "issue": ["letsencrypt.org"], "accounturi": "https://a/acct/1"},
    ]


def test_a_broken_acme_fact_is_an_error_naming_the_host() -> None:
    import base64

    from dns_records import dns_records_acme_caa

    with pytest.raises(AnsibleFilterError, match="fact of web is not JSON"):
        dns_records_acme_caa({"results": [{"item": "web", "content": base64.b64encode(b"{oops").decode()}]})
