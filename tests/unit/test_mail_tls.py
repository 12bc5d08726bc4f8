"""Unit tests for roles/mail_tls/filter_plugins/mail_tls.py: main.cf and master.cf merges, the mail model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mail_tls import mail_tls_model, postfix_main_cf, postfix_master_cf, submission_services
from tls_common import tls_site_model

ROLES = Path(__file__).resolve().parents[2] / "roles"
GUIDELINES = json.loads((ROLES / "tls_common" / "vars" / "mozilla-server-side-tls-6.0.json").read_text())
GENERATOR = {"session_timeout": 86400, "session_tickets_off_before_nginx": "1.23.2",
             "group_min_openssl": {"X25519MLKEM768": "3.5"}}

MAIN_CF = """# See /usr/share/postfix/main.cf.dist
smtpd_banner = $myhostname ESMTP
smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level=may
mydestination = $myhostname,
    localhost
smtpd_tls_security_level = encrypt
"""

MASTER_CF = """smtp      inet  n       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
smtps     inet  n       -       y       -       -       smtpd
  -o smtpd_tls_wrappermode=yes
465       inet  n       -       y       -       -       smtpd
pickup    unix  n       -       y       60      1       pickup
"""

OPTIONS = {"hostname": "mx.example.org", "submission": True, "sasl_type": "dovecot", "sasl_path": "private/auth",
           "dane": True, "mta_sts_dir": "/var/www/mta-sts", "mta_sts_mode": "enforce", "mta_sts_max_age": 604800,
           "mta_sts_mx": [], "domain": "example.org", "tls_rpt": ["mailto:tlsrpt@example.org"], "tlsa_issuer": True,
           "dovecot": True}


def test_main_cf_sets_each_parameter_once_and_keeps_the_rest() -> None:
    merged = postfix_main_cf(MAIN_CF, {"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": None,
                                       "tls_ssl_options": "NO_COMPRESSION"})
    lines = merged.splitlines()
    assert lines[0] == "# See /usr/share/postfix/main.cf.dist"
    assert [line for line in lines if line.startswith("smtpd_tls_security_level")] == ["smtpd_tls_security_level = may"]
    assert not any(line.startswith("smtpd_tls_cert_file") for line in lines)
    assert "mydestination = $myhostname,\n    localhost" in merged
    assert lines[-1] == "tls_ssl_options = NO_COMPRESSION"
    # A second merge changes nothing (the role's re-run is a no-op).
    assert postfix_main_cf(merged, {"smtpd_tls_security_level": "may", "tls_ssl_options": "NO_COMPRESSION"}) == merged


def test_master_cf_owns_the_submission_ports() -> None:
    services = submission_services(OPTIONS)
    merged = postfix_master_cf(MASTER_CF, services)
    lines = merged.splitlines()
    assert "#submission inet n       -       y       -       -       smtpd" in lines
    assert sum(line.split()[0] in ("smtps", "465", "submissions") for line in lines if not line.startswith((" ", "#"))
               and line.strip()) == 1
    assert "  -o smtpd_tls_wrappermode=yes" in lines and lines.count("  -o smtpd_tls_wrappermode=yes") == 1
    assert "  -o smtpd_tls_security_level=encrypt" in lines
    assert "pickup    unix  n       -       y       60      1       pickup" in lines
    assert postfix_master_cf(merged, services) == merged


def _site_model(certificates: list, inspection: dict | None, hostname: str = "mx.example.org",
                overrides: dict | None = None) -> dict:
    return tls_site_model([{"name": hostname, "aliases": [], "certificates": certificates, "root": "/"}],
                          guidelines=GUIDELINES, generator=GENERATOR, overrides=overrides, inspection=inspection)


CERTS = [{"cert": "/etc/ssl/mx-rsa.crt", "key": "/etc/ssl/mx-rsa.key", "chain": "/etc/ssl/mx-rsa.chain.crt"},
         {"cert": "/etc/ssl/mx-ecdsa.crt", "key": "/etc/ssl/mx-ecdsa.key", "chain": "/etc/ssl/mx-ecdsa.chain.crt"}]


def _pem(blocks: int) -> str:
    return "".join("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" for _ in range(blocks))


def _inspection(names: list[str], postfix: str = "3.10.13", counts: tuple[int, int] = (1, 3)) -> dict:
    return {
        "openssl_version": "3.5.1",
        "certificates": [{**c, "errors": [], "key_type": kind, "names": names, "ocsp_uri": None, "chain_pem": "",
                          "cert_pem": _pem(count)}
                         for c, kind, count in zip(CERTS, ("rsa", "ecdsa"), counts)],
        "cipher_errors": [], "missing": [],
        "probes": {"postfix_version": {"rc": 0, "stdout": postfix}, "dovecot_version": {"rc": 0, "stdout": "2.4.1-4 (x)"},
                   "main_cf": {"rc": 0, "stdout": MAIN_CF}, "master_cf": {"rc": 0, "stdout": MASTER_CF}},
    }


def test_model_renders_the_profile_for_postfix() -> None:
    look = _inspection(["mx.example.org"])
    model = mail_tls_model(_site_model(CERTS, look), look, OPTIONS)
    assert model["problems"] == []
    main = model["main_cf"]
    assert "smtpd_tls_protocols = >=TLSv1.2" in main
    assert "tls_high_cipherlist = " + ":".join(GUIDELINES["configurations"]["intermediate"]["ciphers"]["openssl"]) in main
    assert "tls_eecdh_auto_curves = X25519MLKEM768 X25519 prime256v1 secp384r1" in main
    assert "tls_ffdhe_auto_groups = " in main
    assert "smtp_tls_security_level = dane" in main and "smtp_dns_support_level = dnssec" in main
    # The RSA leaf is alone in its file: its chain file is served after it; the ECDSA file is a full chain.
    assert ("smtpd_tls_chain_files = /etc/ssl/mx-rsa.key, /etc/ssl/mx-rsa.crt, /etc/ssl/mx-rsa.chain.crt, "
            "/etc/ssl/mx-ecdsa.key, /etc/ssl/mx-ecdsa.crt") in main
    assert "smtpd_tls_cert_file" not in main
    assert model["mta_sts_policy"] == "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 604800\n"
    assert model["dovecot_24"] is True


def test_dovecot_gets_the_leaf_with_its_chain_in_one_file() -> None:
    look = _inspection(["mx.example.org"])
    look["certificates"][0].update(cert_pem=_pem(1), chain_pem="ISSUER\n")
    look["certificates"][1].update(cert_pem=_pem(2), chain_pem="ISSUER\n")
    options = {**OPTIONS, "dovecot_chain_dir": "/etc/dovecot/bulwark/"}
    model = mail_tls_model(_site_model(CERTS, look), look, options)
    # The RSA leaf is alone in its file: Dovecot gets leaf + chain; the ECDSA file is a full chain already.
    assert model["dovecot_certificates"] == [
        {"cert": "/etc/dovecot/bulwark/mail-0.crt", "key": CERTS[0]["key"], "content": _pem(1) + "ISSUER\n"},
        {"cert": CERTS[1]["cert"], "key": CERTS[1]["key"], "content": None}]
    assert model["dovecot_chain_files"] == [
        {"path": "/etc/dovecot/bulwark/mail-0.crt", "content": _pem(1) + "ISSUER\n", "mode": "0644"}]
    # A renewed certificate changes the digest the drop-in carries (Dovecot reloads with it).
    look["certificates"][0]["cert_pem"] = _pem(1).replace("MIIB", "MIIC")
    renewed = mail_tls_model(_site_model(CERTS, look), look, options)
    assert renewed["dovecot_certificates_sha256"] != model["dovecot_certificates_sha256"]
    # Nothing read (check mode on a fresh host): the files as given.
    assert [d["content"] for d in mail_tls_model(_site_model(CERTS, None), None, options)["dovecot_certificates"]] \
        == [None, None]


def test_postfix_37_gets_no_ffdhe_parameter() -> None:
    look = _inspection(["mx.example.org"], postfix="3.7.11")
    model = mail_tls_model(_site_model(CERTS, look), look, OPTIONS)
    assert "tls_ffdhe_auto_groups" not in model["main_cf"]


@pytest.mark.parametrize("options, certificates_names, expected", [
    ({"mta_sts_mode": "strict"}, ["mx.example.org"], "mail_tls_mta_sts_mode: 'strict' is not enforce, testing or none"),
    ({"mta_sts_max_age": 31557601}, ["mx.example.org"], "mail_tls_mta_sts_max_age: 31557601 is out of range"),
    ({}, ["other.example.org"], "mail_tls_certificates[0].cert /etc/ssl/mx-rsa.crt does not cover mx.example.org"),
    ({"mta_sts_mx": ["bad_name"]}, ["mx.example.org"], "mail_tls_mta_sts_mx[0] must be a DNS name"),
    ({"domain": "example..org"}, ["mx.example.org"], "mail_tls_domain: 'example..org' is not a DNS name"),
    ({"tls_rpt": ["tlsrpt@example.org"]}, ["mx.example.org"], "mail_tls_tls_rpt[0] must be a mailto: or https: URI"),
])
def test_bad_input_names_the_variable(options: dict, certificates_names: list[str], expected: str) -> None:
    look = _inspection(certificates_names)
    model = mail_tls_model(_site_model(CERTS, look), look, {**OPTIONS, **options})
    assert any(problem.startswith(expected) for problem in model["problems"]), model["problems"]
    assert model["main_cf"] is None


def test_tls13_suites_cannot_be_replaced_for_postfix() -> None:
    look = _inspection(["mx.example.org"])
    site = _site_model(CERTS, look, overrides={"ciphersuites": ["TLS_AES_256_GCM_SHA384"]})
    model = mail_tls_model(site, look, OPTIONS)
    assert any(p.startswith("mail_tls_profile_overrides.ciphersuites") for p in model["problems"])


def test_check_mode_on_a_fresh_host_renders_nothing() -> None:
    model = mail_tls_model(_site_model(CERTS, None), None, OPTIONS)
    assert model["problems"] == [] and model["main_cf"] is None


def test_a_configuration_postfix_cannot_read_is_refused_not_rendered_empty() -> None:
    look = _inspection(["mx.example.org"])
    look["probes"]["postfix_version"] = {"rc": 1, "stdout": "",
                                         "stderr": "postconf: fatal: file /etc/postfix/master.cf: line 9: bad field count"}
    model = mail_tls_model(_site_model(CERTS, look), look, OPTIONS)
    assert model["main_cf"] is None and model["master_cf"] is None
    assert model["problems"] == ["mail_tls: cannot read Postfix's postconf -d mail_version on the host (postconf: fatal: "
                                 "file /etc/postfix/master.cf: line 9: bad field count); fix it, then run the role again"]


def test_the_published_fact_lists_every_tls_port_and_the_mail_domain() -> None:
    look = _inspection(["mx.example.org"])
    fact = mail_tls_model(_site_model(CERTS, look), look, OPTIONS)["fact"]
    assert fact["schema"] == 1 and fact["server"] == "postfix"
    assert json.loads(mail_tls_model(_site_model(CERTS, look), look, OPTIONS)["fact_text"]) == fact
    assert [(s["port"], s["names"], s["issuer"]) for s in fact["sites"]] == [
        (port, ["mx.example.org"], True) for port in (25, 465, 587, 993)]
    assert fact["sites"][0]["certificates"][0] == {"cert": CERTS[0]["cert"], "key": CERTS[0]["key"],
                                                   "chain": CERTS[0]["chain"], "next_key": None, "key_type": "rsa"}
    assert fact["mail"] == {"domain": "example.org", "tls_rpt": ["mailto:tlsrpt@example.org"],
                            "mta_sts_policy": "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 604800\n"}
    small = mail_tls_model(_site_model(CERTS, look), look, {**OPTIONS, "submission": False, "dovecot": False,
                                                            "tlsa_issuer": False, "mta_sts_dir": "", "tls_rpt": []})
    assert [(s["port"], s["issuer"]) for s in small["fact"]["sites"]] == [(25, False)]
    assert small["fact"]["mail"] == {"domain": "example.org", "mta_sts_policy": None, "tls_rpt": []}
