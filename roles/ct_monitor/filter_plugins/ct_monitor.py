# -*- coding: utf-8 -*-
"""Filters of the ct_monitor role: check its input and build what the monitor host gets.

* ``ct_monitor_sources``    the certificate and staged-key files of the TLS hosts and services, with their names
* ``ct_monitor_watchlist``  certspotter's watch list (sorted, one name or ``.domain`` tree per line)
* ``ct_monitor_config``     the alert hook's configuration (channels, CAA policy, issuer mapping, extra keys)
* ``ct_monitor_known_keys`` the keys Bulwark serves or has staged: SPKI SHA-256 -> where each was read

Every error names the variable and the bad value (shortened; never key material).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.filter.pinning import spki_sha256
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
except ImportError:  # a role of the repository, or vendored: the `shared` role's module_utils and filters
    _SHARED = Path(__file__).resolve().parents[2] / "shared"
    sys.path.extend([str(_SHARED / "module_utils"), str(_SHARED / "filter_plugins")])
    import bulwark_dns  # type: ignore[no-redef]
    from pinning import spki_sha256  # type: ignore[no-redef]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# A path that goes into a systemd ExecStart= or ReadWritePaths= line as it is.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/@:+-]*")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")


def _show(value: Any, limit: int = 60) -> str:
    """A bad value for a message: short, and only its type when it is not a string or number."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= limit else text[: limit - 4] + "...'"
    return f"a {type(value).__name__}"


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(message)


def _list(variable: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise _fail(f"{variable} must be a list, got {_show(value)}")
    return list(value)


def _host_name(variable: str, value: Any, wildcard: bool = False) -> str:
    """A DNS host name, lower-cased, without a trailing dot."""
    if not isinstance(value, str):
        raise _fail(f"{variable}: {_show(value)} is not a DNS name")
    name = value[:-1] if value.endswith(".") else value
    problem = bulwark_dns.name_problem(name, wildcard=wildcard)
    if problem:
        raise _fail(f"{variable}: {_show(value)} is not a valid DNS name ({problem})")
    return name.lower()


# --------------------------------------------------------------------------------------------------
# What to watch and which keys are ours
# --------------------------------------------------------------------------------------------------


def ct_monitor_sources(hosts_sites: Any, services: Any) -> list[dict[str, Any]]:
    """Every certificate and staged next key Bulwark knows, with its host and the names it serves.

    ``hosts_sites`` maps each TLS host to its ``tls_sites`` (the web roles' site model);
    ``services`` maps each DNS host to its ``dns_records_services``. Returns entries
    ``{host, path, names, next_key}``, one per file, without repeats (primary and secondary name
    servers usually carry the same services).
    """
    if not isinstance(hosts_sites, dict) or not isinstance(services, dict):
        raise _fail("ct_monitor_sources: expects the TLS hosts' sites and the DNS hosts' services as mappings")
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(host: str, path: Any, names: list[str], next_key: bool, where: str) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise _fail(f"{where}: {_show(path)} is not an absolute path")
        entry = found.setdefault((host, path), {"host": host, "path": path, "names": [], "next_key": next_key})
        entry["names"] = sorted(set(entry["names"]) | set(names))

    for host, sites in hosts_sites.items():
        for index, site in enumerate(_list(f"tls_sites of {host}", sites)):
            where = f"tls_sites of {host}[{index}]"
            if not isinstance(site, dict):
                raise _fail(f"{where} must be a mapping, got {_show(site)}")
            names = [_host_name(f"{where}.name", site.get("name"), wildcard=True)]
            names += [_host_name(f"{where}.aliases", alias, wildcard=True)
                      for alias in _list(f"{where}.aliases", site.get("aliases"))]
            for number, certificate in enumerate(_list(f"{where}.certificates", site.get("certificates"))):
                if not isinstance(certificate, dict):
                    raise _fail(f"{where}.certificates[{number}] must be a mapping, got {_show(certificate)}")
                add(host, certificate.get("cert"), names, False, f"{where}.certificates[{number}].cert")
                if certificate.get("next_key"):
                    add(host, certificate["next_key"], names, True, f"{where}.certificates[{number}].next_key")
    for dns_host, entries in services.items():
        for index, service in enumerate(_list(f"dns_records_services of {dns_host}", entries)):
            where = f"dns_records_services of {dns_host}[{index}]"
            if not isinstance(service, dict) or not isinstance(service.get("host"), str):
                raise _fail(f"{where} must be a mapping with a host, got {_show(service)}")
            names = [_host_name(f"{where}.name", service.get("name"))]
            add(service["host"], service.get("cert"), names, False, f"{where}.cert")
            if service.get("next_key"):
                add(service["host"], service["next_key"], names, True, f"{where}.next_key")
    return sorted(found.values(), key=lambda e: (e["host"], e["path"]))


def ct_monitor_watchlist(sources: Any, extra_domains: Any = None, subdomains: Any = None) -> list[str]:
    """certspotter's watch list: every served name, ``ct_monitor_extra_domains``, and ``.domain`` for trees.

    A wildcard site ``*.example.org`` serves any name below example.org, so it is watched as the
    tree ``.example.org``.
    """
    items: set[str] = set()
    for source in _list("ct_monitor_watchlist: sources", sources):
        for name in source.get("names", []):
            items.add("." + name[2:] if name.startswith("*.") else name)
    for name in _list("ct_monitor_extra_domains", extra_domains):
        items.add(_host_name("ct_monitor_extra_domains", name))
    for name in _list("ct_monitor_subdomains", subdomains):
        items.add("." + _host_name("ct_monitor_subdomains", name))
    if not items:
        raise _fail("ct_monitor has nothing to watch: no tls_sites on ct_monitor_tls_hosts, no dns_records_services "
                    "on ct_monitor_dns_hosts, and ct_monitor_extra_domains and ct_monitor_subdomains are empty")
    return sorted(items, key=lambda item: (item.lstrip(".").split(".")[::-1], item))


def ct_monitor_known_keys(results: Any, known: Any = None) -> dict[str, list[str]]:
    """``{spki_sha256: [where it was read]}`` from the ``ct_monitor_read_keys`` results, added to ``known``.

    ``results`` are the registered results of ``ct_monitor_read_keys`` looped over the hosts (``item``
    is the host, ``files`` the public PEM of each path); ``known`` is the ``known_keys`` that
    ``ct_monitor_config`` returns (``ct_monitor_extra_keys``). The digest is the shared
    ``spki_sha256`` filter's: the TLSA 3 1 1 data, certspotter's ``PUBKEY_SHA256``.
    """
    keys: dict[str, set[str]] = {key: set(labels) for key, labels in dict(known or {}).items()}
    for result in _list("ct_monitor_known_keys: results", results):
        for entry in result.get("files", []):
            label = f"{result['item']}:{entry['path']}" + (" (staged next key)" if entry.get("next_key") else "")
            keys.setdefault(spki_sha256(entry["public"]), set()).add(label)
    return {key: sorted(labels) for key, labels in sorted(keys.items())}


def _extra_keys(value: Any) -> dict[str, list[str]]:
    keys = {}
    for index, key in enumerate(_list("ct_monitor_extra_keys", value)):
        if not isinstance(key, str) or not _HEX64.fullmatch(key):
            raise _fail(f"ct_monitor_extra_keys[{index}]: {_show(key)} is not a hex SHA-256 of a public key "
                        "(64 hex digits, as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | "
                        "sha256sum` prints)")
        keys[key.lower()] = ["ct_monitor_extra_keys"]
    return keys


# --------------------------------------------------------------------------------------------------
# The hook's configuration
# --------------------------------------------------------------------------------------------------


def _email(variable: str, value: Any) -> str:
    if isinstance(value, str):
        local, at, domain = value.rpartition("@")
        if at and _EMAIL_LOCAL.fullmatch(local) and (
                domain == "localhost" or bulwark_dns.name_problem(domain.rstrip(".")) is None):
            return value
    raise _fail(f"{variable}: {_show(value)} is not a mail address like security@example.org")


def _https_url(variable: str, value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or any(c.isspace() or c in "\"'\\" for c in value):
        raise _fail(f"{variable} must be an https:// URL, got {_show(value)}")
    if parts.scheme.lower() != "https" or not parts.hostname:
        # The path and query may hold a token: show only where it points.
        shown = f"{parts.scheme}://{parts.hostname or ''}" + ("/..." if parts.path.strip("/") or parts.query else "")
        raise _fail(f"{variable} must be an https:// URL (alerts must not travel in clear, nor a token in the URL), "
                    f"got {shown!r}")
    return value


def _plain_path(variable: str, value: Any) -> str:
    if not isinstance(value, str) or not _PLAIN_PATH.fullmatch(value) or value.endswith("/") or "/../" in value:
        raise _fail(f"{variable} must be an absolute file path (letters, digits and ._/@:+- only), got "
                    f"{_show(value)}")
    return value


def _caa_policy(caa: Any) -> list[dict[str, Any]]:
    """dns_records_caa entries as the hook reads them: domain, and issue/issuewild lists or None (tag absent)."""
    policy: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(_list("dns_records_caa", caa)):
        where = f"dns_records_caa[{index}]"
        if not isinstance(entry, dict):
            raise _fail(f"{where} must be a mapping, got {_show(entry)}")
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
        if not isinstance(entry, dict) or not isinstance(entry.get("issuer"), str) or not entry["issuer"].strip():
            raise _fail(f"{where} must have an issuer (the issuing CA's organisation or common name), got "
                        f"{_show(entry)}")
        domains = [_host_name(f"{where}.caa", d) for d in _list(f"{where}.caa", entry.get("caa"))]
        if not domains:
            raise _fail(f"{where} ({entry['issuer']}) must list the CAA issuer domain(s) of that CA")
        mapped.append({"issuer": entry["issuer"].strip(), "caa": domains})
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
    smtp_host: str = "127.0.0.1",
    smtp_port: int = 25,
) -> dict[str, Any]:
    """Check the role's settings and return the hook's configuration.

    Its ``known_keys`` holds ``ct_monitor_extra_keys`` only; ``ct_monitor_known_keys`` adds the keys read
    from the hosts.
    """
    if not isinstance(log_list, str) or not (log_list.startswith("https://") or log_list.startswith("/")):
        raise _fail(f"ct_monitor_log_list must be an https:// URL or an absolute path on the monitor host, got "
                    f"{_show(log_list)}")
    if log_list.startswith("https://"):
        _https_url("ct_monitor_log_list", log_list)
    else:
        _plain_path("ct_monitor_log_list", log_list)
    addresses = [_email("ct_monitor_email", a) for a in _list("ct_monitor_email", email)]
    sender = _email("ct_monitor_email_from", email_from) if email_from else ""
    return {
        "alert_log": _plain_path("ct_monitor_alert_log", alert_log),
        "state_dir": _plain_path("state_dir", state_dir),
        "email": addresses,
        "email_from": sender,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "webhook": _https_url("ct_monitor_webhook", webhook) if webhook else "",
        "caa": _caa_policy(caa),
        "ca_domains": _ca_domains("ct_monitor_ca_domains", ca_domains)
        + _ca_domains("the built-in CA table", public_ca_domains),
        "known_keys": _extra_keys(extra_keys),
    }


class FilterModule:
    """ct_monitor's filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "ct_monitor_sources": ct_monitor_sources,
            "ct_monitor_watchlist": ct_monitor_watchlist,
            "ct_monitor_known_keys": ct_monitor_known_keys,
            "ct_monitor_config": ct_monitor_config,
        }
