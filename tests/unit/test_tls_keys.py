"""Unit tests for roles/shared/filter_plugins/tls_keys.py: which hosts to read, and the flat key set."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from tls_keys import tls_key_mail, tls_key_reads, tls_key_services, tls_key_set

WWW = {"name": "www.example.org", "aliases": ["example.org", "WWW.example.org."],
       "certificates": [{"cert": "/etc/ssl/www-rsa.crt", "key": "/etc/ssl/www-rsa.key", "chain": "/etc/ssl/c.pem",
                         "next_key": "/etc/ssl/www-next.key"},
                        {"cert": "/etc/ssl/www-ec.crt", "key": "/etc/ssl/www-ec.key", "chain": "/etc/ssl/c.pem"}],
       "root": "/var/www"}
HOSTVARS: dict[str, Any] = {"web": {"tls_sites": [WWW]}, "mx": {}, "ns": {"tls_sites": []}}
MAIL = {"host": "mx", "name": "mx.example.org", "port": 25, "proto": "tcp", "cert": "/etc/ssl/mx.crt"}


def test_sites_become_https_services_with_their_names_once() -> None:
    assert tls_key_services([WWW]) == [{
        "names": ["www.example.org", "example.org"], "port": 443, "proto": "tcp",
        "certificates": [{"cert": "/etc/ssl/www-rsa.crt", "next_key": "/etc/ssl/www-next.key"},
                         {"cert": "/etc/ssl/www-ec.crt"}]}]


def test_no_sites_no_services() -> None:
    assert tls_key_services(None) == [] and tls_key_services([]) == []


def test_one_read_per_host_with_its_fallback_and_its_services() -> None:
    reads = tls_key_reads(["web", "ns"], HOSTVARS, [MAIL, {**MAIL, "name": "smtp.example.org", "port": 465}])
    assert [r["host"] for r in reads] == ["web", "ns", "mx"]
    assert reads[0]["fallback"] == tls_key_services([WWW]) and reads[0]["services"] == []
    assert reads[1] == {"host": "ns", "services": [], "fallback": []}
    assert [(s["names"], s["port"]) for s in reads[2]["services"]] == [(["mx.example.org"], 25),
                                                                        (["smtp.example.org"], 465)]
    assert reads[2]["fallback"] == []


def test_a_service_on_a_tls_host_joins_its_read() -> None:
    reads = tls_key_reads(["web"], HOSTVARS, [{**MAIL, "host": "web"}])
    assert len(reads) == 1 and len(reads[0]["services"]) == 1 and len(reads[0]["fallback"]) == 1


@pytest.mark.parametrize(("hosts", "services", "message"), [
    (["nowhere"], [], "dns_records_tls_hosts: 'nowhere' is not an inventory host"),
    ("web", [], "dns_records_tls_hosts: must be a list of inventory hosts, got str"),
    ([], [{**MAIL, "host": "gone"}], r"dns_records_services\[0\]\.host: 'gone' is not an inventory host"),
    ([], [{**MAIL, "port": 0}], r"dns_records_services\[0\]\.port: 0 is not a port \(1-65535\)"),
    ([], [{**MAIL, "port": 70000}], r"dns_records_services\[0\]\.port: 70000 is not a port"),
    ([], [{**MAIL, "port": True}], r"dns_records_services\[0\]\.port: True is not a port"),
    ([], [{**MAIL, "proto": "quic"}], r"dns_records_services\[0\]\.proto: 'quic' is not one of tcp, udp, sctp"),
    ([], [{**MAIL, "name": "bad_name.example"}], r"dns_records_services\[0\]\.name: 'bad_name\.example' is not a DNS"),
    ([], [{**MAIL, "cert": "relative.crt"}], r"dns_records_services\[0\]\.cert: 'relative\.crt' is not an absolute"),
])
def test_bad_input_is_refused_naming_the_variable(hosts: Any, services: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        tls_key_reads(hosts, HOSTVARS, services, hosts_var="dns_records_tls_hosts",
                      services_var="dns_records_services")


def test_a_bad_site_in_the_inventory_names_the_host_and_site() -> None:
    hostvars = {"web": {"tls_sites": [{**WWW, "aliases": ["-bad-.example.org"]}]}}
    with pytest.raises(AnsibleFilterError, match=r"web: tls_sites\[0\]\.aliases: '-bad-\.example\.org' is not"):
        tls_key_reads(["web"], hostvars)


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(AnsibleFilterError) as failure:
        tls_key_reads([], HOSTVARS, [{**MAIL, "cert": "x" * 500}])
    assert "x" * 80 not in str(failure.value)


KEY = {"kind": "current", "path": "/etc/ssl/mx.crt", "certificate": "CERT", "public_key": "PUB", "spki_sha256": "ab"}


def test_the_key_set_is_flat_and_names_the_host() -> None:
    registered = {"results": [
        {"item": {"host": "mx"}, "published": False,
         "services": [{"names": ["mx.example.org"], "port": 25, "proto": "tcp", "source": "services",
                       "keys": [KEY, {**KEY, "kind": "next", "certificate": None}]}]},
        {"item": {"host": "web"}, "published": True, "services": []},
    ]}
    keys = tls_key_set(registered)
    assert [(k["host"], k["names"], k["port"], k["kind"], k["source"]) for k in keys] == [
        ("mx", ["mx.example.org"], 25, "current", "services"), ("mx", ["mx.example.org"], 25, "next", "services")]
    assert tls_key_set(registered["results"]) == keys


def test_a_skipped_or_failed_read_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="without 'services'"):
        tls_key_set({"results": [{"item": {"host": "web"}, "skipped": True}]})
    with pytest.raises(AnsibleFilterError, match="registered result"):
        tls_key_set("text")


def test_a_service_may_ask_for_its_issuer_with_the_chain_to_find_it_in() -> None:
    [read] = tls_key_reads([], HOSTVARS, [{**MAIL, "chain": "/etc/ssl/mx-chain.pem", "issuer": True}, MAIL])
    assert [(s["issuer"], s["certificates"]) for s in read["services"]] == [
        (True, [{"cert": "/etc/ssl/mx.crt", "chain": "/etc/ssl/mx-chain.pem"}]),
        (False, [{"cert": "/etc/ssl/mx.crt"}])]
    with pytest.raises(AnsibleFilterError, match=r"services\[0\]\.issuer: must be true or false, got 'yes'"):
        tls_key_reads([], HOSTVARS, [{**MAIL, "issuer": "yes"}])
    with pytest.raises(AnsibleFilterError, match=r"services\[0\]\.chain: 'chain\.pem' is not an absolute path"):
        tls_key_reads([], HOSTVARS, [{**MAIL, "chain": "chain.pem"}])


MAIL_SECTION = {"domain": "Example.org.", "mta_sts_policy": "version: STSv1\nmode: enforce\n",
                "tls_rpt": ["mailto:tlsrpt@example.org"]}


def test_the_mail_sections_name_their_host() -> None:
    registered = {"results": [
        {"item": {"host": "mx"}, "services": [], "mail": [MAIL_SECTION]},
        {"item": {"host": "web"}, "services": []},
    ]}
    assert tls_key_mail(registered) == [{"host": "mx", "domain": "example.org",
                                         "mta_sts_policy": MAIL_SECTION["mta_sts_policy"],
                                         "tls_rpt": ["mailto:tlsrpt@example.org"]}]


@pytest.mark.parametrize(("section", "message"), [
    ("lab.test", "mx: published mail section 0 must be a mapping, got 'lab.test'"),
    ({**MAIL_SECTION, "domain": "bad_name"}, "mx: published mail section 0: domain: 'bad_name' is not a DNS name"),
    ({**MAIL_SECTION, "mta_sts_policy": 3}, "mta_sts_policy must be the policy text, got 3"),
    ({**MAIL_SECTION, "tls_rpt": "mailto:x@y"}, "tls_rpt must be a list of URIs, got 'mailto:x@y'"),
])
def test_a_bad_mail_section_is_refused_naming_the_host(section: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        tls_key_mail([{"item": {"host": "mx"}, "services": [], "mail": [section]}])
    with pytest.raises(AnsibleFilterError, match="without 'services'"):
        tls_key_mail([{"item": {"host": "mx"}, "skipped": True}])
