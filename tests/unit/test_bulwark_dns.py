"""Unit and property tests for roles/shared/module_utils/bulwark_dns.py: names, ports, TTLs, whole values only."""

from __future__ import annotations

from typing import Any

import dns.name
from ansible.module_utils.bulwark_dns import MAX_TTL, int_in_range, is_label, name_problem, port, to_int, ttl
from hostile import SECRET_FRAGMENTS, assert_one_record, hostile_values, properties
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
