"""Unit and property tests for roles/shared/module_utils/bulwark_zonefile.py: one absolute record per line."""

from __future__ import annotations

from typing import Any

import dns.name
import pytest
from ansible.module_utils import bulwark_zonefile
from ansible.module_utils.bulwark_zonefile import MAX_LINE_CHARS, ZoneLineError, parse_record, zone_name, zone_of
from hostile import SECRET_FRAGMENTS, assert_one_record, hostile_values, properties
from hypothesis import given
from hypothesis import strategies as st

owners = st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3) \
    .map(lambda labels: ".".join([*labels, "example", "org"]) + ".")
rdatas = st.sampled_from([
    "A 192.0.2.1", "AAAA 2001:db8::1", "MX 10 mx.example.org.", "CNAME www.example.org.", 'TXT "v=spf1 -all"',
    'CAA 0 issue "letsencrypt.org"', "TLSA 3 1 1 " + "ab" * 32, "TLSA 3 1 2 " + "cd" * 64, "NS ns.example.net.",
])
headers = st.sampled_from(["", "300 ", "IN ", "300 IN ", "IN 300 ", "0 "])


@properties(300)
@given(owner=owners, header=headers, rdata=rdatas)
def test_records_are_parsed_with_their_owner(owner: str, header: str, rdata: str) -> None:
    line = f"{owner} {header}{rdata}"
    record = parse_record(line)
    assert record.owner == dns.name.from_text(owner)
    assert_one_record(line)


MUTATIONS = {
    "relative owner": lambda line: line.replace(".org. ", ".org ", 1),
    "two records": lambda line: line + "\n" + line,
    "leading blank": lambda line: " " + line,
    "comment": lambda line: line + " ; note",
    "directive": lambda line: "$INCLUDE /etc/passwd",
    "relative data": lambda line: line.split()[0] + " IN CNAME www",
    "trailing newline": lambda line: line + "\n",
    "NUL": lambda line: line + "\x00",
    "garbage": lambda line: line.split()[0] + " IN TLSA 3 1 1 zz",
    "other class": lambda line: line.split()[0] + " CH A 192.0.2.1",
}


@properties(300)
@given(owner=owners, rdata=rdatas, mutation=st.sampled_from(sorted(MUTATIONS)))
def test_anything_but_one_absolute_record_is_refused(owner: str, rdata: str, mutation: str) -> None:
    with pytest.raises(ZoneLineError):
        parse_record(MUTATIONS[mutation](f"{owner} IN {rdata}"))


@properties(300)
@given(value=hostile_values)
def test_hostile_lines_raise_only_zone_line_errors_without_secrets(value: Any) -> None:
    try:
        parse_record(value)
    except ZoneLineError as exc:
        assert not any(fragment in str(exc) for fragment in SECRET_FRAGMENTS)
    else:
        assert_one_record(value)


def test_zones() -> None:
    zones = [zone_name("example.org"), zone_name("Sub.Example.org.")]
    assert zone_of(dns.name.from_text("a.sub.example.org."), zones) == zones[1]
    assert zone_of(dns.name.from_text("example.org."), zones) == zones[0]
    assert zone_of(dns.name.from_text("badexample.org."), zones) is None
    for bad in ("", "*.example.org", "a..b", None, "example.org\n"):
        with pytest.raises(ZoneLineError):
            zone_name(bad)
    with pytest.raises(ZoneLineError, match="more than 65536"):
        parse_record("a. IN TXT " + '"x" ' * (MAX_LINE_CHARS // 4 + 1))


def test_without_dnspython_it_loads_and_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-doc and ansible-test's import check load the filters on controllers without dnspython.
    monkeypatch.setattr(bulwark_zonefile, "dns", None)
    for call in (lambda: bulwark_zonefile.parse_record("example.org. IN A 192.0.2.1"),
                 lambda: bulwark_zonefile.zone_name("example.org")):
        with pytest.raises(bulwark_zonefile.ZoneLineError, match="dnspython is missing"):
            call()
