"""Unit tests for roles/acme_certificates/library/acme_tlsa_observe.py: every authoritative server must serve the
key's TLSA record, authoritatively, for the check to pass."""

from __future__ import annotations

import pytest

from acme_tlsa_observe import Answer, observe, serves

SHA256 = "ab" * 32
SHA512 = "cd" * 64
CHECK = {"id": "www/ecdsa", "owners": ["_443._tcp.www.example.org"], "spki_sha256": SHA256, "spki_sha512": SHA512}
SERVERS = [("ns1.example.org.", "192.0.2.1"), ("ns2.example.net.", "198.51.100.2")]


def find(owner: str) -> tuple[str, list[tuple[str, str]]]:
    return "example.org.", SERVERS


@pytest.mark.parametrize(("records", "expected"), [
    ([(3, 1, 1, SHA256)], True),
    ([(3, 1, 2, SHA512.upper())], True),
    ([(1, 1, 1, SHA256)], True),
    ([(2, 1, 1, SHA256)], False),
    ([(3, 0, 1, SHA256)], False),
    ([(3, 1, 1, "00" * 32)], False),
    ([], False),
])
def test_which_records_count_as_serving_the_key(records: list[tuple[int, int, int, str]], expected: bool) -> None:
    assert serves(Answer(True, 300, records), SHA256, SHA512) is expected


def test_all_serve_only_when_every_server_answers_authoritatively_with_the_record() -> None:
    def ask(owner: str, address: str) -> Answer:
        return Answer(True, 300 if address.startswith("192") else 600, [(3, 1, 1, SHA256)])

    result = observe([CHECK], find, ask)["www/ecdsa"]
    assert result["all_serve"] is True and result["ttl"] == 600
    assert [s["name"] for s in result["servers"]] == ["ns1.example.org.", "ns2.example.net."]


def test_one_lagging_server_means_not_yet() -> None:
    def ask(owner: str, address: str) -> Answer:
        return Answer(True, 300, [(3, 1, 1, SHA256)] if address == "192.0.2.1" else [])

    result = observe([CHECK], find, ask)["www/ecdsa"]
    assert result["all_serve"] is False
    assert [s["serves"] for s in result["servers"]] == [True, False]


def test_a_non_authoritative_answer_does_not_count() -> None:
    result = observe([CHECK], find, lambda owner, address: Answer(False, 300, [(3, 1, 1, SHA256)]))["www/ecdsa"]
    assert result["all_serve"] is False and result["servers"][0]["error"] == "answer is not authoritative"


def test_an_unreachable_server_does_not_count() -> None:
    def ask(owner: str, address: str) -> Answer:
        if address == "198.51.100.2":
            raise TimeoutError("timed out")
        return Answer(True, 300, [(3, 1, 1, SHA256)])

    result = observe([CHECK], find, ask)["www/ecdsa"]
    assert result["all_serve"] is False and result["servers"][1]["error"] == "timed out"


def test_a_zone_that_cannot_be_found_is_reported() -> None:
    def lost(owner: str) -> tuple[str, list[tuple[str, str]]]:
        raise LookupError("NXDOMAIN")

    result = observe([CHECK], lost, lambda o, a: Answer(True, 1, []))["www/ecdsa"]
    assert result["all_serve"] is False and "NXDOMAIN" in result["error"]


def test_no_staged_key_never_serves() -> None:
    result = observe([{**CHECK, "spki_sha256": ""}], find, lambda o, a: Answer(True, 1, []))["www/ecdsa"]
    assert result == {"all_serve": False, "ttl": None, "servers": [], "error": "no staged key"}
