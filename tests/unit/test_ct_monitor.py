"""Unit tests for roles/ct_monitor/filter_plugins/ct_monitor.py: what the monitor watches, which keys are ours,
and the checks of the role's settings (each error names the variable and the value)."""

from __future__ import annotations

import hashlib
from typing import Any

import pki_factory as pf
import pytest
from ansible.errors import AnsibleFilterError

from ct_monitor import FilterModule, ct_monitor_config, ct_monitor_known_keys, ct_monitor_watchlist
from pinning import spki_sha256
from tls_keys import tls_key_reads, tls_key_set

SITES = [
    {"name": "www.lab.test", "aliases": ["lab.test"],
     "certificates": [{"cert": "/etc/ssl/www-rsa.crt", "key": "/etc/ssl/www-rsa.key",
                       "next_key": "/etc/ssl/www-rsa.next.key"},
                      {"cert": "/etc/ssl/www-ecdsa.crt", "key": "/etc/ssl/www-ecdsa.key"}]},
    {"name": "*.apps.lab.test", "certificates": [{"cert": "/etc/ssl/apps.crt", "key": "/etc/ssl/apps.key"}]},
]
SERVICE = {"host": "mx", "name": "mail.lab.test", "port": 25, "cert": "/etc/ssl/mail.crt",
           "next_key": "/etc/ssl/mail.next.key"}


def _key(host: str, names: list[str], path: str, digest: str, kind: str = "current") -> dict[str, Any]:
    """One entry of the shared key set, as tls_key_set returns it."""
    return {"host": host, "names": names, "port": 443, "proto": "tcp", "source": "fallback", "kind": kind,
            "path": path, "certificate": None, "public_key": "PUB", "spki_sha256": digest}


KEYS = [_key("web", ["www.lab.test", "lab.test"], "/etc/ssl/www-rsa.crt", "a" * 64),
        _key("web", ["www.lab.test", "lab.test"], "/etc/ssl/www-rsa.next.key", "b" * 64, "next"),
        _key("web", ["*.apps.lab.test"], "/etc/ssl/apps.crt", "c" * 64),
        _key("mx", ["mail.lab.test"], "/etc/ssl/mail.crt", "A" * 64)]


def _config(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"email_from": "", "webhook": "", "log_list": "/etc/ct/list.json",
                                "alert_log": "/var/log/ct_monitor/alerts.jsonl", "caa": [], "ca_domains": [],
                                "public_ca_domains": [{"issuer": "Let's Encrypt", "caa": ["letsencrypt.org"]}]}
    settings.update(overrides)
    email = settings.pop("email", [])
    return ct_monitor_config(email, **settings)


def test_the_filters_are_exported() -> None:
    assert set(FilterModule().filters()) == {"ct_monitor_watchlist", "ct_monitor_known_keys", "ct_monitor_config"}


def test_the_reads_cover_every_site_service_and_staged_key() -> None:
    """ct_monitor reads the shared key set: tls_sites of the TLS hosts and dns_records_services, staged keys too."""
    reads = tls_key_reads(["web"], {"web": {"tls_sites": SITES}, "mx": {}}, [SERVICE, SERVICE],
                          hosts_var="ct_monitor_tls_hosts", services_var="dns_records_services")
    files = {(read["host"], certificate[kind]) for read in reads for service in read["services"] + read["fallback"]
             for certificate in service["certificates"] for kind in ("cert", "next_key") if kind in certificate}
    assert files == {("web", "/etc/ssl/www-rsa.crt"), ("web", "/etc/ssl/www-rsa.next.key"),
                     ("web", "/etc/ssl/www-ecdsa.crt"), ("web", "/etc/ssl/apps.crt"), ("mx", "/etc/ssl/mail.crt"),
                     ("mx", "/etc/ssl/mail.next.key")}


def test_the_watch_list_has_every_name_wildcards_as_trees_and_the_extras() -> None:
    assert ct_monitor_watchlist(KEYS, ["Shop.Lab.Test."], ["dev.lab.test"]) == [
        "lab.test", ".apps.lab.test", ".dev.lab.test", "mail.lab.test", "shop.lab.test", "www.lab.test"]


@pytest.mark.parametrize(("extra", "subdomains", "message"), [
    (["bad..name"], [], "ct_monitor_extra_domains: 'bad..name' is not a DNS name (it has an empty label)"),
    (["*.lab.test"], [], "ct_monitor_extra_domains: '*.lab.test' is not a DNS name"),
    ([], ["-x.lab.test"], "ct_monitor_subdomains: '-x.lab.test' is not a DNS name"),
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


def test_a_key_set_that_is_not_one_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match=r"the key set\[0\] must be an entry of tls_key_set"):
        ct_monitor_watchlist(["www.lab.test"])
    with pytest.raises(AnsibleFilterError, match=r"the key set\[0\]\.spki_sha256: 'xyz' is not a hex SHA-256"):
        ct_monitor_known_keys([{**KEYS[0], "spki_sha256": "xyz"}])


def test_known_keys_map_each_digest_to_where_it_was_read() -> None:
    base = _config(extra_keys=["C" * 64])["known_keys"]
    assert ct_monitor_known_keys(KEYS + KEYS[:1], base) == {
        "a" * 64: ["mx:/etc/ssl/mail.crt", "web:/etc/ssl/www-rsa.crt"],
        "b" * 64: ["web:/etc/ssl/www-rsa.next.key (staged next key)"],
        "c" * 64: ["ct_monitor_extra_keys", "web:/etc/ssl/apps.crt"]}


def test_the_known_keys_are_the_spki_digests_of_the_shared_reader_and_filter(tmp_path: Any) -> None:
    """What tls_public_keys reads on a host is what spki_sha256 (the TLSA 3 1 1 data) and certspotter compute."""
    import subprocess

    import tls_public_keys

    def run(argv: Any, data: bytes | None) -> tuple[int, bytes, bytes]:
        proc = subprocess.run(list(argv), input=data, capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    pki = pf.make_pki("p256")
    staged = pf.new_key("rsa2048", slot=1)
    (tmp_path / "chain.pem").write_text(pki.chain_pem)
    (tmp_path / "next.key").write_text(pf.private_pem(staged))
    fallback = [{"names": ["www.lab.test"], "port": 443, "proto": "tcp",
                 "certificates": [{"cert": str(tmp_path / "chain.pem"), "next_key": str(tmp_path / "next.key")}]}]
    result = tls_public_keys.read_all([], fallback, "", run, "openssl")
    known = ct_monitor_known_keys(tls_key_set([{**result, "item": {"host": "web"}}]))
    assert known == {spki_sha256(pki.leaf_pem): [f"web:{tmp_path}/chain.pem"],
                     spki_sha256(pf.public_pem(staged)): [f"web:{tmp_path}/next.key (staged next key)"]}
    assert spki_sha256(pki.leaf_pem) == hashlib.sha256(pf.spki_der(pki.leaf_key)).hexdigest()


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
    ({"ca_domains": [{"issuer": "X"}]}, "ct_monitor_ca_domains[0] ('X') must list the CAA issuer domain(s)"),
    ({"ca_domains": [{"issuer": "X", "caa": ["not a domain"]}]}, "ct_monitor_ca_domains[0].caa: 'not a domain'"),
    ({"caa": [{"domain": "lab.test", "issue": ["bad_ca"]}]}, "dns_records_caa[0].issue: 'bad_ca' is not a DNS name"),
    ({"log_list": "https://loglist.example/%h.json"}, "ct_monitor_log_list must not contain any of"),
    ({"webhook": "https://[::1/x"}, "ct_monitor_webhook must be an https:// URL"),
])
def test_bad_settings_are_refused_naming_the_variable_and_value(setting: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        _config(**setting)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)
