"""Unit tests for roles/acme_certificates/library/acme_dns01.py with a fake kdig/knsupdate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import acme_dns01
import pytest

RECORDS = [{"name": "_acme-challenge.app.lab.test", "values": ["tok-1"]},
           {"name": "_acme-challenge.lab.test", "values": ["tok-2", "tok_3"]}]


class FakeDns:
    """Answers kdig from a table {(server, name, type): [lines]}; records what knsupdate was sent."""

    def __init__(self, table: dict[tuple[str, str, str], list[str]]) -> None:
        self.table = table
        self.updates: list[str] = []

    def __call__(self, argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
        if argv[0] == "knsupdate":
            self.updates.append(data or "")
            return 0, "", ""
        server = next((a[1:] for a in argv if a.startswith("@")), "resolver")
        name, rtype = argv[-2], argv[-1]
        return 0, "".join(f"{line}\n" for line in self.table.get((server, name.rstrip("."), rtype), [])), ""


def test_one_update_adds_every_value_with_the_key_and_a_short_ttl() -> None:
    dns = FakeDns({})
    acme_dns01.update(dns, "/etc/bulwark/acme-tsig.key", "127.0.0.1", "lab.test", RECORDS, 60, present=True)
    assert dns.updates == ['server 127.0.0.1\nzone lab.test.\n'
                           'update add _acme-challenge.app.lab.test. 60 TXT "tok-1"\n'
                           'update add _acme-challenge.lab.test. 60 TXT "tok-2"\n'
                           'update add _acme-challenge.lab.test. 60 TXT "tok_3"\nsend\n']
    acme_dns01.update(dns, "/k", "127.0.0.1", "lab.test", RECORDS[:1], 60, present=False)
    assert 'update delete _acme-challenge.app.lab.test. TXT "tok-1"' in dns.updates[-1]


def test_the_servers_are_the_ns_set_with_glue_or_resolved_addresses() -> None:
    dns = FakeDns({("127.0.0.1", "lab.test", "NS"): ["ns.lab.test.", "ns2.example.net."],
                   ("127.0.0.1", "ns.lab.test", "A"): ["192.0.2.13"],
                   ("127.0.0.1", "ns.lab.test", "AAAA"): ["fd42::13"],
                   ("resolver", "ns2.example.net", "A"): ["198.51.100.2"]})
    assert acme_dns01.authoritative_servers(dns, "127.0.0.1", "lab.test") == ["192.0.2.13", "fd42::13",
                                                                               "198.51.100.2"]


def test_a_zone_not_served_here_or_a_server_without_address_is_named() -> None:
    with pytest.raises(acme_dns01.Dns01Error, match="serves no NS set for lab.test"):
        acme_dns01.authoritative_servers(FakeDns({}), "127.0.0.1", "lab.test")
    dns = FakeDns({("127.0.0.1", "lab.test", "NS"): ["ns.lab.test."]})
    with pytest.raises(acme_dns01.Dns01Error, match="name server ns.lab.test. of lab.test has no address"):
        acme_dns01.authoritative_servers(dns, "127.0.0.1", "lab.test")


def test_the_wait_ends_when_every_server_serves_every_value() -> None:
    table: dict[tuple[str, str, str], list[str]] = {
        ("a", "_acme-challenge.app.lab.test", "TXT"): ['"tok-1"'],
        ("a", "_acme-challenge.lab.test", "TXT"): ['"tok-2"', '"tok_3"', '"other"']}
    dns = FakeDns(table)
    ticks = iter(range(100))

    def sleep(_: float) -> None:  # the second server catches up after two polls
        if next(ticks) == 1:
            table.update({("b", n, t): v for (s, n, t), v in list(table.items()) if s == "a"})

    servers, seconds = acme_dns01.wait_served(dns, ["a", "b"], RECORDS, 30, clock=lambda: 0.0, sleep=sleep)
    assert servers == [{"address": "a", "serves": True}, {"address": "b", "serves": True}]


def test_a_server_that_never_serves_is_named_after_the_timeout() -> None:
    clock = iter(float(t) for t in range(100))
    with pytest.raises(acme_dns01.Dns01Error, match="still do not serve the challenge records: b"):
        acme_dns01.wait_served(FakeDns({("a", r["name"], "TXT"): r["values"] for r in RECORDS}), ["a", "b"],
                               RECORDS, 3, clock=lambda: next(clock), sleep=lambda _: None)


@pytest.mark.parametrize(("records", "message"), [
    ([{"name": "www.lab.test", "values": ["t"]}], "not an _acme-challenge name in lab.test"),
    ([{"name": "_acme-challenge.www.example.org", "values": ["t"]}], "not an _acme-challenge name in lab.test"),
    ([{"name": "_acme-challenge.www.lab.test", "values": ['t" ; update add evil']}], "not a base64url token"),
])
def test_odd_records_are_refused_before_any_update(records: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(acme_dns01.Dns01Error, match=message):
        acme_dns01.check_records(records, "lab.test")
