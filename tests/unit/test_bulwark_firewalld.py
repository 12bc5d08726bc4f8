"""Unit tests of the pure logic in roles/firewalld/library/bulwark_firewalld.py (no firewalld needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import bulwark_firewalld as fw
import pytest
from hypothesis import given
from hypothesis import strategies as st

PortRange, SourceRule = fw.PortRange, fw.SourceRule
NAME = "firewalld_ports"


def spec_error(entries: list[object]) -> str:
    with pytest.raises(fw.SpecError) as info:
        fw.parse_entries(entries, NAME)
    return str(info.value)


# --- parsing and validating port specs -------------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ("22/tcp", PortRange("tcp", 22, 22)),
    ("8000-8005/tcp", PortRange("tcp", 8000, 8005)),
    ("53/udp", PortRange("udp", 53, 53)),
    ("1/sctp", PortRange("sctp", 1, 1)),
    ("65535/dccp", PortRange("dccp", 65535, 65535)),
    ("443/TCP", PortRange("tcp", 443, 443)),
    ("7-7/udp", PortRange("udp", 7, 7)),
])
def test_parse_port_accepts_ports_and_ranges(spec: str, expected: object) -> None:
    assert fw.parse_port(spec) == expected


@pytest.mark.parametrize(("spec", "reason"), [
    ("443/tpc", "protocol must be one of tcp, udp, sctp, dccp"),
    ("443/", "protocol is missing"),
    ("70000/tcp", "port 70000 is out of range 1-65535"),
    ("0/tcp", "port 0 is out of range 1-65535"),
    ("10-5/tcp", "range 10-5 is reversed"),
    ("abc", "must be PORT/PROTO or LOW-HIGH/PROTO"),
    ("443", "must be PORT/PROTO or LOW-HIGH/PROTO"),
    ("/tcp", "port must be a number"),
    ("80-/tcp", "port must be a number"),
    ("http/tcp", "port must be a number"),
    ("80,443/tcp", "port must be a number"),
])
def test_parse_port_says_what_is_wrong(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        fw.parse_port(spec)


def test_error_names_the_variable_the_index_and_the_value() -> None:
    message = spec_error(["22/tcp", "80/tcp", "443/tpc"])
    assert message == "firewalld_ports[2] = '443/tpc': protocol must be one of tcp, udp, sctp, dccp"


def test_every_bad_entry_is_named_at_once() -> None:
    message = spec_error(["70000/tcp", "22/tcp", "abc", "10-5/tcp"])
    assert "firewalld_ports[0] = '70000/tcp'" in message
    assert "firewalld_ports[2] = 'abc'" in message
    assert "firewalld_ports[3] = '10-5/tcp'" in message
    assert "firewalld_ports[1]" not in message


@pytest.mark.parametrize(("entry", "fragment"), [
    ({"port": "1414/tcp", "sources": ["203.0.113.0/33"]},
     "firewalld_ports[0].sources[0] = '203.0.113.0/33': must be an IPv4 or IPv6 address or network"),
    ({"port": "1414/tcp", "sources": ["office"]}, "firewalld_ports[0].sources[0] = 'office'"),
    ({"port": "1414/tcp", "sources": ["203.0.113.7/24"]}, "has host bits set: did you mean '203.0.113.0/24'?"),
    ({"port": "1414/tcp", "sources": ["2001:db8::1/32"]}, "did you mean '2001:db8::/32'?"),
    ({"port": "1414/tcpx", "sources": ["203.0.113.0/24"]}, "firewalld_ports[0].port = '1414/tcpx': protocol must"),
    ({"port": "1414/tcp"}, "firewalld_ports[0].sources = None: must be a non-empty list"),
    ({"port": "1414/tcp", "sources": []}, "firewalld_ports[0].sources = []: must be a non-empty list"),
    ({"port": "1414/tcp", "sources": "203.0.113.0/24"}, "must be a non-empty list"),
    ({"port": 1414, "sources": ["203.0.113.0/24"]}, "firewalld_ports[0].port = 1414: must be a string"),
    ({"port": "1414/tcp", "source": ["203.0.113.0/24"]}, "firewalld_ports[0]: unknown key 'source'"),
    (80, "firewalld_ports[0] = 80: must be a string 'PORT/PROTO' or a mapping"),
    (None, "firewalld_ports[0] = None"),
])
def test_bad_mapping_entries_are_named(entry: object, fragment: str) -> None:
    assert fragment in spec_error([entry])


def test_ports_must_be_a_list() -> None:
    assert "firewalld_ports must be a list" in spec_error("22/tcp")  # type: ignore[arg-type]


def test_sources_are_normalised_to_cidr() -> None:
    assert fw.parse_source("203.0.113.7") == "203.0.113.7/32"
    assert fw.parse_source("2001:DB8:0::/32") == "2001:db8::/32"
    assert fw.parse_source(" 198.51.100.0/24 ") == "198.51.100.0/24"


# --- the declaration, normalised ----------------------------------------------------------------


def test_overlapping_ranges_are_merged_and_adjacent_ones_kept() -> None:
    merged = fw.merge_ranges([PortRange("tcp", 8000, 8005), PortRange("tcp", 8003, 8003),
                              PortRange("tcp", 8004, 8010), PortRange("tcp", 80, 80),
                              PortRange("tcp", 81, 81), PortRange("udp", 8003, 8003)])
    assert [str(p) for p in merged] == ["80/tcp", "81/tcp", "8000-8010/tcp", "8003/udp"]


def test_duplicates_collapse() -> None:
    desired = fw.parse_entries(["22/tcp", "22/tcp", "22/TCP"], NAME)
    assert [str(p) for p in desired.ports] == ["22/tcp"]


def test_sourced_entries_become_one_rich_rule_per_network_with_the_family_of_the_network() -> None:
    desired = fw.parse_entries([{"port": "9443/tcp", "sources": ["203.0.113.0/24", "2001:db8::/32"]}], NAME)
    assert desired.ports == ()
    assert [str(r) for r in desired.rules] == [
        'rule family="ipv4" source address="203.0.113.0/24" port port="9443" protocol="tcp" accept',
        'rule family="ipv6" source address="2001:db8::/32" port port="9443" protocol="tcp" accept',
    ]


@given(st.integers(1, 65535), st.integers(0, 100), st.sampled_from(fw.PROTOCOLS))
def test_a_port_range_reads_back_from_its_own_text(low: int, width: int, protocol: str) -> None:
    port = PortRange(protocol, low, min(low + width, 65535))
    assert fw.parse_port(str(port)) == port


@given(st.lists(st.tuples(st.integers(1, 200), st.integers(0, 20), st.sampled_from(("tcp", "udp"))), max_size=12))
def test_merging_keeps_the_same_ports_open_and_leaves_no_overlap(raw: list[tuple[int, int, str]]) -> None:
    ranges = [PortRange(proto, low, low + width) for low, width, proto in raw]
    merged = fw.merge_ranges(ranges)

    def open_ports(items: object) -> set[tuple[str, int]]:
        return {(r.protocol, n) for r in items for n in range(r.low, r.high + 1)}

    assert open_ports(merged) == open_ports(ranges)
    for first, second in zip(merged, merged[1:]):
        assert first.protocol != second.protocol or first.high < second.low


# --- the SSH lockout check ------------------------------------------------------------------------


def test_no_lockout_when_the_ssh_port_is_open_to_everyone() -> None:
    desired = fw.parse_entries(["2200-2299/tcp"], NAME)
    assert fw.lockout_problem(desired, 2222, "192.0.2.10", NAME) is None


def test_lockout_names_the_port_and_the_variable() -> None:
    desired = fw.parse_entries(["80/tcp", "22/udp"], NAME)
    problem = fw.lockout_problem(desired, 22, "192.0.2.10", NAME)
    assert problem is not None
    assert "22/tcp" in problem and "firewalld_ports" in problem and "192.0.2.10" in problem


def test_a_source_restricted_ssh_port_is_fine_when_the_controller_is_a_source() -> None:
    desired = fw.parse_entries([{"port": "22/tcp", "sources": ["192.0.2.0/24", "2001:db8::/32"]}], NAME)
    assert fw.lockout_problem(desired, 22, "192.0.2.10", NAME) is None
    assert fw.lockout_problem(desired, 22, "2001:db8::7", NAME) is None


def test_a_source_restricted_ssh_port_locks_out_a_controller_elsewhere() -> None:
    desired = fw.parse_entries([{"port": "22/tcp", "sources": ["203.0.113.0/24"]}], NAME)
    problem = fw.lockout_problem(desired, 22, "192.0.2.10", NAME)
    assert problem is not None and "only to 203.0.113.0/24" in problem and "192.0.2.10" in problem
    assert fw.lockout_problem(desired, 22, None, NAME) is not None


def test_no_check_without_an_ssh_port() -> None:
    assert fw.lockout_problem(fw.parse_entries([], NAME), None, None, NAME) is None


# --- comparing firewalld's state with the declaration ------------------------------------------


def firewalld_state(desired: object, **extra: object) -> object:
    """The state firewalld reports after being given ``desired``, written the way firewalld writes it."""
    return fw.ZoneState.from_settings({
        "ports": [(p.port, p.protocol) for p in reversed(desired.ports)],
        "rules_str": [str(r).replace("2001:db8", "2001:DB8") for r in desired.rules],
        **extra,
    })


def test_the_state_firewalld_reports_after_applying_matches_the_declaration() -> None:
    desired = fw.parse_entries(["22/tcp", "8000-8005/tcp", "53/udp",
                                {"port": "9443/tcp", "sources": ["203.0.113.0/24", "2001:db8::/32"]}], NAME)
    assert fw.state_lines(firewalld_state(desired)) == fw.desired_lines(desired)


def test_stock_services_and_hand_made_extras_show_up_as_differences() -> None:
    desired = fw.parse_entries(["22/tcp"], NAME)
    state = fw.ZoneState.from_settings({
        "services": ["ssh", "dhcpv6-client"], "ports": [("22", "tcp"), ("8888", "tcp")],
        "protocols": ["icmp"], "source_ports": [("53", "udp")],
        "forward_ports": [("2222", "tcp", "22", "")],
        "rules_str": ['rule family="ipv4" service name="http" accept'],
    })
    extra = fw.state_lines(state) - fw.desired_lines(desired)
    assert extra == {"service ssh", "service dhcpv6-client", "port 8888/tcp", "protocol icmp",
                     "source-port 53/udp", "forward-port 2222:tcp:22:",
                     'rule family="ipv4" service name="http" accept'}


def test_ports_firewalld_keeps_apart_compare_equal_to_their_merged_form() -> None:
    state = fw.ZoneState.from_settings({"ports": [("8000-8005", "tcp"), ("8003", "tcp")]})
    assert fw.state_lines(state) == {"port 8000-8005/tcp"}


def test_diff_lists_are_sorted_lines() -> None:
    entry = fw.diff_entry("zone public (runtime)", {"service ssh", "port 22/tcp"}, {"port 22/tcp"})
    assert entry["before"] == "port 22/tcp\nservice ssh\n"
    assert entry["after"] == "port 22/tcp\n"
    assert entry["before_header"] == entry["after_header"] == "zone public (runtime)"


# --- interfaces -----------------------------------------------------------------------------------

ROUTE_V4 = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
ROUTE_V6 = """fd42000000b000520000000000000000 40 00000000000000000000000000000000 00 \
00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
fd42000000b000520000000000000001 00000400 00000001 00000000 00000003     eth2
00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
"""


def test_default_route_interfaces_come_from_both_families_and_skip_loopback_rejects() -> None:
    assert fw.default_route_interfaces(ROUTE_V4, ROUTE_V6) == ["eth0", "eth2"]
    assert fw.default_route_interfaces("", "") == []


def test_only_interfaces_filtered_by_another_zone_move() -> None:
    zones = fw.effective_zones(["eth0", "eth1", "eth2"], {"eth1": "dmz", "eth2": "public"}, "public")
    assert zones == {"eth0": "public", "eth1": "dmz", "eth2": "public"}
    assert fw.interfaces_to_move(zones, "public") == ["eth1"]
    assert fw.interfaces_to_move(zones, "internal") == ["eth0", "eth1", "eth2"]


# --- the rollback script --------------------------------------------------------------------------


def test_rollback_reloads_and_puts_moved_interfaces_back() -> None:
    script = fw.rollback_script("reload", "internal", {"eth0": "", "eth1": "dmz"})
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert lines.index("firewall-cmd --reload") < lines.index("firewall-cmd --zone=dmz --change-interface=eth1")
    assert "firewall-cmd --zone=internal --remove-interface=eth0" in lines
    assert "systemctl stop bulwark-firewalld-rollback.timer 2>/dev/null" in lines
    assert lines[-1] == 'rm -f "$0"'


def test_rollback_stops_firewalld_when_it_was_not_running_before() -> None:
    script = fw.rollback_script("stop", "public", {"eth0": ""})
    assert "systemctl stop firewalld" in script and "firewall-cmd" not in script


def test_rollback_quotes_names() -> None:
    assert "--change-interface='eth0;reboot'" in fw.rollback_script("reload", "public", {"eth0;reboot": "dmz"})


# ---------------------------------------------------------------------------------------------------------------
# Crash safety: the start guard, the proof marker, the zone file an unproven firewalld starts with
# ---------------------------------------------------------------------------------------------------------------

STOCK_PUBLIC = """<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas.</description>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <port port="8888" protocol="tcp"/>
  <icmp-block name="echo-request"/>
  <forward/>
</zone>
"""


def test_the_guard_lets_firewalld_start_only_when_proven_or_started_by_the_role() -> None:
    text = fw.guard_dropin()
    assert "[Unit]" in text
    assert f"ConditionPathExists=|{fw.PROVEN_MARKER}" in text
    assert f"ConditionPathExists=|{fw.START_FLAG}" in text
    assert fw.START_FLAG.startswith("/run/")  # gone after a reboot


def test_a_proof_holds_only_for_the_same_zone_and_the_same_permanent_rules() -> None:
    lines = {"port 22/tcp", "interface eth0 in zone public"}
    record = fw.proven_record("public", lines)
    assert fw.is_proven(record, "public", set(lines))
    assert fw.is_proven(record, "public", None)  # firewalld not running: only the zone can be compared
    assert not fw.is_proven(record, "public", lines | {"service ssh"})  # changed by hand since
    assert not fw.is_proven(record, "internal", lines)
    assert not fw.is_proven(None, "public", lines)
    assert not fw.is_proven('{"zone": "pub', "public", lines)  # cut short by a crash


def test_default_zone_is_read_from_firewalld_conf() -> None:
    assert fw.default_zone("# c\nDefaultZone=internal\nCleanupOnExit=yes\n") == "internal"
    assert fw.default_zone("DefaultZone=\n") == "public"


def test_an_unproven_firewalld_starts_with_exactly_the_declared_ports_in_its_zone_file() -> None:
    desired = fw.parse_entries(["2222/tcp", "443/tcp", {"port": "9443/tcp", "sources": ["203.0.113.0/24"]}])
    text = fw.offline_zone(STOCK_PUBLIC, desired, ["eth0"])
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(text)
    assert [c.tag for c in root if c.tag in ("service", "port", "rule")] == ["port", "port", "rule"]
    assert {(p.get("port"), p.get("protocol")) for p in root.findall("port")} == {("2222", "tcp"), ("443", "tcp")}
    rule = root.find("rule")
    assert rule.get("family") == "ipv4" and rule.find("source").get("address") == "203.0.113.0/24"
    assert rule.find("port").get("port") == "9443" and rule.find("accept") is not None
    # Left as the zone had it: its name, ICMP blocks, forwarding.
    assert root.find("short").text == "Public" and root.find("icmp-block") is not None
    assert [i.get("name") for i in root.findall("interface")] == ["eth0"]
    assert fw.offline_zone(text, desired, ["eth0"]) == text  # the same zone file twice is no change
