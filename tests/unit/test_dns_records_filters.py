"""Unit tests for roles/dns_records/filter_plugins/dns_records.py: the zone_fragments filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from dns_records import tls_issuer, zone_for, zone_fragments
from pki_factory import cert_pem, make_cert, new_key

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


def test_tls_issuer_finds_the_signer_in_the_full_chain_or_the_chain_file() -> None:
    ca_key, other_key, leaf_key = new_key("p256"), new_key("p256"), new_key("p256")
    ca = cert_pem(make_cert(ca_key, "Lab CA", ca=True))
    # Same name, other key: a name match alone is not enough.
    impostor = cert_pem(make_cert(other_key, "Lab CA", ca=True))
    leaf = cert_pem(make_cert(leaf_key, "mx.example.org", issuer_key=ca_key, issuer_name="Lab CA"))
    assert tls_issuer(leaf + ca) == ca.strip() + "\n"
    assert tls_issuer(leaf, impostor + ca) == ca.strip() + "\n"
    with pytest.raises(AnsibleFilterError, match="no certificate of the served chain issued 'CN=Lab CA'"):
        tls_issuer(leaf, impostor)
