"""Unit tests for roles/ct_monitor/filter_plugins/ct_monitor.py: what the monitor watches, which keys are ours,
and the checks of the role's settings (each error names the variable and the value)."""

from __future__ import annotations

import hashlib
from typing import Any

import pki_factory as pf
import pytest
from ansible.errors import AnsibleFilterError

from ct_monitor import FilterModule, ct_monitor_config, ct_monitor_known_keys, ct_monitor_sources, ct_monitor_watchlist

SITES = {
    "web": [
        {"name": "www.lab.test", "aliases": ["lab.test"],
         "certificates": [{"cert": "/etc/ssl/www-rsa.crt", "key": "/etc/ssl/www-rsa.key",
                           "next_key": "/etc/ssl/www-rsa.next.key"},
                          {"cert": "/etc/ssl/www-ecdsa.crt", "key": "/etc/ssl/www-ecdsa.key"}]},
        {"name": "*.apps.lab.test", "certificates": [{"cert": "/etc/ssl/apps.crt", "key": "/etc/ssl/apps.key"}]},
    ],
    "empty": [],
}
SERVICE = {"host": "mx", "name": "mail.lab.test", "port": 25, "cert": "/etc/ssl/mail.crt",
           "next_key": "/etc/ssl/mail.next.key"}


def _config(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"email_from": "", "webhook": "", "log_list": "/etc/ct/list.json",
                                "alert_log": "/var/log/ct_monitor/alerts.jsonl", "caa": [], "ca_domains": [],
                                "public_ca_domains": [{"issuer": "Let's Encrypt", "caa": ["letsencrypt.org"]}]}
    settings.update(overrides)
    email = settings.pop("email", [])
    return ct_monitor_config(email, **settings)


def test_the_filters_are_exported() -> None:
    assert set(FilterModule().filters()) == {"ct_monitor_sources", "ct_monitor_watchlist", "ct_monitor_known_keys",
                                             "ct_monitor_config"}


def test_sources_cover_sites_services_and_staged_keys_once() -> None:
    # Two name servers carry the same services: the files are read once.
    sources = ct_monitor_sources(SITES, {"ns1": [SERVICE], "ns2": [SERVICE]})
    assert [(s["host"], s["path"], s["next_key"]) for s in sources] == [
        ("mx", "/etc/ssl/mail.crt", False), ("mx", "/etc/ssl/mail.next.key", True),
        ("web", "/etc/ssl/apps.crt", False), ("web", "/etc/ssl/www-ecdsa.crt", False),
        ("web", "/etc/ssl/www-rsa.crt", False), ("web", "/etc/ssl/www-rsa.next.key", True)]
    assert sources[-1]["names"] == ["lab.test", "www.lab.test"]


def test_the_watch_list_has_every_name_wildcards_as_trees_and_the_extras() -> None:
    sources = ct_monitor_sources(SITES, {"ns": [SERVICE]})
    assert ct_monitor_watchlist(sources, ["Shop.Lab.Test."], ["dev.lab.test"]) == [
        "lab.test", ".apps.lab.test", ".dev.lab.test", "mail.lab.test", "shop.lab.test", "www.lab.test"]


@pytest.mark.parametrize(("extra", "subdomains", "message"), [
    (["bad..name"], [], "ct_monitor_extra_domains: 'bad..name' is not a valid DNS name (it has an empty label)"),
    (["*.lab.test"], [], "ct_monitor_extra_domains: '*.lab.test' is not a valid DNS name"),
    ([], ["-x.lab.test"], "ct_monitor_subdomains: '-x.lab.test' is not a valid DNS name"),
    ("lab.test", [], "ct_monitor_extra_domains must be a list, got 'lab.test'"),
    ([42], [], "ct_monitor_extra_domains: 42 is not a DNS name"),
])
def test_bad_names_are_refused_naming_the_variable_and_value(extra: Any, subdomains: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        ct_monitor_watchlist([], extra, subdomains)
    assert message in str(caught.value)


def test_nothing_to_watch_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="nothing to watch"):
        ct_monitor_watchlist([], [], [])


def test_bad_site_and_service_data_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match=r"tls_sites of web\[0\].name: 'www\.\.lab' is not a valid DNS name"):
        ct_monitor_sources({"web": [{"name": "www..lab", "certificates": []}]}, {})
    with pytest.raises(AnsibleFilterError, match=r"dns_records_services of ns\[0\].cert: 'relative.crt' is not an"):
        ct_monitor_sources({}, {"ns": [dict(SERVICE, cert="relative.crt")]})


def test_known_keys_map_each_digest_to_where_it_was_read() -> None:
    key_a, key_b = pf.new_key("p256"), pf.new_key("p256")
    digest_a = hashlib.sha256(pf.spki_der(key_a)).hexdigest()
    digest_b = hashlib.sha256(pf.spki_der(key_b)).hexdigest()
    results = [
        {"item": "mx", "files": [{"path": "/b.crt", "next_key": False, "public": pf.cert_pem(pf.make_cert(key_a))}]},
        {"item": "web", "files": [{"path": "/a.crt", "next_key": False, "public": pf.cert_pem(pf.make_cert(key_a))},
                                  {"path": "/a.next", "next_key": True, "public": pf.public_pem(key_b)}]},
    ]
    base = _config(extra_keys=["C" * 64])["known_keys"]
    assert ct_monitor_known_keys(results, base) == {
        digest_a: ["mx:/b.crt", "web:/a.crt"], digest_b: ["web:/a.next (staged next key)"],
        "c" * 64: ["ct_monitor_extra_keys"]}


def test_the_config_carries_the_channels_the_caa_policy_and_the_issuer_table() -> None:
    config = _config(email=["security@lab.test", "root@localhost"], webhook="https://hooks.lab.test/ct",
                     caa=[{"domain": "Lab.Test.", "issue": ["pki.lab.test"]}, {"domain": "lab.test", "issue": []},
                          {"domain": "www.lab.test", "issuewild": []}],
                     ca_domains=[{"issuer": "Bulwark Lab CA", "caa": ["pki.lab.test"]}])
    assert config["email"] == ["security@lab.test", "root@localhost"]
    assert config["caa"] == [{"domain": "lab.test", "issue": ["pki.lab.test"], "issuewild": None},
                             {"domain": "www.lab.test", "issue": None, "issuewild": []}]
    assert [e["issuer"] for e in config["ca_domains"]] == ["Bulwark Lab CA", "Let's Encrypt"]
    assert (config["smtp_host"], config["smtp_port"], config["known_keys"]) == ("127.0.0.1", 25, {})


@pytest.mark.parametrize(("setting", "message"), [
    ({"webhook": "http://hooks.lab.test/s3cret"},
     "ct_monitor_webhook must be an https:// URL (alerts must not travel in clear, nor a token in the URL), got "
     "'http://hooks.lab.test/...'"),
    ({"webhook": "hooks.lab.test"}, "ct_monitor_webhook must be an https:// URL"),
    ({"email": ["security"]}, "ct_monitor_email: 'security' is not a mail address"),
    ({"email": ["a b@lab.test"]}, "ct_monitor_email: 'a b@lab.test' is not a mail address"),
    ({"email": "security@lab.test"}, "ct_monitor_email must be a list"),
    ({"email_from": "ct monitor"}, "ct_monitor_email_from: 'ct monitor' is not a mail address"),
    ({"log_list": "http://loglist.example/list.json"}, "ct_monitor_log_list must be an https:// URL or an absolute"),
    ({"log_list": "/etc/ct/my list.json"}, "ct_monitor_log_list must be an absolute file path"),
    ({"alert_log": "alerts.jsonl"}, "ct_monitor_alert_log must be an absolute file path"),
    ({"extra_keys": ["abc"]}, "ct_monitor_extra_keys[0]: 'abc' is not a hex SHA-256"),
    ({"ca_domains": [{"issuer": "X"}]}, "ct_monitor_ca_domains[0] (X) must list the CAA issuer domain(s)"),
    ({"ca_domains": [{"issuer": "X", "caa": ["not a domain"]}]}, "ct_monitor_ca_domains[0].caa: 'not a domain'"),
    ({"caa": [{"domain": "lab.test", "issue": ["bad_ca"]}]}, "dns_records_caa[0].issue: 'bad_ca' is not a valid"),
])
def test_bad_settings_are_refused_naming_the_variable_and_value(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        _config(**setting)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)
