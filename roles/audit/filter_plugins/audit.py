# -*- coding: utf-8 -*-
"""The audit's declaration side, on the controller.

Filters:

* ``audit_plan`` - what to check on one inventory host, from the variables the other roles read
  (``firewalld_ports``, ``tls_sites``, ``tls_profile``, ``dns_records_*``), with those roles' defaults
  where the inventory says nothing. The ``audit_host`` module then checks the plan from outside.
* ``audit_results`` - the per-host results of the play, for the ``audit_report`` module.

Pure Python: tests/unit/test_audit.py checks the plan without a host.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.filter.pinning import caa_records
except ImportError:  # a role of the repository: the shared role's filters
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "filter_plugins"))
    from pinning import caa_records  # type: ignore[no-redef]

OVERRIDE_KEYS = ("tls_versions", "ciphers", "ciphersuites", "groups")


def _var(hostvars: Mapping[str, Any], host: str, name: str, defaults: Mapping[str, Any]) -> Any:
    value = hostvars[host].get(name) if name in hostvars[host] else None
    return defaults.get(name) if value is None else value


def _in_zone(name: str, zone: str) -> bool:
    name, zone = name.lower().rstrip("."), zone.lower().rstrip(".")
    return name == zone or name.endswith("." + zone)


def _profile(name: str, overrides: Mapping[str, Any] | None, guidelines: Mapping[str, Any]) -> dict[str, Any]:
    configurations = guidelines.get("configurations", {})
    if name not in configurations:
        raise AnsibleFilterError(f"audit_plan: tls_profile {name!r} is not in the profile data ({sorted(configurations)})")
    config = configurations[name]
    profile = {"name": name, "tls_versions": list(config["tls_versions"]), "ciphers": list(config["ciphers"]["openssl"]),
               "ciphersuites": list(config["ciphersuites"]), "groups": list(config["tls_curves"]),
               "certificate_types": list(config["certificate_types"]), "hsts_min_age": int(config["hsts_min_age"])}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in OVERRIDE_KEYS:
            raise AnsibleFilterError(f"audit_plan: tls_profile_overrides has an unknown key {key!r}")
        profile[key] = list(value)
    return profile


def _addresses(hostvars: Mapping[str, Any], host: str) -> list[str]:
    given = hostvars[host].get("audit_addresses")
    if given:
        return [str(a) for a in given]
    address = hostvars[host].get("ansible_host", host)
    return [str(address)] if address else []


def _family(address: str) -> str:
    try:
        return f"IPv{ipaddress.ip_address(address).version}"
    except ValueError:
        return "name"


def _name_servers(hostvars: Mapping[str, Any], groups: Mapping[str, Sequence[str]], defaults: Mapping[str, Any]
                  ) -> list[dict[str, Any]]:
    servers = []
    for host in groups.get("all", []):
        zones = _var(hostvars, host, "dns_records_zones", defaults) or []
        if not zones:
            continue
        tls_hosts = hostvars[host].get("dns_records_tls_hosts")
        if tls_hosts is None:
            tls_hosts = groups.get(defaults.get("dns_records_tls_group", "web_servers"), [])
        servers.append({"host": host, "zones": [str(z).rstrip(".").lower() for z in zones],
                        "tls_hosts": list(tls_hosts), "tlsa": list(_var(hostvars, host, "dns_records_tlsa", defaults)),
                        "caa": list(_var(hostvars, host, "dns_records_caa", defaults) or []),
                        "ttl": hostvars[host].get("dns_records_ttl", defaults.get("dns_records_ttl", 3600))})
    return servers


def _expected_caa(entry: Mapping[str, Any], ttl: Any) -> list[str]:
    """The CAA lines dns_records publishes for one dns_records_caa entry (its template's call)."""
    return caa_records(entry["domain"], issue=entry.get("issue"), issuewild=entry.get("issuewild"),
                       iodef=entry.get("iodef") or [], critical=entry.get("critical", False),
                       accounturi=entry.get("accounturi"), validationmethods=entry.get("validationmethods") or [],
                       ttl=ttl)


def _declared_certificates(site: Mapping[str, Any]) -> int:
    """How many certificates (key types) the site serves: listed, or one per key type of its ``acme:``."""
    acme = site.get("acme")
    if isinstance(acme, Mapping):
        return len(acme.get("key_types") or ["ecdsa"])
    return len(site.get("certificates") or [])


def _site(site: Mapping[str, Any], host: str, address: str, profile: dict[str, Any], overridden: bool,
          context: Mapping[str, Any], servers: list[dict[str, Any]], fleet_names: dict[str, str]) -> dict[str, Any]:
    names = list(dict.fromkeys(str(n).lower() for n in [site["name"], *(site.get("aliases") or [])]))
    hsts_given = {k: v for k, v in (site.get("hsts") or {}).items() if v is not None}
    hsts = {"max_age": profile["hsts_min_age"], "include_subdomains": False, "preload": False, **hsts_given}
    header = "; ".join([f"max-age={int(hsts['max_age'])}"] + (["includeSubDomains"] if hsts["include_subdomains"]
                                                              else []) + (["preload"] if hsts["preload"] else []))
    tlsa: list[dict[str, int]] = []
    dnssec = False
    for server in servers:
        if any(_in_zone(n, z) for n in names for z in server["zones"]):
            dnssec = True
            if host in server["tls_hosts"]:
                tlsa += [dict(p) for p in server["tlsa"] if dict(p) not in tlsa]
    caa_domain = None
    for server in servers:
        for entry in server["caa"]:
            domain = str(entry["domain"]).lower().rstrip(".")
            if any(_in_zone(n, domain) for n in names) and (caa_domain is None or len(domain) > len(caa_domain)):
                caa_domain = domain
    return {
        "kind": "https", "service": f"{names[0]}:443", "name": names[0], "names": names, "port": 443,
        "address": address, "certificates": _declared_certificates(site), "hsts": hsts, "hsts_header": header,
        "ocsp_stapling": str(site.get("ocsp_stapling") or "auto"), "breach": str(site.get("breach") or "referer"),
        "profile": profile, "profile_overridden": overridden,
        "mozilla": context["guidelines"]["configurations"][profile["name"]],
        "mozilla_version": str(context["guidelines"].get("version", "")),
        "dns": {"dnssec": dnssec, "tlsa": tlsa, "caa_domain": caa_domain},
        "fleet_names": fleet_names,
    }


def audit_plan(host: str, hostvars: Mapping[str, Any], groups: Mapping[str, Sequence[str]],
               context: Mapping[str, Any]) -> dict[str, Any]:
    """What to check on ``host``: ``{host, addresses, services}`` (empty services: nothing declared).

    ``context``: ``guidelines`` (the Mozilla profile data the web roles render), ``defaults`` (the other roles'
    defaults for the variables read here), ``firewall_group`` and ``mail_group`` (inventory groups), ``kinds``
    (only these kinds of service; empty for all).
    """
    if host not in hostvars:
        raise AnsibleFilterError(f"audit_plan: {host!r} is not an inventory host")
    defaults = context.get("defaults") or {}
    addresses = _addresses(hostvars, host)
    primary = addresses[0] if addresses else ""
    services: list[dict[str, Any]] = []

    fleet_names: dict[str, str] = {}
    for other in groups.get("all", []):
        other_addresses = _addresses(hostvars, other)
        for site in hostvars[other].get("tls_sites") or []:
            for name in [site.get("name"), *(site.get("aliases") or [])]:
                if name and other_addresses:
                    fleet_names.setdefault(str(name).lower(), other_addresses[0])

    declared_tcp: list[int] = []
    if host in groups.get(str(context.get("firewall_group", "firewalld_servers")), []):
        ports = list(_var(hostvars, host, "firewalld_ports", defaults) or [])
        for entry in ports:
            spec = entry if isinstance(entry, str) else str(entry.get("port", ""))
            if spec.endswith("/tcp") and "-" not in spec:
                declared_tcp.append(int(spec.split("/")[0]))
        for address in addresses:
            services.append({"kind": "firewall", "service": f"firewall {_family(address)} {address}",
                             "address": address, "declared": ports})

    sites = list(_var(hostvars, host, "tls_sites", defaults) or [])
    if sites:
        profile_name = str(_var(hostvars, host, "tls_profile", defaults))
        overrides = _var(hostvars, host, "tls_profile_overrides", defaults) or {}
        profile = _profile(profile_name, overrides, context["guidelines"])
        servers = _name_servers(hostvars, groups, defaults)
        for site in sites:
            services.append(_site(site, host, primary, profile, bool(overrides), context, servers, fleet_names))
        declared_tcp += [443, 80]

    zones = [str(z).rstrip(".").lower() for z in _var(hostvars, host, "dns_records_zones", defaults) or []]
    if zones:
        ttl = hostvars[host].get("dns_records_ttl", defaults.get("dns_records_ttl", 3600))
        for zone in zones:
            caa: dict[str, list[str]] = {}
            for entry in _var(hostvars, host, "dns_records_caa", defaults) or []:
                domain = str(entry["domain"]).lower().rstrip(".")
                owner = max((z for z in zones if _in_zone(domain, z)), key=len, default=None)
                if owner == zone:
                    caa[domain] = _expected_caa(entry, ttl)
            services.append({"kind": "dns", "service": f"dns {zone}", "zone": zone, "address": primary, "caa": caa})
        declared_tcp.append(53)

    if host in groups.get(str(context.get("mail_group", "mail_servers")), []):
        services.append({"kind": "mail", "service": "mail", "address": primary})

    kinds = list(context.get("kinds") or [])
    if kinds:
        services = [s for s in services if s["kind"] in kinds]
    if services:
        services.insert(0, {"kind": "host", "service": "host", "address": primary,
                            "tcp_ports": list(dict.fromkeys(declared_tcp)) or [22]})
    return {"host": host, "addresses": addresses, "services": services}


def audit_results(hosts: Sequence[str], hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """The audit_host results of ``hosts`` for the audit_report module: ``{results, not_audited}``.

    A host whose checks could not run (probe unreachable, module error) gets ``error``; a host that declares
    nothing is listed in ``not_audited``.
    """
    results, not_audited = [], []
    for host in hosts:
        plan = hostvars[host].get("__audit_plan") or {}
        result = hostvars[host].get("__audit_host_result") or {}
        if not plan.get("services"):
            not_audited.append(host)
            continue
        item: dict[str, Any] = {"host": host, "addresses": list(plan.get("addresses") or [])}
        if result.get("unreachable") or result.get("failed") or "findings" not in result:
            item["error"] = str(result.get("msg") or "no result")
        else:
            item.update(findings=result["findings"], tools=result.get("tools") or {}, seconds=result.get("seconds", 0))
        results.append(item)
    return {"results": results, "not_audited": not_audited}


class FilterModule:
    """Bulwark's audit filters."""

    def filters(self) -> dict[str, Any]:
        return {"audit_plan": audit_plan, "audit_results": audit_results}
