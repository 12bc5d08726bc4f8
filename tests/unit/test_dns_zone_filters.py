"""Unit tests for roles/dns_zone/filter_plugins/dns_zone.py: the dns_zone_model filter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from dns_zone import POLICY_DEFAULTS, SOA_DEFAULTS, dns_zone_model, duration_seconds

ROLE = Path(__file__).resolve().parents[2] / "roles" / "dns_zone"


def model(zones: list, dnssec: dict | None = None, **kwargs: object) -> list[dict]:
    return dns_zone_model(zones, dnssec or {}, kwargs.pop("soa", {}), kwargs.pop("ttl", 3600), "ns", "192.0.2.53")


def test_defaults_agree_with_the_role_defaults() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["dns_zone_dnssec"] == POLICY_DEFAULTS
    assert defaults["dns_zone_soa"] == SOA_DEFAULTS


def test_a_minimal_zone_gets_every_default() -> None:
    [zone] = model([{"name": "Example.ORG."}])
    assert zone["name"] == "example.org"
    assert zone["nameservers"] == [{"name": "ns.example.org.", "addresses": ["192.0.2.53"]}]
    assert zone["soa"]["hostmaster"] == "hostmaster.example.org."
    assert zone["secondaries"] == [] and zone["records"] == [] and zone["acme_challenge_updates"] is False
    assert zone["dnssec"] == {**POLICY_DEFAULTS, "zsk_lifetime": 30 * 86400, "propagation_delay": 3600,
                              "ksk_submission_check_interval": 3600}


def test_durations_take_knot_units_and_seconds() -> None:
    assert duration_seconds("30d", "x") == 2592000
    assert duration_seconds("90s", "x") == 90
    assert duration_seconds(5, "x") == 5
    assert duration_seconds("2w", "x") == 1209600


@pytest.mark.parametrize("value", ["5x", "-1", "1.5h", True, "", "d"])
def test_a_bad_duration_names_the_variable_and_the_value(value: object) -> None:
    with pytest.raises(AnsibleFilterError, match=r"dns_zone_dnssec\.dnskey_ttl must be a duration"):
        model([{"name": "example.org"}], {"dnskey_ttl": value})


def test_a_zone_policy_overrides_the_common_one() -> None:
    [zone] = model([{"name": "example.org", "dnssec_policy": {"algorithm": "ed25519", "nsec3": False}}],
                   {"zsk_lifetime": "1d"})
    assert zone["dnssec"]["algorithm"] == "ed25519"
    assert zone["dnssec"]["nsec3"] is False
    assert zone["dnssec"]["zsk_lifetime"] == 86400


def test_an_unsigned_zone_has_no_policy() -> None:
    assert model([{"name": "example.org", "dnssec": False}])[0]["dnssec"] is None


@pytest.mark.parametrize(("zones", "dnssec", "message"), [
    ([{"name": "exa mple.org"}], {}, r"dns_zone_zones\[0\]\.name: 'exa mple.org' is not a zone name"),
    ([{"name": "example.org"}, {"name": "EXAMPLE.org."}], {}, "zone 'example.org' is declared twice"),
    ([{"name": "example.org", "secondaries": ["192.0.2.300"]}], {},
     r"dns_zone_zones\[example.org\]\.secondaries: '192.0.2.300' is not an IP address"),
    ([{"name": "example.org"}], {"algorithm": "rsasha1"}, r"dns_zone_dnssec\.algorithm must be one of"),
    ([{"name": "example.org"}], {"parent_servers": ["ns.example."]},
     r"dns_zone_dnssec\.parent_servers: 'ns.example.' is not an IP address"),
    ([{"name": "example.org"}], {"dnskey_ttl": 0}, r"dns_zone_dnssec\.dnskey_ttl must be more than 0"),
    ([{"name": "example.org"}], {"ksk_rollover": 1}, "dns_zone_dnssec: unknown option 'ksk_rollover'"),
    ([{"name": "example.org", "dnssec_policy": {"nsec3": "yes"}}], {},
     r"dns_zone_zones\[example.org\]\.dnssec_policy\.nsec3 must be true or false, got 'yes'"),
    ([{"name": "example.org", "recrods": []}], {}, r"dns_zone_zones\[example.org\]: unknown option 'recrods'"),
    ([{"name": "example.org", "acme_challenge_updates": "yes"}], {},
     r"acme_challenge_updates must be true or false"),
])
def test_bad_input_names_the_variable_the_zone_and_the_value(zones: list, dnssec: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        model(zones, dnssec)


@pytest.mark.parametrize(("line", "message"), [
    ("@ IN SOA ns hostmaster 1 2 3 4 5", "the SOA record is the role's"),
    ("$INCLUDE /etc/passwd", "directives such as"),
    ("www IN A 192.0.2.1\nevil IN A 192.0.2.2", "must be one line"),
    ("@ IN TXT ( \"a\"", "without parentheses"),
    ("", "must be a zone-file line"),
])
def test_record_lines_the_role_cannot_accept_are_refused_by_index(line: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=r"dns_zone_zones\[example.org\]\.records\[1\].*" + re.escape(message)):
        model([{"name": "example.org", "records": ["www IN A 192.0.2.1", line]}])


def test_nameservers_relative_absolute_and_glue() -> None:
    [zone] = model([{"name": "example.org", "nameservers": [{"name": "ns1", "address": ["192.0.2.1", "2001:db8::1"]},
                                                              "ns2.example.net."]}])
    assert zone["nameservers"] == [
        {"name": "ns1.example.org.", "addresses": ["192.0.2.1", "2001:db8::1"]},
        {"name": "ns2.example.net.", "addresses": []},
    ]


def test_soa_and_ttl_durations() -> None:
    [zone] = model([{"name": "example.org", "ttl": "5m"}], soa={"negative_ttl": "1h", "hostmaster": "dns@example.net."})
    assert zone["ttl"] == 300
    assert zone["soa"]["negative_ttl"] == 3600
    assert zone["soa"]["hostmaster"] == "dns.example.net."
