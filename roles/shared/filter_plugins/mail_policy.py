# -*- coding: utf-8 -*-
"""Filters for the DNS and HTTPS side of mail transport security: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460).

* ``mta_sts_policy`` - the policy file served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``
* ``mta_sts_record`` - the ``_mta-sts.<domain>`` TXT line, its id computed from the policy text
* ``tls_rpt_record`` - the ``_smtp._tls.<domain>`` TXT line

The id is a digest of the policy text, so it changes exactly when the policy does and needs no state: the
mail role that writes the file and the dns_records role that publishes the record compute the same id from
the same text. Standard library and ansible only; errors name the argument and the bad value.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]

MTA_STS_MODES = ("enforce", "testing", "none")
# RFC 8461 section 3.2: max_age is at most 31557600 seconds (about one year).
MTA_STS_MAX_AGE = 31557600
# RFC 8461 section 3.1: id is 1 to 32 letters and digits.
_ID_LENGTH = 32
_MAX_TTL = 2**31 - 1
_RUA_RE = re.compile(r"^(?:mailto:[^\s,;!@]+@[A-Za-z0-9.-]+|https://[^\s,;!]+)$")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:76] + "...'"


def _fail(name: str, message: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{name}: {message}")


def _domain(name: str, arg: str, value: Any, wildcard: bool = False) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"{arg} must be a DNS name, got {_show(value)}")
    text = value[:-1] if value.endswith(".") else value
    problem = bulwark_dns.name_problem(text.lower(), wildcard=wildcard)
    if problem:
        raise _fail(name, f"{arg} must be a DNS name ({problem}), got {_show(value)}")
    return text.lower()


def _int(name: str, arg: str, value: Any, low: int, high: int) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise _fail(name, f"{arg} must be an integer from {low} to {high}, got {_show(value)}")
    return number


def _ttl(name: str, ttl: Any) -> str:
    return "" if ttl is None else f"{_int(name, 'ttl', ttl, 0, _MAX_TTL)} "


def mta_sts_policy(mx: Any, mode: Any = "enforce", max_age: Any = 604800) -> str:
    """The MTA-STS policy text (RFC 8461 section 3.2), LF line ends, one ``mx:`` line per pattern."""
    if mode not in MTA_STS_MODES:
        raise _fail("mta_sts_policy", f"mode must be enforce, testing or none, got {_show(mode)}")
    age = _int("mta_sts_policy", "max_age", max_age, 0, MTA_STS_MAX_AGE)
    patterns = [mx] if isinstance(mx, str) else mx
    if not isinstance(patterns, (list, tuple)):
        raise _fail("mta_sts_policy", f"mx must be a list of MX host names, got {_show(mx)}")
    names = [_domain("mta_sts_policy", f"mx[{i}]", p, wildcard=True) for i, p in enumerate(patterns)]
    if not names and mode != "none":
        raise _fail("mta_sts_policy", f"mx must name at least one MX host in mode {mode}")
    lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {name}" for name in dict.fromkeys(names)]
    lines.append(f"max_age: {age}")
    return "\n".join(lines) + "\n"


def mta_sts_id(policy: Any) -> str:
    """The policy id: the first 32 hex digits of the SHA-256 of the policy text."""
    if not isinstance(policy, str) or not policy.startswith("version: STSv1"):
        raise _fail("mta_sts_record", f"policy must be an MTA-STS policy text (version: STSv1 ...), got {_show(policy)}")
    normalised = "\n".join(line.rstrip("\r") for line in policy.strip().splitlines()) + "\n"
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def mta_sts_record(policy: Any, domain: Any, ttl: Any = None) -> str:
    """``_mta-sts.<domain>. [ttl] IN TXT "v=STSv1; id=<id>"`` for the policy text."""
    name = _domain("mta_sts_record", "domain", domain)
    return f'_mta-sts.{name}. {_ttl("mta_sts_record", ttl)}IN TXT "v=STSv1; id={mta_sts_id(policy)}"'


def tls_rpt_record(domain: Any, rua: Any, ttl: Any = None) -> str:
    """``_smtp._tls.<domain>. [ttl] IN TXT "v=TLSRPTv1; rua=<uri>,<uri>"`` (mailto: or https: URIs)."""
    name = _domain("tls_rpt_record", "domain", domain)
    uris = [rua] if isinstance(rua, str) else rua
    if not isinstance(uris, (list, tuple)) or not uris:
        raise _fail("tls_rpt_record", f"rua must be a non-empty list of mailto: or https: URIs, got {_show(rua)}")
    for index, uri in enumerate(uris):
        if not isinstance(uri, str) or not _RUA_RE.match(uri):
            raise _fail("tls_rpt_record", f"rua[{index}] must be a mailto: or https: URI without spaces, ',', ';' "
                                          f"or '!', got {_show(uri)}")
    return f'_smtp._tls.{name}. {_ttl("tls_rpt_record", ttl)}IN TXT "v=TLSRPTv1; rua={",".join(uris)}"'


class FilterModule:
    """MTA-STS and TLS-RPT filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"mta_sts_policy": mta_sts_policy, "mta_sts_record": mta_sts_record, "tls_rpt_record": tls_rpt_record}
