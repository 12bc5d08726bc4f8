"""Unit tests for roles/shared/filter_plugins/mail_policy.py: MTA-STS policy and records, TLS-RPT record."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from mail_policy import mta_sts_id, mta_sts_policy, mta_sts_record, tls_rpt_record


def test_policy_text_follows_rfc_8461() -> None:
    text = mta_sts_policy(["mx1.Example.org", "*.mx.example.org", "mx1.example.org."], mode="testing", max_age="86400")
    assert text == ("version: STSv1\nmode: testing\nmx: mx1.example.org\nmx: *.mx.example.org\nmax_age: 86400\n")


def test_mode_none_needs_no_mx() -> None:
    assert mta_sts_policy([], mode="none") == "version: STSv1\nmode: none\nmax_age: 604800\n"


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "strict"}, "mode must be enforce, testing or none, got 'strict'"),
    ({"max_age": 31557601}, "max_age must be an integer from 0 to 31557600, got 31557601"),
    ({"max_age": -1}, "max_age must be an integer from 0 to 31557600, got -1"),
    ({"max_age": True}, "max_age must be an integer"),
])
def test_policy_refuses_bad_input_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        mta_sts_policy(["mx.example.org"], **kwargs)


def test_policy_refuses_bad_mx_and_empty_mx() -> None:
    with pytest.raises(AnsibleFilterError, match=r"mx\[1\] must be a DNS name"):
        mta_sts_policy(["mx.example.org", "bad_name.example.org"])
    with pytest.raises(AnsibleFilterError, match="at least one MX host in mode enforce"):
        mta_sts_policy([])


def test_id_changes_exactly_when_the_policy_does() -> None:
    one = mta_sts_policy(["mx.example.org"])
    assert mta_sts_id(one) == mta_sts_id(one.replace("\n", "\r\n"))
    assert mta_sts_id(one) != mta_sts_id(mta_sts_policy(["mx.example.org"], mode="testing"))
    assert re.fullmatch(r"[0-9a-f]{32}", mta_sts_id(one))


def test_mta_sts_record() -> None:
    policy = mta_sts_policy(["mx.example.org"])
    assert mta_sts_record(policy, "Example.org.", ttl=3600) == (
        f'_mta-sts.example.org. 3600 IN TXT "v=STSv1; id={mta_sts_id(policy)}"')
    with pytest.raises(AnsibleFilterError, match="policy must be an MTA-STS policy text"):
        mta_sts_record("mode: enforce", "example.org")


def test_tls_rpt_record() -> None:
    assert tls_rpt_record("example.org", ["mailto:tlsrpt@example.org", "https://r.example.net/v1"]) == (
        '_smtp._tls.example.org. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://r.example.net/v1"')
    with pytest.raises(AnsibleFilterError, match=r"rua\[0\] must be a mailto: or https: URI"):
        tls_rpt_record("example.org", ["http://insecure.example.org"])
    with pytest.raises(AnsibleFilterError, match="rua must be a non-empty list"):
        tls_rpt_record("example.org", [])
