"""Unit tests for roles/tls_common/filter_plugins/tls_common.py: the site model shared by nginx_tls and apache_tls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pki_factory as pf
import pytest
import tls_common
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.bulwark_pem import encode as pem_encode
from tls_common import (effective_profile, name_matches, tls_pem_bundle, tls_published_fact, tls_server_config,
                        tls_site_model)

_ROLES = Path(__file__).resolve().parents[2] / "roles"

GUIDELINES = json.loads((_ROLES / "tls_common" / "vars" / "mozilla-server-side-tls-6.0.json").read_text())
GENERATOR = yaml.safe_load((_ROLES / "tls_common" / "vars" / "main.yml").read_text())["__tls_common_generator"]
LAB = "/etc/ssl/lab"
OCSP = "http://192.0.2.20:8080"


def cert_entry(stem: str) -> dict[str, str]:
    return {"cert": f"{LAB}/{stem}.crt", "key": f"{LAB}/{stem}.key", "chain": f"{LAB}/{stem}.chain.crt"}


def fake_chain_pem(stem: str) -> str:
    """A CERTIFICATE block whose body is one small DER SEQUENCE naming ``stem`` (the model never parses it)."""
    text = stem.encode()
    return pem_encode("CERTIFICATE", bytes([0x30, len(text) + 2, 0x0C, len(text)]) + text) + "\n"


def inspected(stem: str, key_type: str = "ecdsa", names: tuple[str, ...] = ("www.example.org", "example.org"),
              ocsp_uri: str | None = OCSP, errors: tuple[str, ...] = ()) -> dict[str, Any]:
    return {**cert_entry(stem), "key_type": key_type, "names": list(names), "ocsp_uri": ocsp_uri,
            "not_after": "2030-01-01T00:00:00+00:00", "expired": False, "errors": list(errors),
            "chain_pem": fake_chain_pem(stem)}


def www(**changes: Any) -> dict[str, Any]:
    site = {"name": "www.example.org", "aliases": ["example.org"], "certificates": [cert_entry("rsa"), cert_entry("ec")],
            "root": "/var/www/www.example.org"}
    site.update(changes)
    return site


def inspection(*entries: dict[str, Any], version: str = "3.5.1") -> dict[str, Any]:
    return {"openssl_version": version, "certificates": list(entries) or [inspected("rsa", "rsa"), inspected("ec")]}


def model(sites: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("inspection", inspection())
    return tls_site_model(sites, guidelines=GUIDELINES, generator=GENERATOR, **kwargs)


class TestProfile:
    def test_intermediate_renders_the_data_file(self) -> None:
        profile, notes = effective_profile("intermediate", GUIDELINES, GENERATOR, {}, "3.5.1")
        source = GUIDELINES["configurations"]["intermediate"]
        assert profile["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
        assert profile["ciphers"] == source["ciphers"]["openssl"]
        assert profile["ciphersuites"] == source["ciphersuites"]
        assert profile["groups"] == ["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"]
        assert profile["hsts_min_age"] == 63072000
        assert profile["server_preferred_order"] is False
        assert notes == []

    @pytest.mark.parametrize("version", ["3.0.19", "3.4.9", None])
    def test_mlkem_left_out_before_openssl_3_5(self, version: str | None) -> None:
        profile, notes = effective_profile("intermediate", GUIDELINES, GENERATOR, {}, version)
        assert profile["groups"] == ["X25519", "prime256v1", "secp384r1"]
        assert len(notes) == 1 and "X25519MLKEM768 left out" in notes[0] and "3.5" in notes[0]

    def test_modern_is_tls13_only(self) -> None:
        profile, _ = effective_profile("modern", GUIDELINES, GENERATOR, {}, "3.5.0")
        assert profile["tls_versions"] == ["TLSv1.3"]
        assert profile["ciphers"] == []
        assert profile["certificate_types"] == ["ecdsa"]

    def test_override_replaces_a_list_and_says_so(self) -> None:
        profile, notes = effective_profile("intermediate", GUIDELINES, GENERATOR,
                                           {"ciphers": ["ECDHE-RSA-AES256-GCM-SHA384"], "groups": None}, "3.5.0")
        assert profile["ciphers"] == ["ECDHE-RSA-AES256-GCM-SHA384"]
        assert profile["groups"][0] == "X25519MLKEM768"
        assert notes == ["tls_profile_overrides.ciphers replaces the profile's ciphers: ECDHE-RSA-AES256-GCM-SHA384"]

    def test_unknown_profile_and_override_key_are_refused(self) -> None:
        with pytest.raises(AnsibleFilterError, match="tls_profile: unknown profile 'old'"):
            effective_profile("old", GUIDELINES, GENERATOR, {}, "3.5.0")
        with pytest.raises(AnsibleFilterError, match="unknown key 'curves'"):
            effective_profile("intermediate", GUIDELINES, GENERATOR, {"curves": ["X25519"]}, "3.5.0")

    def test_override_tokens_cannot_inject_configuration(self) -> None:
        result = model([www()], overrides={"ciphers": ["HIGH; include /etc/passwd"]})
        assert any("tls_profile_overrides.ciphers: 'HIGH; include /etc/passwd'" in p for p in result["problems"])

    def test_a_cipher_name_the_server_may_reject_is_left_to_the_server(self) -> None:
        assert model([www()], overrides={"ciphers": ["NOT-A-CIPHER"]})["problems"] == []


class TestSiteDefaults:
    def test_good_site(self) -> None:
        result = model([www()])
        assert result["problems"] == []
        site = result["sites"][0]
        assert site["server_names"] == ["www.example.org", "example.org"]
        assert site["hsts"] == {"max_age": 63072000, "include_subdomains": False, "preload": False}
        assert site["hsts_header"] == "max-age=63072000"
        assert site["breach"] == "referer"
        assert site["ocsp_stapling"] is True
        assert [c["key_type"] for c in site["certificates"]] == ["rsa", "ecdsa"]

    def test_names_are_lower_cased_and_checked(self) -> None:
        result = model([www(name="WWW.Example.ORG")])
        assert result["sites"][0]["name"] == "www.example.org"
        bad = model([www(aliases=["example.org", "bad name;"])])
        assert any("'bad name;' is not a DNS name" in p for p in bad["problems"])

    def test_a_name_of_two_sites_is_refused(self) -> None:
        other = www(name="shop.example.org", aliases=["example.org"])
        result = model([www(), other], inspection=inspection(
            inspected("rsa", "rsa"), inspected("ec", names=("www.example.org", "example.org", "shop.example.org"))))
        assert "tls_sites: example.org belongs to two sites (www.example.org and shop.example.org)" in result["problems"]


class TestHsts:
    @pytest.mark.parametrize("hsts, missing", [
        ({"preload": True}, "hsts.include_subdomains: true"),
        ({"preload": True, "include_subdomains": True, "max_age": 86400}, "hsts.max_age >= 31536000 (is 86400)"),
    ])
    def test_preload_refused_unless_the_list_accepts_it(self, hsts: dict[str, Any], missing: str) -> None:
        problems = model([www(hsts=hsts)])["problems"]
        assert len(problems) == 1
        assert problems[0].startswith("tls_sites[0] (www.example.org): hsts.preload: true is refused")
        assert "hstspreload.org" in problems[0] and missing in problems[0]

    def test_preload_accepted_with_a_year_and_subdomains(self) -> None:
        result = model([www(hsts={"preload": True, "include_subdomains": True, "max_age": 31536000})])
        assert result["problems"] == []
        assert result["sites"][0]["hsts_header"] == "max-age=31536000; includeSubDomains; preload"


class TestOcspStapling:
    def test_auto_without_responder_is_off_and_says_why(self) -> None:
        result = model([www()], inspection=inspection(inspected("rsa", "rsa", ocsp_uri=None), inspected("ec", ocsp_uri=None)))
        site = result["sites"][0]
        assert site["ocsp_stapling"] is False and site["trusted_chain"] is None
        assert any("OCSP stapling off (ocsp_stapling: auto)" in n and "Let's Encrypt" in n for n in result["notes"])

    def test_auto_with_responder_is_on_and_names_it(self) -> None:
        result = model([www()])
        assert any("OCSP stapling on (auto)" in n and OCSP in n for n in result["notes"])

    def test_on_without_responder_is_refused(self) -> None:
        result = model([www(ocsp_stapling="on")],
                       inspection=inspection(inspected("rsa", "rsa"), inspected("ec", ocsp_uri=None)))
        assert any("ocsp_stapling: on, but /etc/ssl/lab/ec.crt names no OCSP responder" in p for p in result["problems"])

    def test_off_is_off(self) -> None:
        assert model([www(ocsp_stapling="off")])["sites"][0]["ocsp_stapling"] is False

    def test_two_chain_files_make_one_bundle_with_each_certificate_once(self) -> None:
        rsa, ec = inspected("rsa", "rsa"), inspected("ec")
        ec["chain_pem"] = rsa["chain_pem"]
        result = model([www()], inspection=inspection(rsa, ec))
        site = result["sites"][0]
        assert site["trusted_chain"] == "/etc/ssl/bulwark/www.example.org.chains.pem"
        assert result["bundles"] == [{"path": site["trusted_chain"], "content": rsa["chain_pem"]}]

    def test_one_chain_file_is_used_as_it_is(self) -> None:
        site = www(certificates=[cert_entry("ec")])
        result = model([site], inspection=inspection(inspected("ec")))
        assert result["sites"][0]["trusted_chain"] == f"{LAB}/ec.chain.crt"
        assert result["bundles"] == []


class TestCertificates:
    def test_inspection_errors_name_the_site_and_the_entry(self) -> None:
        broken = inspected("ec", errors=("key /etc/ssl/lab/ec.key does not match cert /etc/ssl/lab/ec.crt",))
        problems = model([www()], inspection=inspection(inspected("rsa", "rsa"), broken))["problems"]
        assert problems == ["tls_sites[0] (www.example.org): certificates[1]: key /etc/ssl/lab/ec.key does not match "
                            "cert /etc/ssl/lab/ec.crt"]

    def test_certificate_must_cover_every_name(self) -> None:
        narrow = inspected("ec", names=("www.example.org",))
        problems = model([www()], inspection=inspection(inspected("rsa", "rsa"), narrow))["problems"]
        assert problems == ["tls_sites[0] (www.example.org): certificates[1].cert /etc/ssl/lab/ec.crt does not cover "
                            "example.org (its names: www.example.org)"]

    def test_two_certificates_of_one_key_type_are_refused(self) -> None:
        problems = model([www()], inspection=inspection(inspected("rsa", "rsa"), inspected("ec", "rsa")))["problems"]
        assert any("a second rsa certificate" in p for p in problems)

    def test_no_certificate_is_refused(self) -> None:
        assert any("at least one {cert, key, chain}" in p for p in model([www(certificates=[])])["problems"])

    def test_modern_without_ecdsa_is_noted(self) -> None:
        site = www(certificates=[cert_entry("rsa")])
        result = model([site], profile="modern", inspection=inspection(inspected("rsa", "rsa")))
        assert any("expects an ECDSA certificate" in n for n in result["notes"])

    @pytest.mark.parametrize("name, pattern, covered", [
        ("www.example.org", "www.example.org", True),
        ("WWW.example.org.", "www.example.org", True),
        ("a.example.org", "*.example.org", True),
        ("example.org", "*.example.org", False),
        ("a.b.example.org", "*.example.org", False),
        ("*.example.org", "*.example.org", True),
    ])
    def test_name_matching(self, name: str, pattern: str, covered: bool) -> None:
        assert name_matches(name, pattern) is covered


class TestContent:
    @pytest.mark.parametrize("changes, text", [
        ({"root": None}, "give exactly one of root"),
        ({"upstream": "http://127.0.0.1:8080"}, "give exactly one of root"),
        ({"root": "/var/www/x; return 200"}, "root: '/var/www/x; return 200' is not an absolute path"),
        ({"root": None, "upstream": "ftp://x"}, "upstream: 'ftp://x' is not an http:// or https:// URL"),
    ])
    def test_root_or_upstream(self, changes: dict[str, Any], text: str) -> None:
        assert any(text in p for p in model([www(**changes)])["problems"])

    def test_upstream_forms(self) -> None:
        for url in ("http://127.0.0.1:8081", "https://app.internal/base/", "http://[::1]:9000"):
            assert model([www(root=None, upstream=url)])["problems"] == []

    def test_acme_root_is_checked(self) -> None:
        assert any(p.startswith("tls_acme_root:") for p in model([www()], acme_root="relative/dir")["problems"])


class TestArgumentSpecsAgreeWithDefaults:
    """meta/argument_specs.yml and defaults/main.yml say the same, for every TLS role."""

    @pytest.mark.parametrize("role", ["tls_common", "nginx_tls", "apache_tls"])
    def test_top_level(self, role: str) -> None:
        defaults = yaml.safe_load((_ROLES / role / "defaults" / "main.yml").read_text()) or {}
        options = yaml.safe_load((_ROLES / role / "meta" / "argument_specs.yml").read_text())[
            "argument_specs"]["main"]["options"]
        assert set(defaults) == set(options)
        for name, spec in options.items():
            assert spec.get("default") == defaults[name], name

    def test_site_suboption_defaults_are_the_filters(self) -> None:
        options = yaml.safe_load((_ROLES / "tls_common" / "meta" / "argument_specs.yml").read_text())[
            "argument_specs"]["main"]["options"]["tls_sites"]["options"]
        declared = {k: v["default"] for k, v in options.items() if "default" in v}
        assert declared == tls_common.SITE_DEFAULTS
        hsts = {k: v["default"] for k, v in options["hsts"]["options"].items() if "default" in v}
        assert hsts == tls_common.HSTS_DEFAULTS
        acme = {k: v["default"] for k, v in options["acme"]["options"].items() if "default" in v}
        assert acme == tls_common.ACME_DEFAULTS


class TestPemBundle:
    def test_each_certificate_once(self) -> None:
        a = pf.cert_pem(pf.make_cert(pf.new_key("p256"))).strip()
        b = pf.cert_pem(pf.make_cert(pf.new_key("ed25519"))).strip()
        assert tls_pem_bundle([a + "\n" + b, b.replace("\n", "\r\n") + "\r\n", a]) == f"{a}\n{b}\n"

    def test_keys_are_not_bundled(self) -> None:
        with pytest.raises(AnsibleFilterError):
            tls_pem_bundle(["-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])


class TestNextKey:
    def test_a_staged_key_is_kept_in_the_model(self) -> None:
        site = www(certificates=[{**cert_entry("rsa"), "next_key": "/etc/ssl/lab/next.key"}, cert_entry("ec")])
        certificates = model([site])["sites"][0]["certificates"]
        assert [c["next_key"] for c in certificates] == ["/etc/ssl/lab/next.key", None]

    def test_a_next_key_that_is_no_absolute_path_is_refused(self) -> None:
        site = www(certificates=[{**cert_entry("rsa"), "next_key": "next.key"}, cert_entry("ec")])
        assert "tls_sites[0] (www.example.org): certificates[0].next_key: 'next.key' is not an absolute path" in \
            " ".join(model([site])["problems"])


API = {"name": "api.example.org", "certificates": [cert_entry("api")], "upstream": "http://127.0.0.1:8080"}


def two_sites() -> dict[str, Any]:
    return model([www(), API], inspection=inspection(inspected("rsa", "rsa"), inspected("ec"),
                                                     inspected("api", names=("api.example.org",))),
                 acme_root="/var/www/acme")


class TestServerConfig:
    """What nginx_tls and apache_tls hand to config_apply, from one function."""

    def test_one_file_per_site_and_the_server_files_first(self) -> None:
        own = [{"path": "/etc/nginx/snippets/bulwark-tls.conf", "content": "tls"}]
        config = tls_server_config(two_sites(), ["www", "api"], "/etc/nginx/conf.d/bulwark-site-{id}.conf",
                                   files=own, absent=["/etc/nginx/sites-enabled/default"],
                                   directories=["/etc/nginx/snippets"], server="nginx")
        assert [(f["path"], f["content"]) for f in config["files"][:3]] == [
            ("/etc/nginx/snippets/bulwark-tls.conf", "tls"),
            ("/etc/nginx/conf.d/bulwark-site-www.example.org.conf", "www"),
            ("/etc/nginx/conf.d/bulwark-site-api.example.org.conf", "api")]
        assert config["links"] == []
        assert config["exclusive"] == ["/etc/nginx/conf.d/bulwark-site-*.conf"]
        assert config["absent"] == ["/etc/nginx/sites-enabled/default"]
        assert config["directories"] == ["/etc/nginx/snippets", "/var/www/acme/.well-known/acme-challenge",
                                          "/etc/ssl/bulwark", "/etc/ansible/facts.d"]

    def test_site_links_are_relative_as_a2ensite_makes_them(self) -> None:
        config = tls_server_config(two_sites(), ["www", "api"], "/etc/apache2/sites-available/bulwark-{id}.conf",
                                   site_link="/etc/apache2/sites-enabled/bulwark-{id}.conf",
                                   links=[{"path": "/etc/apache2/conf-enabled/x.conf", "src": "../conf-available/x.conf"}])
        assert config["links"] == [
            {"path": "/etc/apache2/conf-enabled/x.conf", "src": "../conf-available/x.conf"},
            {"path": "/etc/apache2/sites-enabled/bulwark-www.example.org.conf",
             "src": "../sites-available/bulwark-www.example.org.conf"},
            {"path": "/etc/apache2/sites-enabled/bulwark-api.example.org.conf",
             "src": "../sites-available/bulwark-api.example.org.conf"}]
        assert config["exclusive"] == ["/etc/apache2/sites-available/bulwark-*.conf",
                                       "/etc/apache2/sites-enabled/bulwark-*.conf"]

    def test_without_contents_the_layout_is_the_same_and_no_site_file_is_written(self) -> None:
        args = {"site_file": "/etc/apache2/sites-available/bulwark-{id}.conf",
                "site_link": "/etc/apache2/sites-enabled/bulwark-{id}.conf", "server": "apache"}
        full = tls_server_config(two_sites(), ["www", "api"], **args)
        layout = tls_server_config(two_sites(), None, **args)
        assert {k: v for k, v in layout.items() if k != "files"} == {k: v for k, v in full.items() if k != "files"}
        assert not [f for f in layout["files"] if "sites-available" in f["path"]]

    def test_the_published_fact_is_one_of_the_files(self) -> None:
        config = tls_server_config(two_sites(), ["www", "api"], "/etc/nginx/conf.d/bulwark-site-{id}.conf",
                                   server="nginx")
        fact = config["files"][-1]
        assert fact["path"] == "/etc/ansible/facts.d/bulwark_tls.fact" and fact["mode"] == "0644"
        assert json.loads(fact["content"]) == tls_published_fact(two_sites(), "nginx")

    def test_bundles_and_their_directory_come_with_the_sites(self) -> None:
        site = www(certificates=[cert_entry("rsa"), {**cert_entry("ec"), "chain": f"{LAB}/other.chain.crt"}])
        ec = {**inspected("ec"), "chain": f"{LAB}/other.chain.crt",
              "chain_pem": "-----BEGIN CERTIFICATE-----\nT1RIRVI=\n-----END CERTIFICATE-----\n"}
        stapled = model([site], inspection=inspection(inspected("rsa", "rsa"), ec), bundle_dir="/b")
        config = tls_server_config(stapled, ["www"], "/etc/nginx/conf.d/bulwark-site-{id}.conf")
        assert [f["path"] for f in config["files"]] == ["/etc/nginx/conf.d/bulwark-site-www.example.org.conf",
                                                       "/b/www.example.org.chains.pem",
                                                       "/etc/ansible/facts.d/bulwark_tls.fact"]
        assert "/b" in config["directories"]

    @pytest.mark.parametrize(("args", "message"), [
        (({"sites": "x"}, [], "/a/{id}"), "the input must be the site model"),
        ((None, [], "/a/{id}"), "the input must be the site model"),
        (("model", ["only one"], "/a/{id}.conf"), r"one rendered file per site \(2\)"),
        (("model", "www", "/a/{id}.conf"), "site_contents must list"),
        (("model", ["a", "b"], "/a/site.conf"), "site_file must be an absolute path with one '{id}'"),
        (("model", ["a", "b"], "relative/{id}.conf"), "site_file must be"),
        (("model", ["a", "b"], "/a/{id}{id}.conf"), "site_file must be"),
    ])
    def test_bad_layouts_are_refused(self, args: tuple[Any, ...], message: str) -> None:
        args = (two_sites() if args[0] == "model" else args[0], *args[1:])
        with pytest.raises(AnsibleFilterError, match=message):
            tls_server_config(*args)


class TestPublishedFact:
    def test_names_ports_and_paths_of_every_site(self) -> None:
        fact = tls_published_fact(two_sites(), "apache")
        assert fact["schema"] == 1 and fact["server"] == "apache" and fact["acme_root"] == "/var/www/acme"
        www_site = fact["sites"][0]
        assert (www_site["name"], www_site["names"], www_site["port"], www_site["proto"], www_site["http_port"]) == (
            "www.example.org", ["www.example.org", "example.org"], 443, "tcp", 80)
        assert www_site["certificates"][0] == {**cert_entry("rsa"), "next_key": None, "key_type": "rsa"}

    def test_nothing_that_changes_on_renewal(self) -> None:
        text = json.dumps(tls_published_fact(two_sites(), "nginx"))
        assert "not_after" not in text and "ocsp" not in text

    def test_the_fact_is_what_the_key_reader_reads(self) -> None:
        # roles/shared/library/tls_public_keys.py reads the sites as services: names, port, proto, certificates.
        import tls_public_keys

        for site in tls_published_fact(two_sites(), "nginx")["sites"]:
            assert {"names", "port", "proto", "certificates"} <= set(site)
        assert tls_public_keys.FACT_SCHEMA == tls_common.FACT_SCHEMA


class TestAcmeSites:
    """Sites with `acme:` get acme_certificates' files; until they exist the site is served over HTTP only."""

    ACME = "/etc/ssl/acme"

    def site(self, **acme: Any) -> dict[str, Any]:
        return {"name": "static.example.org", "acme": {"key_types": ["ecdsa", "rsa"], **acme}, "root": "/var/www/s"}

    def files(self, key_type: str) -> dict[str, str]:
        base = f"{self.ACME}/static.example.org/{key_type}"
        return {"cert": f"{base}.fullchain.crt", "key": f"{base}.key", "chain": f"{base}.chain.crt"}

    def looked(self, key_type: str, **over: Any) -> dict[str, Any]:
        return {**self.files(key_type), "key_type": key_type, "names": ["static.example.org"], "ocsp_uri": None,
                "not_after": "2030-01-01T00:00:00+00:00", "expired": False, "errors": [], "chain_pem": "", **over}

    def test_the_inspection_gets_the_acme_files_of_every_key_type(self) -> None:
        assert tls_common.tls_site_certificates([self.site(), www()]) == [
            self.files("ecdsa"), self.files("rsa"), cert_entry("rsa"), cert_entry("ec")]

    def test_a_new_host_serves_the_site_over_http_only_until_the_certificates_exist(self) -> None:
        missing = "cert /etc/ssl/acme/static.example.org/ecdsa.fullchain.crt does not exist"
        result = model([self.site()], inspection=inspection(self.looked("ecdsa", errors=[missing]),
                                                            self.looked("rsa", errors=[missing])))
        assert result["problems"] == []
        [site] = result["sites"]
        assert site["pending"] and site["certificates"] == [] and result["acme_missing"] == 2
        assert any("not served yet" in note for note in result["notes"])
        fact = tls_published_fact(result, "nginx")
        assert fact["sites"][0]["certificates"] == []

    def test_certificates_that_exist_are_served_with_their_rollover_keys_published(self) -> None:
        result = model([self.site()], inspection=inspection(self.looked("ecdsa"), self.looked("rsa")))
        [site] = result["sites"]
        assert not site["pending"] and result["acme_missing"] == 0
        assert [c["cert"] for c in site["certificates"]] == [self.files("ecdsa")["cert"], self.files("rsa")["cert"]]
        [published] = tls_published_fact(result, "nginx")["sites"]
        assert published["certificates"][0]["rollover_keys"] == [
            f"{self.ACME}/static.example.org/ecdsa.next.pub", f"{self.ACME}/static.example.org/ecdsa.previous.pub"]

    def test_the_acme_role_gets_one_entry_per_site_with_its_names_and_port(self) -> None:
        sites = [{**self.site(challenge="dns-01"), "aliases": ["cdn.example.org"]}, {**self.site(dane=False),
                                                                                   "name": "*.example.net"}]
        result = model(sites, inspection=inspection())
        assert tls_common.tls_acme_certificates(result, "nginx", ["nginx", "-t"]) == [
            {"name": "static.example.org", "domains": ["static.example.org", "cdn.example.org"],
             "key_types": ["ecdsa", "rsa"], "challenge": "dns-01", "service": "nginx", "test_command": ["nginx", "-t"],
             "tlsa": [{"port": 443, "proto": "tcp"}]},
            {"name": "_wildcard.example.net", "domains": ["*.example.net"], "key_types": ["ecdsa", "rsa"],
             "challenge": "http-01", "service": "nginx", "test_command": ["nginx", "-t"], "tlsa": []}]
        assert any("*.example.net is a wildcard, which only dns-01 can prove" in p for p in result["problems"])

    @pytest.mark.parametrize(("acme", "site", "expected"), [
        ({"key_types": ["dsa"]}, {}, "acme.key_types: 'dsa' is unknown; use ecdsa, rsa"),
        ({"challenge": "tls-alpn-01"}, {}, "acme.challenge: 'tls-alpn-01' is not one of http-01, dns-01"),
        ({"colour": "blue"}, {}, "acme: unknown key 'colour'"),
        ({}, {"certificates": [cert_entry("rsa")]}, "give certificates or acme, not both"),
    ])
    def test_bad_acme_input_is_refused_naming_the_site(self, acme: dict[str, Any], site: dict[str, Any],
                                                      expected: str) -> None:
        problems = model([{**self.site(**acme), **site}], inspection=inspection())["problems"]
        assert any(p.startswith("tls_sites[0] (static.example.org): ") and expected in p for p in problems), problems
