"""The audit role's Python: the plan from the inventory, the checks' pure parts (nmap XML, HTTP headers,
HSTS and preload rules, DNSSEC validation from a trust anchor, TLSA data, CAA identities), the runner's
handling of missing tools, unreachable hosts and broken checks, and the report (schema, HTML, summary)."""

from __future__ import annotations

import datetime
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

import audit  # roles/audit/filter_plugins/audit.py
import pinning
from ansible.module_utils import (bulwark_audit, bulwark_audit_dns, bulwark_audit_http,  # noqa: F401
                                  bulwark_audit_mail, bulwark_audit_net, bulwark_audit_report, bulwark_audit_tls)
from ansible.module_utils import bulwark_audit_checks
from pki_factory import make_cert, new_key

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "audit"
SCHEMA = json.loads((ROLE / "files" / "audit.schema.json").read_text())
GUIDELINES = json.loads((REPO / "roles" / "tls_common" / "vars" / "mozilla-server-side-tls-6.0.json").read_text())
ROLE_DEFAULTS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__audit_role_defaults"]
CONTEXT = {"guidelines": GUIDELINES, "defaults": ROLE_DEFAULTS, "firewall_group": "firewalld_servers",
           "mail_group": "mail_servers"}


# --- the plan -----------------------------------------------------------------------------------


def lab_inventory() -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    hostvars = {
        "web-nginx": {"ansible_host": "192.0.2.11", "firewalld_ports": ["22/tcp", "80/tcp", "443/tcp"],
                      "audit_addresses": ["192.0.2.11", "2001:db8::11"],
                      "tls_sites": [{"name": "www.example.org", "aliases": ["example.org"],
                                     "certificates": [{"cert": "/a"}, {"cert": "/b"}],
                                     "hsts": {"max_age": 31536000, "include_subdomains": True, "preload": True}},
                                    {"name": "static.example.org", "acme": {"key_types": ["ecdsa", "rsa"]},
                                     "breach": "no_compression", "ocsp_stapling": "off"}]},
        "ns": {"ansible_host": "192.0.2.13", "firewalld_ports": ["22/tcp", "53/tcp", "53/udp"],
               "dns_records_zones": ["example.org"],
               "dns_records_caa": [{"domain": "example.org", "issue": ["letsencrypt.org"]}]},
        "bare": {"ansible_host": "192.0.2.14"},
        "scanner": {"ansible_host": "192.0.2.20"},
    }
    groups = {"all": list(hostvars), "web_servers": ["web-nginx"], "firewalld_servers": ["web-nginx", "ns", "bare"]}
    return hostvars, groups


def test_the_plan_lists_every_declared_service_with_its_kind() -> None:
    hostvars, groups = lab_inventory()
    plan = audit.audit_plan("web-nginx", hostvars, groups, CONTEXT)
    assert plan["addresses"] == ["192.0.2.11", "2001:db8::11"]
    assert [s["service"] for s in plan["services"]] == [
        "host", "firewall IPv4 192.0.2.11", "firewall IPv6 2001:db8::11", "www.example.org:443", "static.example.org:443"]
    www = plan["services"][3]
    assert www["names"] == ["www.example.org", "example.org"]
    assert www["certificates"] == 2
    assert www["hsts_header"] == "max-age=31536000; includeSubDomains; preload"
    assert www["profile"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert www["dns"] == {"dnssec": True, "tlsa": [{"usage": 3, "selector": 1, "matching_type": 1}],
                          "caa_domain": "example.org"}
    static = plan["services"][4]
    assert (static["breach"], static["ocsp_stapling"], static["hsts"]["max_age"]) == ("no_compression", "off", 63072000)
    assert static["certificates"] == 2  # acme: one certificate per key type


def test_the_name_server_gets_its_zone_with_the_caa_records_dns_records_publishes() -> None:
    hostvars, groups = lab_inventory()
    plan = audit.audit_plan("ns", hostvars, groups, CONTEXT)
    zone = plan["services"][-1]
    assert zone["service"] == "dns example.org"
    assert zone["caa"] == {"example.org": pinning.caa_records("example.org", issue=["letsencrypt.org"], ttl=3600)}
    assert plan["services"][0]["tcp_ports"] == [22, 53]


def test_role_defaults_apply_and_undeclared_hosts_have_nothing_to_check() -> None:
    hostvars, groups = lab_inventory()
    bare = audit.audit_plan("bare", hostvars, groups, CONTEXT)
    assert bare["services"][1]["declared"] == ["22/tcp"]  # the firewalld role's default
    assert audit.audit_plan("scanner", hostvars, groups, CONTEXT)["services"] == []


def test_kinds_narrow_the_plan_but_keep_the_host_check() -> None:
    hostvars, groups = lab_inventory()
    plan = audit.audit_plan("web-nginx", hostvars, groups, {**CONTEXT, "kinds": ["https"]})
    assert [s["kind"] for s in plan["services"]] == ["host", "https", "https"]


def test_a_host_without_an_address_and_an_unknown_profile() -> None:
    hostvars, groups = lab_inventory()
    hostvars["bare"]["ansible_host"] = ""
    assert audit.audit_plan("bare", hostvars, groups, CONTEXT)["addresses"] == []
    hostvars["web-nginx"]["tls_profile"] = "old"
    with pytest.raises(Exception, match="tls_profile 'old'"):
        audit.audit_plan("web-nginx", hostvars, groups, CONTEXT)


def test_the_copied_role_defaults_equal_the_roles_own() -> None:
    def defaults(role: str) -> dict[str, Any]:
        return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())

    own = {**defaults("firewalld"), **defaults("tls_common"), **defaults("dns_records"), **defaults("mail_tls")}
    for name, value in ROLE_DEFAULTS.items():
        if name != "dns_records_tls_groups":
            assert own[name] == value, name
    for group in ROLE_DEFAULTS["dns_records_tls_groups"]:
        assert f"groups['{group}']" in own["dns_records_tls_hosts"]


def test_results_name_hosts_that_could_not_be_checked() -> None:
    hostvars = {"a": {"__audit_plan": {"addresses": ["192.0.2.1"], "services": [{"kind": "host"}]},
                      "__audit_host_result": {"unreachable": True, "msg": "ssh: connect to probe"}},
                "b": {"__audit_plan": {"services": []}},
                "c": {"__audit_plan": {"addresses": [], "services": [{"kind": "host"}]},
                      "__audit_host_result": {"findings": [], "tools": {}, "seconds": 1.5}}}
    collected = audit.audit_results(["a", "b", "c"], hostvars)
    assert collected["not_audited"] == ["b"]
    assert collected["results"][0] == {"host": "a", "addresses": ["192.0.2.1"], "error": "ssh: connect to probe"}
    assert collected["results"][1]["seconds"] == 1.5


# --- the runner ---------------------------------------------------------------------------------


def context(plan: dict[str, Any], tools: dict[str, Any] | None = None, runner: Any = None) -> Any:
    return bulwark_audit.Context(plan, {"probe": "probe1", "timeout": 2},
                                 runner=runner, tools=tools or {name: "x" for name in bulwark_audit.TOOLS})


def test_a_probe_without_a_tool_gets_one_warning_and_the_checks_are_not_applicable() -> None:
    plan = {"host": "h", "addresses": ["127.0.0.1"],
            "services": [{"kind": "firewall", "service": "firewall IPv4 127.0.0.1", "address": "127.0.0.1",
                          "declared": ["22/tcp"]}]}
    findings = bulwark_audit.run_host(context(plan, tools={"nmap": None}))
    assert findings[0].check == "probe-tools" and findings[0].result == "warn" and "nmap" in findings[0].evidence
    assert {f.result for f in findings[1:]} == {"n/a"}
    assert all("lacks nmap" in f.evidence for f in findings[1:])


def test_a_host_without_an_address_fails_once_and_the_rest_is_not_applicable() -> None:
    plan = {"host": "h", "addresses": [], "services": [
        {"kind": "host", "service": "host", "address": "", "tcp_ports": [22]},
        {"kind": "https", "service": "www.example.org:443", "address": ""}]}
    findings = bulwark_audit.run_host(context(plan))
    assert [(f.check, f.result) for f in findings][:1] == [("reachable", "fail")]
    assert findings[0].variable == "ansible_host"
    assert {f.result for f in findings[1:]} == {"n/a"} and "no address" in findings[1].evidence


def test_an_unreachable_host_is_a_fail_with_the_ports_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def timeout(*_args: Any, **_kwargs: Any) -> None:
        raise socket.timeout("timed out")

    monkeypatch.setattr(socket, "create_connection", timeout)
    plan = {"host": "h", "addresses": ["192.0.2.1"], "services": [
        {"kind": "host", "service": "host", "address": "192.0.2.1", "tcp_ports": [22, 443]}]}
    finding = bulwark_audit.run_host(context(plan))[0]
    assert finding.result == "fail" and "unreachable" in finding.evidence and len(finding.details) == 2


def test_a_broken_check_is_a_warning_not_a_crash() -> None:
    @bulwark_audit.check("test-kind", "explodes")
    def explodes(ctx: Any, service: dict[str, Any]) -> Any:
        """Always raises."""
        raise ValueError("boom")

    plan = {"host": "h", "addresses": ["127.0.0.1"], "services": [{"kind": "test-kind", "service": "x"}]}
    try:
        finding = bulwark_audit.run_host(context(plan))[0]
    finally:
        del bulwark_audit.REGISTRY["test-kind"]
    assert (finding.result, finding.evidence) == ("warn", "the check could not run: ValueError: boom")


def test_the_audit_runs_the_checks_of_its_listed_check_modules() -> None:
    listed = bulwark_audit_checks.REGISTRY
    assert list(listed) == list(bulwark_audit.registry(bulwark_audit_checks.CHECK_MODULES))
    assert {"host", "firewall", "https", "dns", "mail", "mail-policy"} == set(listed)
    assert [c.name for c in listed["host"]] == ["reachable"]  # the core's own check
    assert {c.module for checks in listed.values() for c in checks} == {
        module.__name__ for module in (bulwark_audit, *bulwark_audit_checks.CHECK_MODULES)}

    @bulwark_audit.check("test-kind", "unlisted")
    def unlisted(ctx: Any, service: dict[str, Any]) -> Any:
        """A check of a module the audit does not list."""

    try:
        assert "test-kind" not in bulwark_audit.registry(bulwark_audit_checks.CHECK_MODULES)
    finally:
        del bulwark_audit.REGISTRY["test-kind"]
    with pytest.raises(ValueError, match="bulwark_audit_report"):
        bulwark_audit.registry([bulwark_audit_report])


def test_every_kind_has_checks_and_mail_reuses_the_tls_and_dane_checks() -> None:
    assert {"host", "firewall", "https", "dns", "mail", "mail-policy"} <= set(bulwark_audit.REGISTRY)
    mail = {c.name: c for c in bulwark_audit.REGISTRY["mail"]}
    assert list(mail) == ["starttls", "tls-versions", "cipher-suites", "certificate-types", "certificate-chain",
                          "certificate-names", "certificate-expiry", "dane-tlsa"]
    https = {c.name: c.func for c in bulwark_audit.REGISTRY["https"]}
    assert all(mail[name].func is https[name] for name in list(mail)[1:])  # one implementation, two kinds
    assert [c.name for c in bulwark_audit.REGISTRY["mail-policy"]] == ["mta-sts", "tls-rpt"]


# --- firewall -----------------------------------------------------------------------------------

NMAP_XML = """<?xml version="1.0"?><nmaprun><host><status state="up"/><ports>
<extraports state="filtered" count="65530"><extrareasons reason="no-response" count="65530" proto="tcp"
 ports="1-21,23-79"/></extraports>
<port protocol="tcp" portid="22"><state state="open"/></port>
<port protocol="tcp" portid="80"><state state="filtered"/></port>
<port protocol="tcp" portid="443"><state state="open"/></port>
<port protocol="tcp" portid="8080"><state state="closed"/></port>
<port protocol="udp" portid="53"><state state="open"/></port>
</ports></host></nmaprun>"""


def test_declared_ports_expand_ranges_and_sources() -> None:
    ports = bulwark_audit_net.declared_ports(["22/tcp", "8000-8002/tcp", "53/udp", {"port": "1414/tcp",
                                                                                     "sources": ["10.0.0.0/8"]}])
    assert ports == {"tcp": {22: "open", 8000: "open", 8001: "open", 8002: "open", 1414: "sources"},
                     "udp": {53: "open"}}
    with pytest.raises(ValueError, match="'22'"):
        bulwark_audit_net.declared_ports(["22"])


def test_nmap_xml_keeps_what_answered_and_counts_the_rest() -> None:
    seen = bulwark_audit_net.parse_nmap_xml(NMAP_XML)
    assert seen["tcp"] == {22: "open", 80: "filtered", 443: "open", 8080: "closed"}
    assert seen["udp"] == {53: "open"} and seen["collapsed"]["tcp"] == {"filtered": 65530}


def test_firewall_checks_fail_an_undeclared_answer_and_a_filtered_declared_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The second look at a filtered port (a TCP connection) gets no answer either.
    monkeypatch.setattr(bulwark_audit_net, "connect_state", lambda address, port, timeout: "filtered")

    def runner(argv: list[str], timeout: float, input_text: str | None = None) -> Any:
        assert argv[0] == "nmap" and "U:53" in argv[argv.index("-p") + 1]
        return subprocess.CompletedProcess(argv, 0, NMAP_XML, "")

    service = {"kind": "firewall", "service": "firewall IPv4 192.0.2.1", "address": "192.0.2.1",
               "declared": ["22/tcp", "80/tcp", "443/tcp", "53/udp"]}
    ctx = context({"host": "h", "addresses": ["192.0.2.1"], "services": [service]}, runner=runner)
    undeclared = bulwark_audit_net.check_undeclared(ctx, service)
    declared = bulwark_audit_net.check_declared(ctx, service)
    udp = bulwark_audit_net.check_udp(ctx, service)
    assert (undeclared.result, undeclared.variable) == ("fail", "firewalld_ports") and "8080 (closed)" in undeclared.evidence
    assert declared.result == "fail" and "80" in declared.evidence
    assert udp.result == "pass"


# --- HTTP ---------------------------------------------------------------------------------------


def test_headers_of_the_last_response_block() -> None:
    status, headers = bulwark_audit_http.parse_headers(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/2 308\r\nlocation: https://a/\r\nServer: nginx\r\n\r\n")
    assert status == 308 and headers == [("location", "https://a/"), ("server", "nginx")]


@pytest.mark.parametrize("value, expected", [
    ("max-age=63072000", {"max_age": 63072000, "include_subdomains": False, "preload": False}),
    ("max-age=31536000; includeSubDomains; preload", {"max_age": 31536000, "include_subdomains": True,
                                                      "preload": True}),
    ("MAX-AGE=1;INCLUDESUBDOMAINS", {"max_age": 1, "include_subdomains": True, "preload": False}),
])
def test_hsts_values_parse_like_hstspreload(value: str, expected: dict[str, Any]) -> None:
    parsed = bulwark_audit_http.parse_hsts(value)
    assert {k: parsed[k] for k in expected} == expected and not parsed["errors"]


def test_hsts_problems_name_each_difference_from_the_declaration() -> None:
    want = {"max_age": 63072000, "include_subdomains": False, "preload": False}
    assert bulwark_audit_http.hsts_problems(["max-age=63072000"], want) == []
    assert bulwark_audit_http.hsts_problems([], want) == ["no Strict-Transport-Security header"]
    assert bulwark_audit_http.hsts_problems(["max-age=1", "max-age=2"], want) == ["2 Strict-Transport-Security headers"]
    assert bulwark_audit_http.hsts_problems(["max-age=x; preload"], want) == [
        "max-age value is not digits: max-age=x", "max-age None (declared 63072000)",
        "preload present (declared False)"]


PSL = ({"org", "uk", "co.uk"}, {"ck"}, {"www.ck"})


@pytest.mark.parametrize("name, registrable", [("www.example.org", "example.org"), ("example.org", "example.org"),
                                               ("a.b.example.co.uk", "example.co.uk"), ("co.uk", None),
                                               ("lab.test", "lab.test"), ("x.y.ck", "x.y.ck"), ("www.ck", "www.ck")])
def test_registrable_domains_follow_the_public_suffix_rules(name: str, registrable: str | None) -> None:
    assert bulwark_audit_http.registrable_domain(name, PSL) == registrable


def _response(status: int, headers: dict[str, str], rc: int = 0) -> dict[str, Any]:
    return {"status": status, "headers": [(k.lower(), v) for k, v in headers.items()], "rc": rc, "error": ""}


def test_preload_rules_pass_for_an_eligible_domain_and_name_each_failure() -> None:
    hsts = {"Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload"}
    good = bulwark_audit_http.preload_rules(
        "example.org", _response(200, hsts), _response(301, {"Location": "https://example.org/"}),
        _response(200, {}), _response(200, {}), PSL)
    assert len(good) == 11 and all(ok for _, ok, _ in good)
    bad = bulwark_audit_http.preload_rules(
        "www.example.org", _response(200, {"Strict-Transport-Security": "max-age=300"}),
        _response(301, {"Location": "http://www.example.org/"}), _response(0, {}, rc=60), None, PSL)
    failed = [rule for rule, ok, _ in bad if not ok]
    assert failed == ["registrable domain (eTLD+1)", "valid certificate", "max-age >= 31536000", "includeSubDomains",
                      "preload directive", "HTTP redirects to HTTPS on the same host first"]


# --- DNSSEC -------------------------------------------------------------------------------------


class SignedTree:
    """test. (the anchor) delegating securely to lab.test., both ECDSA P-256, signed here with cryptography."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.records: dict[tuple[str, str], Any] = {}
        self.sigs: dict[tuple[str, str], Any] = {}
        for zone in ("test.", "lab.test."):
            key = ec.generate_private_key(ec.SECP256R1())
            numbers = key.public_key().public_numbers()
            dnskey = DNSKEY(dns.rdataclass.IN, dns.rdatatype.DNSKEY, 257, 3, 13,
                            numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big"))
            self.keys[zone] = (key, dnskey)
            self.add(zone, zone, "DNSKEY", [dnskey])
        self.add("test.", "lab.test.", "DS", [dns.dnssec.make_ds("lab.test.", self.keys["lab.test."][1], "SHA256")])
        self.add("lab.test.", "www.lab.test.", "A", ["192.0.2.11"])
        self.add("lab.test.", "lab.test.", "SOA", ["ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 300"])

    def add(self, zone: str, owner: str, rdtype: str, rdatas: list[Any]) -> None:
        rrset = dns.rrset.from_rdata_list(owner, 300, [r if not isinstance(r, str) else dns.rdata.from_text(
            "IN", rdtype, r) for r in rdatas])
        self.records[(owner, rdtype)] = rrset
        self.sign(zone, rrset)

    def sign(self, zone: str, rrset: Any, valid: bool = True) -> None:
        key, dnskey = self.keys[zone]
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
        template = RRSIG(dns.rdataclass.IN, dns.rdatatype.RRSIG, rrset.rdtype, 13, len(rrset.name) - 1, rrset.ttl,
                         now + 86400 if valid else now - 10, now - 86400, dns.dnssec.key_id(dnskey),
                         dns.name.from_text(zone), b"")
        data = dns.dnssec._make_rrsig_signature_data(rrset, template)
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        self.sigs[(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))] = dns.rrset.from_rdata_list(
            rrset.name, rrset.ttl, [template.replace(signature=signature)])

    def query(self, qname: str, rdtype: str) -> Any:
        qname = dns.name.from_text(qname).to_text()
        message = dns.message.make_response(dns.message.make_query(qname, rdtype))
        if (qname, rdtype) in self.records:
            message.answer += [self.records[(qname, rdtype)], self.sigs[(qname, rdtype)]]
        elif not any(owner == qname for owner, _ in self.records):
            message.set_rcode(dns.rcode.NXDOMAIN)
        return message

    def anchors(self) -> dict[Any, dict[str, list[Any]]]:
        ds = dns.dnssec.make_ds("test.", self.keys["test."][1], "SHA256")
        return {dns.name.from_text("test."): {"ds": [ds], "dnskey": [], "source": ["test. DS"]}}


def test_dnssec_validates_from_the_anchor_down_the_delegation() -> None:
    tree = SignedTree()
    result = bulwark_audit_dns.Resolver(tree.query, tree.anchors()).resolve("www.lab.test", "A")
    assert result["status"] == "secure", result
    assert [r.address for r in result["rrset"]] == ["192.0.2.11"]
    assert "trust anchor" in result["chain"][0] and "lab.test. DS (signed by test.)" in result["chain"][1]


def test_dnssec_is_bogus_for_a_forged_record_an_expired_signature_or_another_anchor() -> None:
    tree = SignedTree()
    tree.records[("www.lab.test.", "A")] = dns.rrset.from_text("www.lab.test.", 300, "IN", "A", "192.0.2.66")
    assert bulwark_audit_dns.Resolver(tree.query, tree.anchors()).resolve("www.lab.test", "A")["status"] == "bogus"
    tree = SignedTree()
    tree.sign("lab.test.", tree.records[("www.lab.test.", "A")], valid=False)
    result = bulwark_audit_dns.Resolver(tree.query, tree.anchors()).resolve("www.lab.test", "A")
    assert result["status"] == "bogus" and "validity period" in result["error"]
    other = SignedTree()
    assert bulwark_audit_dns.Resolver(tree.query, other.anchors()).resolve("www.lab.test", "A")["status"] == "bogus"


def test_dnssec_without_a_ds_is_insecure_and_a_missing_name_says_so() -> None:
    tree = SignedTree()
    del tree.records[("lab.test.", "DS")]
    resolver = bulwark_audit_dns.Resolver(tree.query, tree.anchors())
    assert resolver.resolve("www.lab.test", "A")["status"] == "insecure"
    assert resolver.resolve("nope.lab.test", "A")["status"] == "nxdomain"


def test_rsa_signatures_verify_from_the_rfc3110_key_format() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    exponent = numbers.e.to_bytes(3, "big")
    dnskey = DNSKEY(dns.rdataclass.IN, dns.rdatatype.DNSKEY, 256, 3, 8,
                    bytes([len(exponent)]) + exponent + numbers.n.to_bytes(256, "big"))
    signature = key.sign(b"data", __import__("cryptography.hazmat.primitives.asymmetric.padding",
                                              fromlist=["PKCS1v15"]).PKCS1v15(), hashes.SHA256())
    bulwark_audit_dns.verify_signature(signature, b"data", dnskey)
    with pytest.raises(Exception):
        bulwark_audit_dns.verify_signature(signature, b"other", dnskey)


def test_trust_anchors_parse_from_zone_file_lines() -> None:
    zone, rdata = bulwark_audit_dns.parse_anchor(
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D")
    assert zone == dns.name.root and rdata.key_tag == 20326
    with pytest.raises(ValueError, match="not a DS or DNSKEY"):
        bulwark_audit_dns.parse_anchor("lab.test. IN A 192.0.2.1")


def test_tlsa_data_matches_what_the_tlsa_record_filter_publishes() -> None:
    ca_key, leaf_key = new_key("p256"), new_key("p256")
    ca = make_cert(ca_key, "Test CA", ca=True)
    leaf = make_cert(leaf_key, "www.example.org", issuer_key=ca_key, issuer_name="Test CA")
    pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    for usage, selector, mtype in ((3, 1, 1), (3, 0, 1), (1, 1, 2)):
        record = pinning.tlsa_record(pem, "www.example.org", usage=usage, selector=selector, matching_type=mtype)
        assert bulwark_audit_dns.tlsa_data([leaf, ca], usage, selector, mtype)[0].hex() == record.split()[-1].lower()
    assert bulwark_audit_dns.tlsa_data([leaf, ca], 2, 1, 1) != bulwark_audit_dns.tlsa_data([leaf, ca], 3, 1, 1)


def test_caa_identities_map_an_issuer_to_its_domain() -> None:
    identities = [{"issuer": "O=Let's Encrypt", "domain": "letsencrypt.org"}, {"issuer": "CN=Lab CA", "domain": "ca.lab"}]
    assert bulwark_audit_dns.caa_identity("CN=R11,O=Let's Encrypt,C=US", identities) == "letsencrypt.org"
    assert bulwark_audit_dns.caa_identity("CN=Lab CA", identities) == "ca.lab"
    assert bulwark_audit_dns.caa_identity("CN=Other", identities) is None


# --- the report ---------------------------------------------------------------------------------


def document() -> dict[str, Any]:
    results = [
        {"host": "web", "addresses": ["192.0.2.11"], "seconds": 3.2, "tools": {"nmap": "/usr/bin/nmap"}, "findings": [
            {"host": "web", "service": "www.example.org:443", "check": "tls-versions", "result": "fail",
             "evidence": "accepted but not declared: TLSv1 <b>", "variable": "tls_profile"},
            {"host": "web", "service": "host", "check": "reachable", "result": "pass", "evidence": "ok"},
            {"host": "web", "service": "www.example.org:443", "check": "hsts", "result": "warn", "evidence": "w",
             "details": ["a", "b"]},
            {"host": "web", "service": "www.example.org:443", "check": "pq-hybrid", "result": "n/a", "evidence": "n"}]},
        {"host": "mx", "addresses": [], "error": "ssh: probe unreachable"},
    ]
    meta = {"started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:09Z", "seconds": 9, "probe": "localhost",
            "inventory": ["inventories/lab"], "options": {"scan_rate": 10000}, "checks": {"host": ["reachable"]},
            "not_audited": ["scanner"]}
    return bulwark_audit_report.build_document(results, meta)


def test_the_document_matches_the_schema_sorted_and_counted() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    doc = document()
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert [f["check"] for f in doc["findings"]] == ["audit-run", "reachable", "hsts", "pq-hybrid", "tls-versions"]
    assert doc["summary"] == {"hosts": 2, "checks": 5, "pass": 1, "fail": 2, "warn": 1, "n/a": 1}
    web = doc["hosts"][1]
    assert (web["score"], web["status"]) == (50, "red")  # (1 + 1/2) / 3


def test_the_schema_requires_the_variable_of_a_fail() -> None:
    doc = document()
    del doc["findings"][-1]["variable"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_page_is_self_contained_escaped_and_expandable() -> None:
    page = bulwark_audit_report.render_html(document())
    assert "<script" not in page and "http://" not in page and "https://" not in page.replace("https://www", "")
    assert "TLSv1 &lt;b&gt;" in page and "<details><summary>details</summary><pre>a\nb</pre>" in page
    assert 'class="card red"' in page and "change: tls_profile" in page and "scanner" in page


def test_the_terminal_summary_lists_hosts_and_failures() -> None:
    lines = bulwark_audit_report.summary_lines(document(), ["audit/audit.json"])
    assert lines[0].startswith("Bulwark audit from localhost: 2 hosts, 5 checks: 1 pass, 2 fail")
    assert any("FAIL web www.example.org:443 tls-versions" in line and "tls_profile" in line for line in lines)
    assert lines[-1] == "Report: audit/audit.json"


def test_a_declared_port_nmap_lost_is_decided_by_a_tcp_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    xml = NMAP_XML.replace('portid="80"><state state="filtered"/>', f'portid="{port}"><state state="filtered"/>')

    def runner(argv: list[str], timeout: float, input_text: str | None = None) -> Any:
        return subprocess.CompletedProcess(argv, 0, xml, "")

    service = {"kind": "firewall", "service": "firewall IPv4 127.0.0.1", "address": "127.0.0.1",
               "declared": ["22/tcp", f"{port}/tcp", "443/tcp"]}
    with listener:
        declared = bulwark_audit_net.check_declared(context({"host": "h", "addresses": ["127.0.0.1"],
                                                             "services": [service]}, runner=runner), service)
    assert declared.result == "pass", declared.evidence
    assert f"{port}/tcp: open (nmap: filtered; a TCP connection decided)" in declared.evidence
    assert bulwark_audit_net.connect_state("127.0.0.1", port, 2) == "closed"  # the listener is gone
