"""Unit and property tests for roles/shared/module_utils/bulwark_messages.py: values described, never leaked."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.module_utils.bulwark_messages import SHORT, describe, describe_url, format_int, secret_kind
from hostile import SECRET_FRAGMENTS, SECRET_VALUES, hostile_values, properties
from hypothesis import given
from hypothesis import strategies as st


@properties(500)
@given(value=hostile_values)
def test_any_value_is_described_briefly_and_without_secrets(value: Any) -> None:
    for text in (describe(value), describe_url(value)):
        assert isinstance(text, str) and len(text) < 2 * SHORT + 60
        assert "-----" not in text and not any(fragment in text for fragment in SECRET_FRAGMENTS)


@properties(200)
@given(prefix=st.text(max_size=20), secret=st.sampled_from(SECRET_VALUES), suffix=st.text(max_size=20))
def test_key_material_anywhere_in_a_string_is_not_shown(prefix: str, secret: str, suffix: str) -> None:
    text = describe(prefix + secret + suffix)
    assert not any(fragment in text for fragment in SECRET_FRAGMENTS), text


@properties(200)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=SHORT))
def test_a_short_plain_string_is_shown_as_its_repr(text: str) -> None:
    if secret_kind(text) is None:
        assert describe(text) == repr(text)


@properties(300)
@given(number=st.integers(min_value=-(10**4000), max_value=10**4000))
def test_integers_are_exact_when_short_and_sized_when_long(number: int) -> None:
    digits = len(str(abs(number)))
    if digits <= 20:
        assert format_int(number) == str(number) == describe(number)
    else:
        assert f"about {digits} digits" in format_int(number) or f"about {digits + 1} digits" in format_int(number) \
            or f"about {digits - 1} digits" in format_int(number)


def test_integers_past_pythons_conversion_limit() -> None:
    assert format_int(10**100_000) == "an integer of about 100001 digits"
    assert format_int(-(10**5000)) == "a negative integer of about 5001 digits"


@pytest.mark.parametrize(("value", "text"), [
    (None, "None"), (True, "True"), (1.5, "a float"), ([1, 2], "a list of 2 items"), ((1,), "a tuple of 1 item"),
    ({"a": 1}, "a dict with 1 key"), (b"abc", "a bytes value of 3 bytes"), (object(), "a object"),
    ("x" * 100, "'" + "x" * SHORT + "'... (100 characters)"),
    ("www.example.org\n", "'www.example.org\\n'"),
    ("key=" + "0123456789abcdef" * 4, "'key='... (68 characters)"),
    ("-----BEGIN CERTIFICATE-----\nAAAA", "a 32-character string that looks like PEM text (not shown)"),
    ("MHcCAQEEIB3xP2abcdefghijkL", "a 26-character string that looks like key material (not shown)"),
])
def test_descriptions(value: Any, text: str) -> None:
    assert describe(value) == text


@pytest.mark.parametrize(("url", "shown"), [
    ("http://hooks.example.org/s3cret-token", "'http://hooks.example.org/...'"),
    ("https://hooks.example.org/?key=s3cret", "'https://hooks.example.org/...'"),
    ("https://user:s3cret@hooks.example.org", "'https://hooks.example.org/...'"),
    ("https://hooks.example.org/", "'https://hooks.example.org'"),
    ("hooks.example.org/s3cret", "'hooks.example.org/s3cret'"),  # not a URL: shown as describe shows text
    ("https://[::1/s3cret", "'https://[::1/s3cret'"),
    (42, "42"),
])
def test_a_url_is_shown_without_its_path_query_or_user(url: Any, shown: str) -> None:
    assert describe_url(url) == shown
