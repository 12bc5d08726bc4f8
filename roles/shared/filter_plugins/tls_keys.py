# -*- coding: utf-8 -*-
"""Bulwark's key set: which hosts to read, and what they returned, for every role that needs it.

Filters (documentation in the ``<filter>.yml`` files beside this one, and in docs/dns_records.md):

* ``tls_key_services`` - a host's ``tls_sites`` as TLS services (the inventory fallback when the host
  publishes no ``bulwark_tls`` fact).
* ``tls_key_reads`` - one read per host: the arguments of the ``tls_public_keys`` module for each TLS host
  and each host of a service list, checked first (hosts in the inventory, names, ports).
* ``tls_key_set`` - the registered results of those reads as one flat list of keys.
* ``tls_key_mail`` - the mail sections of the facts read (mail_tls: the mail domain, its MTA-STS policy and
  TLS-RPT addresses), each with the host that published it.

dns_records publishes TLSA records for this set (and the mail domains' records); ct_monitor compares
certificates it discovers with it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_messages import describe
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    import bulwark_dns  # type: ignore[no-redef]
    from bulwark_messages import describe  # type: ignore[no-redef]

HTTPS_PORT = 443
_PROTOS = ("tcp", "udp", "sctp")


def _fail(where: str, text: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{where}: {text}")


def _name(where: str, value: Any) -> str:
    try:
        return bulwark_dns.host_name(value, wildcard=True)
    except ValueError as exc:
        raise _fail(where, str(exc)) from None


def _path(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise _fail(where, f"{describe(value)} is not an absolute path")
    return value


def tls_key_services(sites: Any, where: str = "tls_sites") -> list[dict[str, Any]]:
    """``tls_sites`` (nginx_tls, apache_tls) as services: names, port 443/tcp, the cert and next_key paths."""
    if sites is None:
        return []
    if not isinstance(sites, Sequence) or isinstance(sites, str):
        raise _fail(where, f"must be a list of sites, got {type(sites).__name__}")
    services = []
    for index, site in enumerate(sites):
        label = f"{where}[{index}]"
        if not isinstance(site, Mapping):
            raise _fail(label, f"must be a mapping, got {type(site).__name__}")
        names = [_name(f"{label}.name", site.get("name"))]
        names += [_name(f"{label}.aliases", alias) for alias in site.get("aliases") or []]
        certificates = []
        for number, entry in enumerate(site.get("certificates") or []):
            if not isinstance(entry, Mapping):
                raise _fail(f"{label}.certificates[{number}]", "must be a mapping with cert (and next_key)")
            certificate = {"cert": _path(f"{label}.certificates[{number}].cert", entry.get("cert"))}
            if entry.get("next_key"):
                certificate["next_key"] = _path(f"{label}.certificates[{number}].next_key", entry["next_key"])
            certificates.append(certificate)
        services.append({"names": list(dict.fromkeys(names)), "port": HTTPS_PORT, "proto": "tcp",
                         "certificates": certificates})
    return services


def _service(where: str, service: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(service, Mapping):
        raise _fail(where, f"must be a mapping, got {type(service).__name__}")
    port = service.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _fail(f"{where}.port", f"{describe(port)} is not a port (1-65535)")
    proto = service.get("proto") or "tcp"
    if proto not in _PROTOS:
        raise _fail(f"{where}.proto", f"{describe(proto)} is not one of {', '.join(_PROTOS)}")
    certificate = {"cert": _path(f"{where}.cert", service.get("cert"))}
    if service.get("next_key"):
        certificate["next_key"] = _path(f"{where}.next_key", service["next_key"])
    if service.get("chain"):
        certificate["chain"] = _path(f"{where}.chain", service["chain"])
    issuer = service.get("issuer", False)
    if not isinstance(issuer, bool):
        raise _fail(f"{where}.issuer", f"must be true or false, got {describe(issuer)}")
    return str(service.get("host")), {"names": [_name(f"{where}.name", service.get("name"))], "port": port,
                                      "proto": proto, "issuer": issuer, "certificates": [certificate]}


def tls_key_reads(hosts: Any, hostvars: Mapping[str, Any], services: Any = (), hosts_var: str = "hosts",
                  services_var: str = "services") -> list[dict[str, Any]]:
    """One ``{host, services, fallback}`` per host to read with the tls_public_keys module.

    ``hosts`` are the TLS hosts (their published fact, or their ``tls_sites`` as ``fallback``); ``services``
    are more services with the host that holds each certificate (``{host, name, port, proto, cert,
    next_key}``, as dns_records_services). ``hosts_var`` and ``services_var`` name the variables in messages.
    """
    if hosts is None:
        hosts = []
    if not isinstance(hosts, Sequence) or isinstance(hosts, str):
        raise _fail(hosts_var, f"must be a list of inventory hosts, got {type(hosts).__name__}")
    if not isinstance(services, Sequence) or isinstance(services, str):
        raise _fail(services_var, f"must be a list of services, got {type(services).__name__}")
    reads: dict[str, dict[str, Any]] = {}
    for host in hosts:
        if not isinstance(host, str) or host not in hostvars:
            raise _fail(hosts_var, f"{describe(host)} is not an inventory host")
        sites = hostvars[host].get("tls_sites", [])
        reads.setdefault(host, {"host": host, "services": [], "fallback": []})["fallback"] = tls_key_services(
            sites, where=f"{host}: tls_sites")
    for index, entry in enumerate(services):
        host, service = _service(f"{services_var}[{index}]", entry)
        if host not in hostvars:
            raise _fail(f"{services_var}[{index}].host", f"{describe(host)} is not an inventory host")
        reads.setdefault(host, {"host": host, "services": [], "fallback": []})["services"].append(service)
    return list(reads.values())


def tls_key_results(reads: Any, where: str) -> list[tuple[Any, Mapping[str, Any]]]:
    """``(host, result)`` for each result of a looped tls_public_keys task (its registered value, or the list
    of results itself), checked to be a result that ran. The one way the filters that use those reads
    (``tls_key_set``, ``tls_key_mail``, dns_records' ``dns_records_acme_caa``) take them apart; ``where``
    names the filter in errors."""
    results = reads.get("results") if isinstance(reads, Mapping) else reads
    if not isinstance(results, Sequence) or isinstance(results, str):
        raise _fail(where, "the input must be the registered result of a looped tls_public_keys task")
    pairs = []
    for result in results:
        if not isinstance(result, Mapping) or not isinstance(result.get("services"), list):
            raise _fail(where, "a result without 'services': was it skipped or did it fail?")
        item = result.get("item")
        pairs.append((item.get("host") if isinstance(item, Mapping) else item, result))
    return pairs


def tls_key_set(reads: Any) -> list[dict[str, Any]]:
    """The keys of every read, flat: ``{host, names, port, proto, source, kind, path, certificate,
    public_key, spki_sha256}``, in the order read.

    ``reads`` is what a looped tls_public_keys task registered (``results``, each with its ``item.host``), or
    the list of results itself.
    """
    keys = []
    for host, result in tls_key_results(reads, "tls_key_set"):
        for service in result["services"]:
            for key in service.get("keys", []):
                keys.append({"host": host, "names": list(service["names"]), "port": service["port"],
                             "proto": service["proto"], "source": service.get("source"), **key})
    return keys


def tls_key_mail(reads: Any) -> list[dict[str, Any]]:
    """The ``mail`` sections the reads returned (tls_public_keys' ``mail``), each as ``{host, domain,
    mta_sts_policy, tls_rpt}``, in the order read. ``reads`` as for ``tls_key_set``."""
    domains = []
    for host, result in tls_key_results(reads, "tls_key_mail"):
        for index, section in enumerate(result.get("mail") or []):
            where = f"tls_key_mail: {host}: published mail section {index}"
            if not isinstance(section, Mapping):
                raise AnsibleFilterError(f"{where} must be a mapping, got {describe(section)}")
            policy, rua = section.get("mta_sts_policy"), section.get("tls_rpt") or []
            if policy is not None and not isinstance(policy, str):
                raise AnsibleFilterError(f"{where}: mta_sts_policy must be the policy text, got "
                                         f"{describe(policy)}")
            if not isinstance(rua, list):
                raise AnsibleFilterError(f"{where}: tls_rpt must be a list of URIs, got {describe(rua)}")
            domains.append({"host": host, "domain": _name(f"{where}: domain", section.get("domain")),
                            "mta_sts_policy": policy, "tls_rpt": list(rua)})
    return domains


class FilterModule:
    """Bulwark's key set filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "tls_key_services": tls_key_services,
            "tls_key_reads": tls_key_reads,
            "tls_key_set": tls_key_set,
            "tls_key_mail": tls_key_mail,
        }
