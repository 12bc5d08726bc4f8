"""Unit and property tests for roles/shared/module_utils/bulwark_dns.py: names, ports, TTLs, whole values only."""

from __future__ import annotations

from typing import Any

import dns.name
import pytest
from ansible.module_utils.bulwark_dns import (MAX_TTL, host_name, https_url_problem, int_in_range, is_host, is_label,
                                              mail_address_problem, name_problem, port, to_int, ttl)
from hostile import SECRET_FRAGMENTS, SECRET_VALUES, assert_one_record, assert_safe_message, hostile_values, properties
from hypothesis import given
from hypothesis import strategies as st

labels = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", fullmatch=True)
names = st.lists(labels, min_size=1, max_size=5).map(".".join).filter(lambda n: len(n) <= 253)
blemishes = st.sampled_from(["\n", "\r", "\t", " ", "\x00", "_", "*", "..", "é", "\\", '"', ";", "(", "$"])


@properties(300)
@given(name=names)
def test_every_accepted_name_is_a_dns_owner_name(name: str) -> None:
    assert name_problem(name) is None
    assert dns.name.from_text(name + ".").to_text(omit_final_dot=True).lower() == name.lower()
    assert_one_record(f"{name}. IN A 192.0.2.1")


@properties(300)
@given(name=names, blemish=blemishes, where=st.integers(0, 300))
def test_a_blemish_anywhere_is_refused(name: str, blemish: str, where: int) -> None:
    position = where % (len(name) + 1)
    problem = name_problem(name[:position] + blemish + name[position:])
    assert problem is not None and "\n" not in problem.replace("\\n", "")


@properties(300)
@given(value=hostile_values)
def test_validators_take_anything_and_answer_safely(value: Any) -> None:
    problem = name_problem(value)
    assert problem is None or not any(fragment in problem for fragment in SECRET_FRAGMENTS)
    number = to_int(value)
    assert number is None or (isinstance(number, int) and not isinstance(number, bool))
    assert port(value) is None or 1 <= port(value) <= 65535  # type: ignore[operator]
    assert ttl(value) is None or 0 <= ttl(value) <= MAX_TTL  # type: ignore[operator]
    assert isinstance(is_label(value), bool)
    secret = isinstance(value, str) and value in SECRET_VALUES
    for problem in (https_url_problem(value), mail_address_problem(value)):
        assert problem is None or not (secret and any(fragment in problem for fragment in SECRET_FRAGMENTS))
    try:
        assert host_name(value) == value[: -1 if value.endswith(".") else None].lower()  # type: ignore[union-attr]
    except ValueError as exc:
        if secret:
            assert_safe_message(str(exc), "not a DNS name")


@properties(300)
@given(number=st.integers(0, 10**20 - 1), noise=st.sampled_from(["\n", " ", "+", "-", "0x", "\t", "_0", "١"]))
def test_decimal_strings_are_whole_values(number: int, noise: str) -> None:
    assert to_int(str(number)) == number
    assert to_int(str(number) + noise) is None and to_int(noise + str(number)) is None


def test_ranges_and_refusals() -> None:
    assert port("443") == 443 and port(0) is None and port(65536) is None and port(True) is None
    assert ttl(0) == 0 and ttl(MAX_TTL) == MAX_TTL and ttl(MAX_TTL + 1) is None and ttl(-1) is None
    assert to_int("9" * 21) is None and to_int(10**5000) == 10**5000 and int_in_range(10**5000, 0, 10) is None
    assert to_int(1.0) is None and to_int("1.0") is None and to_int(None) is None


def test_host_names_are_lower_case_without_the_trailing_dot() -> None:
    assert host_name("WWW.Example.ORG.") == "www.example.org"
    assert host_name("*.Example.org", wildcard=True) == "*.example.org"
    with pytest.raises(ValueError, match=r"^'\*\.example\.org' is not a DNS name \(wildcards are not allowed\)$"):
        host_name("*.example.org")
    with pytest.raises(ValueError, match=r"^42 is not a DNS name \(it is not a string\)$"):
        host_name(42)
    assert is_host("192.0.2.1") and is_host("2001:db8::1") and is_host("example.org.") and not is_host("a_b.example")


@pytest.mark.parametrize(("url", "problem"), [
    ("https://hooks.example.org/ct?token=x", None),
    ("https://192.0.2.1:8443/", None),
    ("https://[2001:db8::1]/x", None),
    ("HTTPS://Example.org", None),
    ("http://hooks.example.org/", "it is not https://"),
    ("https://hooks example.org/", "it must be printable ASCII without spaces"),
    ("https://hooks.example.org/\n", "it must be printable ASCII without spaces"),
    ("https://[::1/", "it is not a URL (brackets or port)"),
    ("https://a.example:99999/", "it is not a URL (brackets or port)"),
    ("https://a.example:0/", "its port is 0"),
    ("https:///path", "its host is not a DNS name or an IP address"),
    ("https://bad_host.example/", "its host is not a DNS name or an IP address"),
    ("hooks.example.org", "it is not https://"),
    ("", "it must be printable ASCII without spaces"),
    (None, "it is not a string"),
])
def test_https_urls(url: Any, problem: str | None) -> None:
    assert https_url_problem(url) == problem


@pytest.mark.parametrize(("address", "ok"), [
    ("security@example.org", True), ("root@localhost", True), ("a.b+ct@mail.example.org", True),
    ("security", False), ("a b@example.org", False), ("@example.org", False), ("x@bad_domain.example", False),
    ("x@example.org.", False), ("x\n@example.org", False), ("a" * 65 + "@example.org", False), (None, False),
])
def test_mail_addresses(address: Any, ok: bool) -> None:
    assert (mail_address_problem(address) is None) is ok
