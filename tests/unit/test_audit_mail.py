"""The audit's mail checks (roles/audit/module_utils/bulwark_audit_mail.py): the plan from mail_tls's variables,
the clear-text SMTP dialog and implicit-TLS decisions, the MTA-STS record and policy and TLS-RPT parsers with
broken and hostile input, DANE matching of a mail chain (the https check's code), and the checks' verdicts
against a fake SMTP server and a fake DNS and HTTPS side."""

from __future__ import annotations

import socket
import threading
from typing import Any

import dns.rdata
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

import audit  # roles/audit/filter_plugins/audit.py
from ansible.module_utils import bulwark_audit, bulwark_audit_dns, bulwark_audit_mail
from hostile import BIG_TEXTS, SECRET_VALUES, TRICKY_TEXTS, properties
from pinning import tlsa_record
from pki_factory import cert_pem, make_cert, new_key
from test_audit import CONTEXT

mail = bulwark_audit_mail
DECLARED = {"mode": "enforce", "max_age": 86400, "mx": ["mx.lab.test"]}
POLICY = "version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 86400\n"


# --- the plan -----------------------------------------------------------------------------------


def mail_inventory(**mx_vars: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    hostvars = {
        "mx": {"ansible_host": "192.0.2.25", "mail_tls_hostname": "MX.lab.test.",
               "mail_tls_certificates": [{"cert": "/a"}, {"cert": "/b"}], "mail_tls_mta_sts_dir": "/var/www/mta-sts",
               "mail_tls_mta_sts_max_age": 86400, "mail_tls_tls_rpt": ["mailto:tlsrpt@lab.test"], **mx_vars},
        "ns": {"ansible_host": "192.0.2.13", "dns_records_zones": ["lab.test"]},
    }
    return hostvars, {"all": ["mx", "ns"], "mail_servers": ["mx"]}


def test_the_plan_has_one_mail_service_per_port_and_the_domain_policy() -> None:
    hostvars, groups = mail_inventory()
    plan = audit.audit_plan("mx", hostvars, groups, CONTEXT)
    services = plan["services"]
    assert [s["service"] for s in services] == ["host", "mx.lab.test:25", "mx.lab.test:465", "mx.lab.test:587",
                                                "mx.lab.test:993", "mail lab.test"]
    assert services[0]["tcp_ports"] == [25, 465, 587, 993]
    assert [s["starttls"] for s in services[1:5]] == ["smtp", None, "smtp", None]
    smtp = services[1]
    assert smtp["certificates"] == 2 and smtp["profile"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    # dns_records publishes 3 1 1 per key (its default) and 2 1 1 for the issuer (mail_tls_tlsa_issuer).
    assert smtp["dns"]["tlsa"] == [{"usage": 3, "selector": 1, "matching_type": 1},
                                   {"usage": 2, "selector": 1, "matching_type": 1}]
    assert smtp["variables"]["profile"] == "mail_tls_profile"
    policy = services[-1]
    assert policy["mta_sts"]["policy"] == POLICY and len(policy["mta_sts"]["id"]) == 32
    assert (policy["domain"], policy["tls_rpt"], policy["dnssec"], policy["problems"]) == (
        "lab.test", ["mailto:tlsrpt@lab.test"], True, [])


def test_the_plan_follows_submission_dovecot_issuer_and_the_name_servers() -> None:
    hostvars, groups = mail_inventory(mail_tls_submission=False, mail_tls_dovecot=False, mail_tls_tlsa_issuer=False,
                                      mail_tls_mta_sts_dir="", mail_tls_tls_rpt=[])
    services = audit.audit_plan("mx", hostvars, groups, CONTEXT)["services"]
    assert [s["service"] for s in services] == ["host", "mx.lab.test:25", "mail lab.test"]
    assert services[1]["dns"]["tlsa"] == [{"usage": 3, "selector": 1, "matching_type": 1}]
    assert services[-1]["mta_sts"] is None and services[-1]["tls_rpt"] == []
    hostvars["ns"]["dns_records_tls_hosts"] = []  # the name server publishes no TLSA for mx
    assert audit.audit_plan("mx", hostvars, groups, CONTEXT)["services"][1]["dns"] == {"dnssec": True, "tlsa": []}
    assert audit.audit_plan("mx", hostvars, groups, {**CONTEXT, "kinds": ["mail-policy"]})["services"][-1]["kind"] \
        == "mail-policy"


@pytest.mark.parametrize("bad, named", [
    ({"mail_tls_mta_sts_mode": "strict"}, "mail_tls_mta_sts_*: mode"),
    ({"mail_tls_mta_sts_max_age": 10**40}, "mail_tls_mta_sts_*: max_age"),
    ({"mail_tls_mta_sts_mx": ["bad name!"]}, "mail_tls_mta_sts_*: mx[0]"),
    ({"mail_tls_tls_rpt": ["ftp://x"]}, "mail_tls_tls_rpt[0]"),
])
def test_a_broken_mail_declaration_is_a_finding_not_a_failed_play(bad: dict[str, Any], named: str) -> None:
    hostvars, groups = mail_inventory(**bad)
    policy = audit.audit_plan("mx", hostvars, groups, CONTEXT)["services"][-1]
    assert len(policy["problems"]) == 1 and policy["problems"][0].startswith(named), policy["problems"]
    ctx = context(policy)
    check = mail.check_mta_sts if "sts" in named else mail.check_tls_rpt
    finding = check(ctx, policy)
    assert finding.result == "fail" and finding.variable.startswith(named.split(":")[0].split("[")[0])


# --- clear text ---------------------------------------------------------------------------------


EHLO = "mx.lab.test\nPIPELINING\nSIZE 10240000\nSTARTTLS\nENHANCEDSTATUSCODES\n8BITMIME"


def test_ehlo_features_read_keywords_and_the_old_auth_form() -> None:
    assert set(mail.ehlo_features(EHLO)) == {"PIPELINING", "SIZE", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME"}
    assert mail.ehlo_features("mx\nauth=PLAIN LOGIN\n250-AUTH PLAIN")["AUTH"] == "PLAIN LOGIN"
    assert mail.ehlo_features("STARTTLS only on the greeting line") == {}
    assert mail.ehlo_features("mx\n\n   \n-x\n;STARTTLS\n\x00") == {}


@given(st.one_of(st.sampled_from(TRICKY_TEXTS + BIG_TEXTS + SECRET_VALUES), st.text(max_size=200)))
@properties(300)
def test_ehlo_features_never_raise_on_hostile_replies(value: str) -> None:
    features = mail.ehlo_features(value)
    assert all(isinstance(k, str) and k == k.upper() for k in features)


def seen(**kwargs: Any) -> dict[str, Any]:
    return {"banner_code": 220, "banner": "mx.lab.test ESMTP", "ehlo_code": 250, "ehlo": EHLO, **kwargs}


@pytest.mark.parametrize("port, dialog, problems", [
    (25, seen(), []),
    (587, seen(mail_code=530, mail="5.7.0 Must issue a STARTTLS command first"), []),
    (25, seen(ehlo=EHLO + "\nAUTH PLAIN LOGIN"), ["port 25: AUTH PLAIN LOGIN offered before STARTTLS"]),
    (587, seen(ehlo="mx\nAUTH=PLAIN", mail_code=250, mail="2.1.0 Ok"),
     ["port 587: STARTTLS not offered", "port 587: AUTH PLAIN offered before STARTTLS",
      "port 587: MAIL before STARTTLS answered 250 (must be refused, 530)"]),
    (587, seen(), ["port 587: MAIL before STARTTLS answered None (must be refused, 530)"]),
    (25, seen(banner_code=554, ehlo_code=None), ["port 25: greeting 554 (not 220)", "port 25: EHLO answered None"]),
    (25, {"error": "SMTPServerDisconnected: Connection unexpectedly closed"},
     ["port 25: SMTPServerDisconnected: Connection unexpectedly closed"]),
    (25, seen(ehlo_code=502, ehlo="5.5.2 no"), ["port 25: EHLO answered 502"]),
])
def test_smtp_clear_text_decisions(port: int, dialog: dict[str, Any], problems: list[str]) -> None:
    assert mail.smtp_cleartext_problems(port, dialog)[0] == problems


def test_implicit_tls_means_the_server_says_nothing_first() -> None:
    assert mail.implicit_tls_problem(b"") is None
    assert mail.implicit_tls_problem(b"220 mx.lab.test ESMTP\r\n") == \
        "sent 23 byte(s) in clear before TLS ('220 mx.lab.test ESMTP')"
    assert "in clear" in mail.implicit_tls_problem(b"\xff\xfe* OK" * 100)


class FakeSmtp:
    """A one-connection-at-a-time SMTP server on 127.0.0.1 that says what it is told to."""

    def __init__(self, ehlo: list[str], mail_reply: str = "530 5.7.0 Must issue a STARTTLS command first") -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.ehlo, self.mail_reply = ehlo, mail_reply
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection, connection.makefile("rwb") as stream:
                stream.write(b"220 fake ESMTP\r\n")
                stream.flush()
                for line in stream:
                    verb = line.split()[0].upper() if line.split() else b""
                    if verb == b"EHLO":
                        reply = "".join(f"250-{x}\r\n" for x in ["fake", *self.ehlo[:-1]]) + f"250 {self.ehlo[-1]}\r\n"
                    elif verb == b"MAIL":
                        reply = self.mail_reply + "\r\n"
                    else:
                        reply = "221 bye\r\n"
                    stream.write(reply.encode())
                    stream.flush()
                    if verb == b"QUIT":
                        break


def context(*services: dict[str, Any]) -> Any:
    return bulwark_audit.Context({"host": "mx", "addresses": ["127.0.0.1"], "services": list(services)},
                                 {"probe": "probe1", "timeout": 2}, tools={name: "x" for name in bulwark_audit.TOOLS})


def test_the_starttls_check_talks_smtp_in_clear() -> None:
    good = FakeSmtp(["PIPELINING", "STARTTLS"])
    service = {"kind": "mail", "service": "mx:587", "address": "127.0.0.1", "port": good.port, "starttls": "smtp"}
    finding = mail.check_starttls(context(service), service)
    assert finding.result == "pass" and "offers PIPELINING, STARTTLS" in finding.evidence, finding.evidence
    bad = FakeSmtp(["AUTH PLAIN", "STARTTLS"], mail_reply="250 2.1.0 Ok")
    service = {**service, "port": bad.port}
    finding = mail.check_starttls(context(service), service)
    assert finding.result == "fail" and "AUTH PLAIN offered before STARTTLS" in finding.evidence
    assert finding.variable == mail.ROLE  # not 587 here: the fake server's port


def test_an_implicit_tls_port_that_greets_in_clear_fails() -> None:
    talker = FakeSmtp(["STARTTLS"])
    service = {"kind": "mail", "service": "mx:465", "address": "127.0.0.1", "port": talker.port, "starttls": None}
    finding = mail.check_starttls(context(service), service)
    assert finding.result == "fail" and "'220 fake ESMTP'" in finding.evidence
    silent = socket.create_server(("127.0.0.1", 0))
    with silent:
        service = {**service, "port": silent.getsockname()[1]}
        ctx = bulwark_audit.Context({"host": "mx", "services": [service]}, {"timeout": 0.3}, tools={})
        assert mail.check_starttls(ctx, service).result == "pass"
    closed = {**service}  # the listener is gone: refused
    assert mail.check_starttls(ctx, closed).result == "fail"


# --- MTA-STS and TLS-RPT ------------------------------------------------------------------------


@pytest.mark.parametrize("texts, record_id, problem", [
    (["v=STSv1; id=20260101T000000"], "20260101T000000", None),
    (["v=STSv1;id=abc;", "v=spf1 -all"], "abc", None),
    (["v=STSv1; id=" + "a" * 33], None, "is not 1 to 32 letters and digits"),
    (["v=STSv1; id=ab-c"], None, "is not 1 to 32"),
    (["v=STSv1"], None, "id 'none'"),
    (["v=STSv1; id=a", "v=STSv1; id=b"], None, "2 v=STSv1 records"),
    (["v=STSv10; id=a", "V=STSv1; id=a"], None, "no TXT record starting with v=STSv1 (2 other"),
    ([], None, "no TXT record starting with v=STSv1"),
])
def test_the_mta_sts_record(texts: list[str], record_id: str | None, problem: str | None) -> None:
    parsed = mail.parse_sts_record(texts)
    assert parsed["id"] == record_id
    assert (problem is None) == (not parsed["problems"]) and all(problem in p for p in parsed["problems"])


def test_the_declared_policy_parses_to_what_was_declared() -> None:
    policy = mail.parse_sts_policy(POLICY.replace("\n", "\r\n"))
    assert policy == {"version": "STSv1", "mode": "enforce", "max_age": 86400, "mx": ["mx.lab.test"], "problems": []}
    assert mail.sts_policy_problems(policy, DECLARED, ["mx.lab.test"]) == []
    wildcard = mail.parse_sts_policy(POLICY.replace("mx: mx.lab.test", "mx: *.lab.test"))
    assert mail.sts_policy_problems(wildcard, {**DECLARED, "mx": ["*.lab.test"]}, ["mx.lab.test"]) == []
    assert mail.sts_policy_problems(wildcard, {**DECLARED, "mx": ["*.lab.test"]}, ["a.mx.lab.test"]) == [
        "no mx line covers a.mx.lab.test"]


@pytest.mark.parametrize("text, problems", [
    (POLICY.replace("enforce", "testing"), ["mode testing (declared enforce)"]),
    (POLICY.replace("86400", "604800"), ["max_age 604800 (declared 86400)"]),
    (POLICY.replace("mx.lab.test", "other.lab.test"),
     ["mx other.lab.test (declared mx.lab.test)", "no mx line covers mx.lab.test"]),
    (POLICY + "mode: none\n", ["mode given twice"]),
    (POLICY.replace("STSv1", "STSv2"), ["version 'STSv2' (must be STSv1)"]),
    (POLICY.replace("enforce", "strict"), ["mode 'strict' is not enforce, testing or none"]),
    (POLICY.replace("86400", "-1"), ["max_age '-1' is not 0 to 31557600"]),
    (POLICY.replace("86400", "99999999999999999999999"), ["max_age '99999999999999999999' is not 0 to 31557600"]),
    ("<html>not a policy</html>", ["line 1 is not 'key: value'", "version None (must be STSv1)",
                                   "mode None is not enforce, testing or none", "max_age None is not 0 to 31557600",
                                   "no mx line", "mx none (declared mx.lab.test)", "no mx line covers mx.lab.test"]),
    ("x" * 70000, ["70000 characters: larger than the 65536 senders accept", "mx none (declared mx.lab.test)",
                   "no mx line covers mx.lab.test"]),
])
def test_a_policy_that_differs_names_each_difference(text: str, problems: list[str]) -> None:
    assert mail.sts_policy_problems(mail.parse_sts_policy(text), DECLARED, ["mx.lab.test"]) == problems


@pytest.mark.parametrize("texts, rua, problem", [
    (["v=TLSRPTv1; rua=mailto:tlsrpt@lab.test"], ["mailto:tlsrpt@lab.test"], None),
    (["v=TLSRPTv1;rua=mailto:a@lab.test,https://r.lab.test/tls"], ["mailto:a@lab.test", "https://r.lab.test/tls"],
     None),
    (["v=TLSRPTv1; rua=ftp://x"], ["ftp://x"], "rua 'ftp://x' is not a mailto: or https: URI"),
    (["v=TLSRPTv1"], [], "0 rua fields"),
    (["v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d"], [], "2 rua fields"),
    (["v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:c@d"], [], "2 v=TLSRPTv1 records"),
    (["v=STSv1; id=1"], [], "no TXT record starting with v=TLSRPTv1 (1 other"),
])
def test_the_tls_rpt_record(texts: list[str], rua: list[str], problem: str | None) -> None:
    parsed = mail.parse_tls_rpt(texts)
    assert parsed["rua"] == rua
    assert (problem is None) == (not parsed["problems"]) and all(problem in p for p in parsed["problems"])


@given(st.lists(st.one_of(st.sampled_from(TRICKY_TEXTS), st.text(max_size=60),
                          st.sampled_from(["v=STSv1; id=", "v=TLSRPTv1; rua=", "mode: ", "mx: ", "max_age: "])),
                max_size=6))
@properties(300)
def test_the_parsers_never_raise_on_hostile_records_and_policies(texts: list[str]) -> None:
    for parsed in (mail.parse_sts_record(texts), mail.parse_tls_rpt(texts), mail.parse_sts_policy("\n".join(texts))):
        assert isinstance(parsed["problems"], list)
    policy = mail.parse_sts_policy("".join(texts))
    assert isinstance(mail.sts_policy_problems(policy, DECLARED, ["mx.lab.test"]), list)


# --- the policy checks, with a fake DNS and HTTPS side --------------------------------------------


def txt(owner: str, *texts: str) -> dict[str, Any]:
    rrset = dns.rrset.from_rdata_list(owner, 60, [dns.rdata.from_text("IN", "TXT", f'"{t}"') for t in texts])
    return {"status": "secure", "rrset": rrset, "chain": [], "error": ""}


class FakeResolver:
    def __init__(self, answers: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.answers = answers

    def resolve(self, name: str, rdtype: str) -> dict[str, Any]:
        return self.answers.get((name, rdtype), {"status": "nxdomain", "rrset": None, "chain": [],
                                                 "error": f"{name} does not exist"})


def policy_service() -> dict[str, Any]:
    hostvars, groups = mail_inventory()
    return audit.audit_plan("mx", hostvars, groups, CONTEXT)["services"][-1]


def policy_world(monkeypatch: pytest.MonkeyPatch, service: dict[str, Any], served: str = POLICY,
                 record_id: str | None = None, content_type: str = "text/plain", status: int = 200) -> None:
    mx = dns.rrset.from_rdata_list("lab.test.", 60, [dns.rdata.from_text("IN", "MX", "10 mx.lab.test.")])
    answers = {("_mta-sts.lab.test", "TXT"): txt("_mta-sts.lab.test.", f"v=STSv1; id={record_id or service['mta_sts']['id']}"),
               ("_smtp._tls.lab.test", "TXT"): txt("_smtp._tls.lab.test.", "v=TLSRPTv1; rua=mailto:tlsrpt@lab.test"),
               ("lab.test", "MX"): {"status": "secure", "rrset": mx, "chain": [], "error": ""}}
    monkeypatch.setattr(mail, "resolver", lambda ctx: FakeResolver(answers))
    monkeypatch.setattr(mail, "lookup_addresses", lambda ctx, name: ["192.0.2.25"] if name == "mta-sts.lab.test" else [])
    monkeypatch.setattr(mail, "fetch", lambda ctx, service, url, address=None, verify=False: {
        "status": status, "headers": [("content-type", content_type)], "body": served, "rc": 0, "error": "",
        "url": url})


def test_the_mta_sts_check_passes_on_the_declared_policy_and_names_each_break(monkeypatch: pytest.MonkeyPatch) -> None:
    service = policy_service()
    policy_world(monkeypatch, service)
    finding = mail.check_mta_sts(context(service), service)
    assert finding.result == "pass", finding.evidence
    assert "mode enforce, max_age 86400, mx mx.lab.test as declared, covering mx.lab.test" in finding.evidence
    policy_world(monkeypatch, service, served=POLICY.replace("enforce", "testing"), content_type="text/html")
    finding = mail.check_mta_sts(context(service), service)
    assert finding.result == "fail" and finding.variable.startswith("mail_tls_mta_sts_mode")
    assert "policy: mode testing (declared enforce)" in finding.evidence and "Content-Type text/html" in finding.evidence
    policy_world(monkeypatch, service, record_id="stale1")
    assert "id stale1 is not the declared policy's" in mail.check_mta_sts(context(service), service).evidence
    policy_world(monkeypatch, service, status=301)
    assert "a trusted HTTPS 200 without redirects" in mail.check_mta_sts(context(service), service).evidence


def test_the_tls_rpt_check(monkeypatch: pytest.MonkeyPatch) -> None:
    service = policy_service()
    policy_world(monkeypatch, service)
    assert mail.check_tls_rpt(context(service), service).result == "pass"
    service["tls_rpt"] = ["mailto:other@lab.test"]
    finding = mail.check_tls_rpt(context(service), service)
    assert finding.result == "fail" and "(declared mailto:other@lab.test)" in finding.evidence
    service["tls_rpt"] = []
    assert mail.check_tls_rpt(context(service), service).result == "n/a"


# --- DANE: the https check's matching, on a mail chain ------------------------------------------


def test_tlsa_matches_the_leaf_key_and_the_issuer_key_and_nothing_else() -> None:
    ca_key, leaf_key, other_key = new_key("p256"), new_key("p256", 1), new_key("p256", 2)
    ca = make_cert(ca_key, "Lab CA", ca=True)
    leaf = make_cert(leaf_key, "mx.lab.test", issuer_key=ca_key, issuer_name="Lab CA")
    other = make_cert(other_key, "mta-sts.lab.test", issuer_key=ca_key, issuer_name="Lab CA")

    def record(cert: Any, usage: int) -> Any:
        line = tlsa_record(cert_pem(cert), "mx.lab.test", port=25, usage=usage, selector=1, matching_type=1)
        return dns.rdata.from_text("IN", "TLSA", " ".join(line.split()[-4:]))

    leaf_record, issuer_record, wrong = record(leaf, 3), record(ca, 3), record(other, 3)
    issuer_ta = dns.rdata.from_text("IN", "TLSA", "2 1 1 " + issuer_record.cert.hex())
    assert bulwark_audit_dns.tlsa_matches([leaf_record, issuer_ta, wrong], [leaf, ca]) == [leaf_record, issuer_ta]
    assert bulwark_audit_dns.tlsa_matches([wrong, issuer_record], [leaf, ca]) == []  # 3 x x names the leaf only
    assert bulwark_audit_dns.tlsa_matches([issuer_ta], [leaf]) == []  # no issuer sent: nothing for 2 x x to match
    odd = dns.rdata.from_text("IN", "TLSA", "3 7 9 " + leaf_record.cert.hex())
    assert bulwark_audit_dns.tlsa_matches([odd], [leaf, ca]) == []
