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
from tls_common import effective_profile, name_matches, tls_pem_bundle, tls_site_model

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


class TestPemBundle:
    def test_each_certificate_once(self) -> None:
        a = pf.cert_pem(pf.make_cert(pf.new_key("p256"))).strip()
        b = pf.cert_pem(pf.make_cert(pf.new_key("ed25519"))).strip()
        assert tls_pem_bundle([a + "\n" + b, b.replace("\n", "\r\n") + "\r\n", a]) == f"{a}\n{b}\n"

    def test_keys_are_not_bundled(self) -> None:
        with pytest.raises(AnsibleFilterError):
            tls_pem_bundle(["-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
