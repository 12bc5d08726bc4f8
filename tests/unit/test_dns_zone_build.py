"""Unit tests for roles/dns_zone/library/dns_zone_build.py: zone files, knot.conf, ACME carry-over, errors."""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

import dns_zone_build as build
from dns_zone import dns_zone_model

ZONE_READ = """[lab.test.] lab.test. 5 SOA ns.lab.test. hostmaster.lab.test. 7 14400 3600 1209600 5
[lab.test.] _acme-challenge.www.lab.test. 5 TXT "token-1"
[lab.test.] _acme-challenge.www.lab.test. 5 RRSIG TXT 13 4 5 20261211 20261127 52798 lab.test. abc==
[lab.test.] www.lab.test. 5 TXT "not a challenge"
[other.] _acme-challenge.other. 5 TXT "other zone"
"""


def lab_zone(**extra: object) -> dict:
    return dns_zone_model([{"name": "lab.test", "records": ["@ IN A 192.0.2.1", "www IN A 192.0.2.1",
                                                             "sub IN NS ns.sub", "ns.sub IN A 192.0.2.9"],
                            **extra}], {"parent_servers": ["192.0.2.2"], "dnskey_ttl": 5}, {}, 5, "ns",
                          "192.0.2.53")[0]


def test_documentation_is_yaml_and_matches_the_argument_spec() -> None:
    source = Path(build.__file__).read_text()
    docs = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "RETURN")}
    options = yaml.safe_load(docs["DOCUMENTATION"])["options"]
    spec = source[source.index("argument_spec={"):source.index("supports_check_mode")]
    assert sorted(options) == sorted(name for name in options if f'"{name}"' in spec)
    assert yaml.safe_load(docs["RETURN"])["missing"]["type"] == "list"


def test_the_zone_file_has_the_role_soa_ns_glue_records_then_the_fragment() -> None:
    text, sources = build.assemble(lab_zone(), "_443._tcp.www.lab.test. 5 IN TLSA 3 1 1 ab\n", "/f/lab.test.records")
    lines = text.splitlines()
    assert "$ORIGIN lab.test." in lines and "$TTL 5" in lines
    assert "@ 5 IN SOA ns.lab.test. hostmaster.lab.test. 1 14400 3600 1209600 3600" in lines
    assert "@ 5 IN NS ns.lab.test." in lines and "ns.lab.test. 5 IN A 192.0.2.53" in lines
    assert lines.index("www IN A 192.0.2.1") < lines.index("_443._tcp.www.lab.test. 5 IN TLSA 3 1 1 ab")
    assert len(sources) == len(lines)
    where = dict(zip(lines, sources))
    assert where["www IN A 192.0.2.1"] == ("dns_zone_zones[lab.test].records[1]", "www.lab.test")
    assert where["_443._tcp.www.lab.test. 5 IN TLSA 3 1 1 ab"] == ("/f/lab.test.records line 1",
                                                                   "_443._tcp.www.lab.test")


def test_no_fragment_no_fragment_section() -> None:
    text, _ = build.assemble(lab_zone(), None, "/f/lab.test.records")
    assert "dns_records" not in text.split("\n", 2)[2]


def test_acme_owners_cover_every_name_but_service_names_and_delegations() -> None:
    text, sources = build.assemble(lab_zone(), "_443._tcp.www.lab.test. 5 IN TLSA 3 1 1 ab\n*.app.lab.test. 5 IN A "
                                                "192.0.2.5\n", "/f")
    assert build.acme_owner_names("lab.test", sources, text) == [
        "_acme-challenge", "_acme-challenge.app", "_acme-challenge.ns", "_acme-challenge.www"]


def test_served_challenge_records_are_read_without_signatures_or_other_zones() -> None:
    assert build.served_acme_records("lab.test", ZONE_READ) == ['_acme-challenge.www.lab.test. 5 IN TXT "token-1"']


def test_carried_records_split_off_the_declared_part() -> None:
    declared = "$ORIGIN lab.test.\nwww IN A 192.0.2.1\n"
    content = declared + build.acme_section(['_acme-challenge.www.lab.test. 5 IN TXT "t"'])
    assert build.split_acme(content) == (declared, build.ACME_MARK + '\n_acme-challenge.www.lab.test. 5 IN TXT "t"\n')
    assert build.split_acme(declared) == (declared, "")
    assert build.acme_section([]) == ""


def test_knot_conf_signs_with_nsec3_no_salt_submission_and_restricted_acls() -> None:
    zone = lab_zone(secondaries=["198.51.100.7"], acme_challenge_updates=True)
    conf = build.render_knot_conf([zone], ["0.0.0.0", "::"], "/etc/knot/bulwark-keys.conf", "abcd", "/z",
                                  {"lab.test": ["_acme-challenge", "_acme-challenge.www"]})
    assert "    listen: [ 0.0.0.0@53, ::@53 ]" in conf
    assert "include: /etc/knot/bulwark-keys.conf" in conf and "secret" not in conf.replace("secrets not shown", "")
    for line in ("nsec3: on", "nsec3-iterations: 0", "nsec3-salt-length: 0", "cds-cdnskey-publish: double-ds",
                 "ksk-submission: lab.test", "dnskey-ttl: 5", "parent: [ parent-lab.test-1 ]",
                 "address: 192.0.2.2@53", "address: [ 198.51.100.7 ]", "key: bulwark-transfer",
                 "action: transfer", "notify: [ secondary-lab.test-1 ]", "address: [ 127.0.0.1, ::1 ]",
                 "key: bulwark-acme", "update-type: [ TXT ]", "update-owner: name", "update-owner-match: equal",
                 "update-owner-name: [ _acme-challenge, _acme-challenge.www ]", "zonefile-sync: -1",
                 "zonefile-load: difference-no-serial", "journal-content: all", "dnssec-signing: on",
                 "acl: [ transfer-lab.test, acme-lab.test ]"):
        assert f"    {line}" in conf, line


def test_knot_conf_for_an_unsigned_zone_without_secondaries() -> None:
    zone = dns_zone_model([{"name": "example.org", "dnssec": False}], {}, {}, 3600, "ns", "")[0]
    conf = build.render_knot_conf([zone], ["0.0.0.0"], "/k", "", "/z", {})
    assert "policy:" not in conf and "acl:" not in conf and "include:" not in conf and "dnssec-signing" not in conf


def test_keys_conf_holds_the_secrets() -> None:
    conf = build.render_keys_conf({"bulwark-acme": "c2VjcmV0"})
    assert "  - id: bulwark-acme\n    algorithm: hmac-sha256\n    secret: c2VjcmV0\n" in conf
    assert build.render_keys_conf({}) == ""


def test_the_fact_script_embeds_the_zones() -> None:
    zone = lab_zone(acme_challenge_updates=True)
    script = build.render_fact([zone], "/etc/bulwark/acme-tsig.key")
    assert script.startswith("#!/usr/bin/python3\n")
    namespace: dict = {}
    exec(compile(script.split("\n\ndef run")[0], "fact", "exec"), namespace)  # noqa: S102 - our own text
    fact = namespace["FACT"]
    assert fact["acme_tsig_key_file"] == "/etc/bulwark/acme-tsig.key"
    assert fact["zones"]["lab.test"] == {"role": "primary", "dnssec": True, "acme_challenge_updates": True,
                                         "nameservers": ["ns.lab.test."], "secondaries": [],
                                         "parent_servers": ["192.0.2.2"]}


def test_kzonecheck_errors_name_the_zone_the_source_and_the_value() -> None:
    text, sources = build.assemble(lab_zone(), None, "/f")
    lines = text.splitlines()
    number = lines.index("www IN A 192.0.2.1") + 1
    output = f"error: [lab.test.] zone loader, error in zone, file '/tmp/x', line {number} (invalid IPv4 address)"
    assert build.kzonecheck_problems("lab.test", output, sources, lines) == [
        "zone lab.test: dns_zone_zones[lab.test].records[1]: invalid IPv4 address: 'www IN A 192.0.2.1'"]
    semantic = "[www.lab.test.] another record exists beside CNAME"
    [problem] = build.kzonecheck_problems("lab.test", semantic, sources, lines)
    assert problem.startswith("zone lab.test: dns_zone_zones[lab.test].records[1]: another record exists beside CNAME")


def test_listening_reads_proc_net_udp() -> None:
    udp = ("  sl  local_address rem_address   st\n"
           "   0: 00000000:0035 00000000:0000 07\n"
           "   1: 0B521EAC:0035 00000000:0000 07\n")
    udp6 = "  sl  local_address\n   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07\n"
    assert build.listening(["0.0.0.0", "::", "172.30.82.11"], {4: udp, 6: udp6})
    assert not build.listening(["0.0.0.0", "::"], {4: udp, 6: "  sl\n"})
    assert build.listening(["0.0.0.0", "::"], {4: udp})  # no IPv6 on the host: not asked
    assert not build.listening(["192.0.2.1"], {4: udp})


def test_a_key_file_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "acme-tsig.key")
    secret, new = build.read_key(path, "bulwark-acme")
    assert new and len(secret) == 44
    build.store_key(path, "bulwark-acme", secret, new)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Path(path).read_text() == f"hmac-sha256:bulwark-acme:{secret}\n"
    assert build.read_key(path, "bulwark-acme") == (secret, False)
    assert build.read_key(path, "bulwark-transfer")[1] is True  # another key's line is not this key


class FakeHost:
    """A host where Knot runs and kzonecheck answers as told."""

    def __init__(self, kzonecheck_rc: int = 0, zone_read: str = "") -> None:
        self.kzonecheck_rc, self.zone_read, self.calls = kzonecheck_rc, zone_read, []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[0] == "systemctl":
            return 0, "active\n", ""
        if argv[0] == "kzonecheck":
            return self.kzonecheck_rc, "", "error: [lab.test.] zone loader, error in zone, line 12 (bad)"
        if argv[:2] == ["knotc", "zone-read"]:
            return 0, self.zone_read, ""
        return 0, "", ""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(build.shutil, "which", lambda program: f"/usr/bin/{program}")
    monkeypatch.setattr(build, "proc_udp_tables", lambda: {4: "x\n 0: 00000000:0035 0\n"})
    (tmp_path / "fragments").mkdir()
    (tmp_path / "zones").mkdir()
    return {"zones": [lab_zone(acme_challenge_updates=True)], "fragments_dir": str(tmp_path / "fragments"),
            "zone_dir": str(tmp_path / "zones"), "conf_path": str(tmp_path / "knot.conf"),
            "keys_conf": str(tmp_path / "bulwark-keys.conf"), "key_dir": str(tmp_path / "keys"),
            "kasp_keys_dir": str(tmp_path / "kasp"), "fact_path": str(tmp_path / "facts.d" / "bulwark_dns_zone.fact"),
            "listen": ["0.0.0.0"], "apply_marker": str(tmp_path / "knot.json")}


def test_unchanged_data_keeps_the_file_with_its_carried_records(host: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "write_private", lambda *args, **kwargs: None)
    fake = FakeHost(zone_read=ZONE_READ)
    first = build.build(host, fake, check_mode=True)
    zone_file = next(f for f in first["files"] if f["path"].endswith("lab.test.zone"))
    assert zone_file["content"].endswith(build.ACME_MARK + '\n_acme-challenge.www.lab.test. 5 IN TXT "token-1"\n')
    Path(zone_file["path"]).write_text(zone_file["content"])
    fake.calls.clear()
    again = build.build({**host, "zones": host["zones"]}, FakeHost(zone_read=""), check_mode=True)
    assert next(f for f in again["files"] if f["path"].endswith("lab.test.zone"))["content"] == zone_file["content"]
    assert first["test_command"][:2] == ["sh", "-ec"] and first["reload_command"] == ["knotc", "reload"]


def test_a_refused_zone_fails_and_writes_no_key(host: dict) -> None:
    result = build.build(host, FakeHost(kzonecheck_rc=1), check_mode=False)
    assert result["failed"] and result["msg"].startswith("zone lab.test: ")
    assert not os.path.exists(os.path.join(host["key_dir"], "acme-tsig.key"))


def test_missing_programs_stop_before_anything_else(host: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda program: None)
    assert build.build(host, FakeHost(), check_mode=False)["missing"] == ["knotc", "keymgr", "kzonecheck"]


def test_in_sync_needs_every_file_no_marker_no_stray_zone_and_an_enabled_knot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = tmp_path / "lab.test.zone"
    zone.write_text("x")
    result = {"restart": False, "directories": [str(tmp_path)], "exclusive": [str(tmp_path / "*.zone")],
              "files": [{"path": str(zone), "content": "x", "mode": "0640", "owner": "root", "group": "knot"}]}
    monkeypatch.setattr(build, "file_matches", lambda entry: Path(entry["path"]).read_text() == entry["content"])

    def enabled(argv: Sequence[str]) -> tuple[int, str, str]:
        return 0, "enabled\n", ""

    marker = str(tmp_path / "knot.json")
    assert build.in_sync(result, marker, enabled)
    assert not build.in_sync(result, marker, lambda argv: (1, "disabled\n", ""))
    assert not build.in_sync({**result, "restart": True}, marker, enabled)
    (tmp_path / "gone.test.zone").write_text("y")
    assert not build.in_sync(result, marker, enabled)
    (tmp_path / "gone.test.zone").unlink()
    Path(marker).write_text("{}")
    assert not build.in_sync(result, marker, enabled)
    Path(marker).unlink()
    zone.write_text("changed")
    assert not build.in_sync(result, marker, enabled)
