# -*- coding: utf-8 -*-
"""Filters of the ct_monitor role: check its input and build what the monitor host gets.

* ``ct_monitor_watchlist``  certspotter's watch list (sorted, one name or ``.domain`` tree per line)
* ``ct_monitor_known_keys`` the keys Bulwark serves or has staged: SPKI SHA-256 -> where each was read
* ``ct_monitor_config``     the alert hook's configuration (channels, CAA policy, issuer mapping, extra keys)

The key set both start from is the shared one (roles/shared: tls_public_keys, tls_key_set), the set dns_records
publishes. Names, URLs and mail addresses are checked by the shared module_utils (bulwark_dns), and a bad
value is shown the shared way (bulwark_messages): every error names the variable and describes the value,
never quoting key material, a long value or a URL's path (which may hold a token).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_messages import describe, describe_url
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]
    from bulwark_messages import describe, describe_url  # type: ignore[no-redef]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# A path that goes into a systemd ExecStart= or ReadWritePaths= line as it is.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/@:+-]*")
# Characters systemd interprets in ExecStart= (specifiers, variables, quoting, comments): a log list URL
# goes there as it is.
_UNIT_SPECIAL = set("%$\"'\\;#")
# The MTA the hook hands mail to: the monitor host's own (docs/ct_monitor.md, "Why SMTP to 127.0.0.1").
SMTP_HOST = "127.0.0.1"
SMTP_PORT = 25


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(message)


def _list(variable: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(f"{variable} must be a list, got {describe(value)}")
    return list(value)


def _host_name(variable: str, value: Any, wildcard: bool = False) -> str:
    try:
        return bulwark_dns.host_name(value, wildcard=wildcard)
    except ValueError as exc:
        raise _fail(f"{variable}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# What to watch and which keys are ours
# --------------------------------------------------------------------------------------------------


def _key_set(variable: str, keys: Any) -> list[Mapping[str, Any]]:
    entries = _list(variable, keys)
    for index, key in enumerate(entries):
        if not isinstance(key, Mapping):
            raise _fail(f"{variable}[{index}] must be an entry of tls_key_set, got {describe(key)}")
    return entries


def ct_monitor_watchlist(keys: Any, extra_domains: Any = None, subdomains: Any = None) -> list[str]:
    """certspotter's watch list: every name of the key set, ``ct_monitor_extra_domains``, ``.domain`` for trees.

    ``keys`` is the shared key set (``tls_key_set``): each entry's ``names`` are the names its key serves. A
    wildcard site ``*.example.org`` serves any name below example.org, so it is watched as the tree
    ``.example.org``.
    """
    items: set[str] = set()
    for index, key in enumerate(_key_set("ct_monitor_watchlist: the key set", keys)):
        for name in _list(f"the key set[{index}].names", key.get("names")):
            name = _host_name(f"the key set[{index}].names", name, wildcard=True)
            items.add("." + name[2:] if name.startswith("*.") else name)
    for name in _list("ct_monitor_extra_domains", extra_domains):
        items.add(_host_name("ct_monitor_extra_domains", name))
    for name in _list("ct_monitor_subdomains", subdomains):
        items.add("." + _host_name("ct_monitor_subdomains", name))
    if not items:
        raise _fail("ct_monitor has nothing to watch: no tls_sites on ct_monitor_tls_hosts, no dns_records_services "
                    "on ct_monitor_dns_hosts, and ct_monitor_extra_domains and ct_monitor_subdomains are empty")
    return sorted(items, key=lambda item: (item.lstrip(".").split(".")[::-1], item))


def ct_monitor_known_keys(keys: Any, known: Any = None) -> dict[str, list[str]]:
    """``{spki_sha256: [where it was read]}`` of the key set, added to ``known``.

    ``keys`` is the shared key set (``tls_key_set``); its ``spki_sha256`` is the TLSA 3 1 1 data, which is what
    certspotter gives the hook as ``PUBKEY_SHA256``. ``known`` is the ``known_keys`` that ``ct_monitor_config``
    returns (``ct_monitor_extra_keys``).
    """
    if known is not None and not isinstance(known, Mapping):
        raise _fail(f"ct_monitor_known_keys: known must be the known_keys of ct_monitor_config, got {describe(known)}")
    merged: dict[str, set[str]] = {}
    for digest, labels in dict(known or {}).items():
        key = _digest("ct_monitor_known_keys: known", digest)
        if not isinstance(labels, (list, tuple)) or not labels \
                or not all(isinstance(label, str) and label.isprintable() for label in labels):
            raise _fail(f"ct_monitor_known_keys: known[{key}] must be a list of where the key is from, got "
                        f"{describe(labels)}")
        merged.setdefault(key, set()).update(labels)
    for index, key in enumerate(_key_set("ct_monitor_known_keys: the key set", keys)):
        where = f"the key set[{index}]"
        host, path = key.get("host"), key.get("path")
        if not isinstance(host, str) or not host.isprintable() or not isinstance(path, str) \
                or not path.startswith("/") or not path.isprintable():
            raise _fail(f"{where} must have the host and the absolute path it was read from, got {describe(host)} "
                        f"and {describe(path)}")
        label = f"{host}:{path}" + (" (staged next key)" if key.get("kind") == "next" else "")
        merged.setdefault(_digest(f"{where}.spki_sha256", key.get("spki_sha256")), set()).add(label)
    return {digest: sorted(labels) for digest, labels in sorted(merged.items())}


def _digest(variable: str, value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _fail(f"{variable}: {describe(value)} is not a hex SHA-256 of a public key (64 hex digits, as "
                    "`openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum` prints)")
    return value.lower()


def _extra_keys(value: Any) -> dict[str, list[str]]:
    return {_digest(f"ct_monitor_extra_keys[{index}]", key): ["ct_monitor_extra_keys"]
            for index, key in enumerate(_list("ct_monitor_extra_keys", value))}


# --------------------------------------------------------------------------------------------------
# The hook's configuration
# --------------------------------------------------------------------------------------------------


def _email(variable: str, value: Any) -> str:
    problem = bulwark_dns.mail_address_problem(value)
    if problem:
        raise _fail(f"{variable}: {describe(value)} is not a mail address like security@example.org ({problem})")
    return str(value)


def _https_url(variable: str, value: Any) -> str:
    problem = bulwark_dns.https_url_problem(value)
    if problem:
        # The path and query may hold a token: show only where it points.
        raise _fail(f"{variable} must be an https:// URL (alerts must not travel in clear, nor a token in the URL), "
                    f"got {describe_url(value)} ({problem})")
    return str(value)


def _plain_path(variable: str, value: Any) -> str:
    if not isinstance(value, str) or not _PLAIN_PATH.fullmatch(value) or value.endswith("/") or "/../" in value:
        raise _fail(f"{variable} must be an absolute file path (letters, digits and ._/@:+- only), got "
                    f"{describe(value)}")
    return value


def _log_list(value: Any) -> str:
    """An https URL or a plain path: both go into certspotter's ExecStart= line as they are."""
    if isinstance(value, str) and value.lower().startswith("https://"):
        url = _https_url("ct_monitor_log_list", value)
        if _UNIT_SPECIAL & set(url):
            raise _fail(f"ct_monitor_log_list must not contain any of {' '.join(sorted(_UNIT_SPECIAL))} (systemd reads "
                        f"them in ExecStart=), got {describe_url(url)}")
        return url
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail(f"ct_monitor_log_list must be an https:// URL or an absolute path on the monitor host, got "
                    f"{describe_url(value)}")
    return _plain_path("ct_monitor_log_list", value)


def _caa_policy(caa: Any) -> list[dict[str, Any]]:
    """dns_records_caa entries as the hook reads them: domain, and issue/issuewild lists or None (tag absent)."""
    policy: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(_list("dns_records_caa", caa)):
        where = f"dns_records_caa[{index}]"
        if not isinstance(entry, Mapping):
            raise _fail(f"{where} must be a mapping, got {describe(entry)}")
        domain = _host_name(f"{where}.domain", entry.get("domain"))
        rules: dict[str, Any] = {"domain": domain}
        for tag in ("issue", "issuewild"):
            value = entry.get(tag)
            rules[tag] = None if value is None else [
                _host_name(f"{where}.{tag}", issuer) for issuer in _list(f"{where}.{tag}", value)]
        policy.setdefault(domain, rules)
    return list(policy.values())


def _ca_domains(variable: str, entries: Any) -> list[dict[str, Any]]:
    mapped = []
    for index, entry in enumerate(_list(variable, entries)):
        where = f"{variable}[{index}]"
        issuer = entry.get("issuer") if isinstance(entry, Mapping) else None
        if not isinstance(issuer, str) or not issuer.strip() or not issuer.isprintable() or len(issuer) > 200:
            raise _fail(f"{where} must have an issuer (the issuing CA's organisation or common name, one line), got "
                        f"{describe(issuer if isinstance(entry, Mapping) else entry)}")
        domains = [_host_name(f"{where}.caa", d) for d in _list(f"{where}.caa", entry.get("caa"))]
        if not domains:
            raise _fail(f"{where} ({describe(issuer.strip())}) must list the CAA issuer domain(s) of that CA")
        mapped.append({"issuer": issuer.strip(), "caa": domains})
    return mapped


def ct_monitor_config(
    email: Any = None,
    email_from: Any = "",
    webhook: Any = "",
    log_list: Any = "",
    alert_log: Any = "",
    caa: Any = None,
    ca_domains: Any = None,
    public_ca_domains: Any = None,
    extra_keys: Any = None,
    state_dir: Any = "/var/lib/certspotter",
) -> dict[str, Any]:
    """Check the role's settings and return the hook's configuration.

    Its ``known_keys`` holds ``ct_monitor_extra_keys`` only; ``ct_monitor_known_keys`` adds the key set.
    """
    _log_list(log_list)
    addresses = [_email("ct_monitor_email", a) for a in _list("ct_monitor_email", email)]
    sender = _email("ct_monitor_email_from", email_from) if email_from else ""
    return {
        "alert_log": _plain_path("ct_monitor_alert_log", alert_log),
        "state_dir": _plain_path("state_dir", state_dir),
        "email": addresses,
        "email_from": sender,
        "smtp_host": SMTP_HOST,
        "smtp_port": SMTP_PORT,
        "webhook": _https_url("ct_monitor_webhook", webhook) if webhook else "",
        "caa": _caa_policy(caa),
        "ca_domains": _ca_domains("ct_monitor_ca_domains", ca_domains)
        + _ca_domains("the built-in CA table (public_ca_domains)", public_ca_domains),
        "known_keys": _extra_keys(extra_keys),
    }


class FilterModule:
    """ct_monitor's filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "ct_monitor_watchlist": ct_monitor_watchlist,
            "ct_monitor_known_keys": ct_monitor_known_keys,
            "ct_monitor_config": ct_monitor_config,
        }
