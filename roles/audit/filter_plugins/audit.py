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
try:
    from ansible_collections.bulwark.hardening.plugins.filter.mail_policy import (mta_sts_id, mta_sts_policy,
                                                                                  tls_rpt_record)
except ImportError:
    from mail_policy import mta_sts_id, mta_sts_policy, tls_rpt_record  # type: ignore[no-redef]

OVERRIDE_KEYS = ("tls_versions", "ciphers", "ciphersuites", "groups")
# The MX's TLS ports (mail_tls): how a client starts TLS on each, and which variable turns the port on.
MAIL_PORTS = ((25, "smtp", None), (465, None, "mail_tls_submission"), (587, "smtp", "mail_tls_submission"),
              (993, None, "mail_tls_dovecot"))
# The DANE-TA record dns_records publishes for the issuer of a mail service's certificates (mail_tls_tlsa_issuer).
ISSUER_TLSA = {"usage": 2, "selector": 1, "matching_type": 1}
MAIL_VARIABLES = {"profile": "mail_tls_profile", "certificates": "mail_tls_certificates",
                  "chain": "mail_tls_certificates[].chain", "renew": "mail_tls_certificates[].cert (renew)",
                  "names": "mail_tls_hostname / mail_tls_hostname_aliases"}


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
            tls_hosts = [h for group in defaults.get("dns_records_tls_groups", ["web_servers"])
                         for h in groups.get(group, [])]
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
    dns = _tls_dns(names, host, servers)
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
        "dns": {**dns, "caa_domain": caa_domain},
        "fleet_names": fleet_names,
    }


def _tls_dns(names: list[str], host: str, servers: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether a zone of the fleet covers ``names`` (DNSSEC expected) and the TLSA parameters its name servers
    publish for ``host`` (those whose dns_records_tls_hosts list it)."""
    tlsa: list[dict[str, int]] = []
    dnssec = False
    for server in servers:
        if any(_in_zone(n, z) for n in names for z in server["zones"]):
            dnssec = True
            if host in server["tls_hosts"]:
                tlsa += [dict(p) for p in server["tlsa"] if dict(p) not in tlsa]
    return {"dnssec": dnssec, "tlsa": tlsa}


def _mail_declaration(hostvars: Mapping[str, Any], host: str, defaults: Mapping[str, Any]
                      ) -> tuple[dict[str, Any], list[str]]:
    """mail_tls's variables of ``host`` with the role's defaults, and what is wrong with them (for the checks to
    report: a bad declaration is a finding, not a failed play)."""
    problems: list[str] = []
    hostname = str(hostvars[host].get("mail_tls_hostname") or host).lower().rstrip(".")
    aliases = [str(a).lower().rstrip(".") for a in _var(hostvars, host, "mail_tls_hostname_aliases", defaults) or []]
    domain = str(hostvars[host].get("mail_tls_domain") or hostname.split(".", 1)[-1]).lower().rstrip(".")
    mx = list(_var(hostvars, host, "mail_tls_mta_sts_mx", defaults) or [hostname])
    mode = _var(hostvars, host, "mail_tls_mta_sts_mode", defaults)
    max_age = _var(hostvars, host, "mail_tls_mta_sts_max_age", defaults)
    rua = list(_var(hostvars, host, "mail_tls_tls_rpt", defaults) or [])
    policy = policy_id = None
    if _var(hostvars, host, "mail_tls_mta_sts_dir", defaults):
        try:
            policy = mta_sts_policy(mx, mode, max_age)
            policy_id = mta_sts_id(policy)
        except AnsibleFilterError as exc:
            problems.append(str(exc).replace("mta_sts_policy: ", "mail_tls_mta_sts_*: "))
    if rua:
        try:
            tls_rpt_record(domain, rua)
        except AnsibleFilterError as exc:
            problems.append(str(exc).replace("tls_rpt_record: rua", "mail_tls_tls_rpt"))
    declaration = {"hostname": hostname, "names": list(dict.fromkeys([hostname, *aliases])), "domain": domain,
                   "mta_sts": None if policy is None else {"mode": mode, "max_age": int(max_age),
                                                           "mx": [str(m).lower().rstrip(".") for m in mx],
                                                           "policy": policy, "id": policy_id},
                   "tls_rpt": [str(uri) for uri in rua]}
    return declaration, problems


def _mail(hostvars: Mapping[str, Any], host: str, address: str, defaults: Mapping[str, Any],
          guidelines: Mapping[str, Any], servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``mail`` service per TLS port mail_tls serves, and one ``mail-policy`` service for the mail domain."""
    declaration, problems = _mail_declaration(hostvars, host, defaults)
    overrides = _var(hostvars, host, "mail_tls_profile_overrides", defaults) or {}
    profile = _profile(str(_var(hostvars, host, "mail_tls_profile", defaults)), overrides, guidelines)
    names = declaration["names"]
    dns = _tls_dns(names, host, servers)
    if dns["tlsa"] and _var(hostvars, host, "mail_tls_tlsa_issuer", defaults):
        dns["tlsa"].append(dict(ISSUER_TLSA))
    certificates = len(_var(hostvars, host, "mail_tls_certificates", defaults) or []) or 1
    services: list[dict[str, Any]] = []
    for port, starttls, switch in MAIL_PORTS:
        if switch and not _var(hostvars, host, switch, defaults):
            continue
        services.append({"kind": "mail", "service": f"{names[0]}:{port}", "name": names[0], "names": names,
                         "port": port, "starttls": starttls, "address": address, "certificates": certificates,
                         "profile": profile, "profile_overridden": bool(overrides), "dns": dns,
                         "variables": MAIL_VARIABLES})
    services.append({"kind": "mail-policy", "service": f"mail {declaration['domain']}", "address": address,
                     "hostname": declaration["hostname"], "domain": declaration["domain"],
                     "mta_sts": declaration["mta_sts"], "tls_rpt": declaration["tls_rpt"],
                     "dnssec": any(_in_zone(declaration["domain"], z) for s in servers for z in s["zones"]),
                     "problems": problems})
    return services


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
        mail = _mail(hostvars, host, primary, defaults, context["guidelines"], _name_servers(hostvars, groups, defaults))
        services += mail
        declared_tcp += [s["port"] for s in mail if s["kind"] == "mail"]

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
