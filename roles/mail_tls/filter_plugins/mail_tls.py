# -*- coding: utf-8 -*-
"""The mail_tls model: Postfix and Dovecot settings rendered from tls_common's profile, and the merges that
put them into the distribution's own files without touching the rest.

Filters:

* ``mail_tls_model``    - checks the mail variables against what tls_common's ``tls_site_model`` and
  ``tls_inspect`` found, and returns the Postfix files, the served chains, the published fact and the problems
  (which fail the play, each naming the variable).
* ``postfix_main_cf``   - ``main.cf`` with the given parameters set once each, everything else kept.
* ``postfix_master_cf`` - ``master.cf`` with the given services replacing any entry on the same port.

Pure Python (standard library and ansible only): tests/unit/test_mail_tls.py.

The published fact (``/etc/ansible/facts.d/bulwark_mail.fact``, ``ansible_local.bulwark_mail``) has the shape of
the web roles' ``bulwark_tls`` (schema 1, one ``sites`` entry per TLS service: 25, and 465, 587, 993 when they are
served), with ``issuer`` on each service (a DANE-TA record for the issuer) and a ``mail`` section: the mail
domain, the MTA-STS policy text the MX publishes (or null) and the TLS-RPT report URIs. dns_records reads it
with the shared ``tls_public_keys`` module (docs/mail.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.filter.mail_policy import mta_sts_policy, tls_rpt_record
    from ansible_collections.bulwark.hardening.plugins.filter.tls_common import tls_published_fact
    from ansible_collections.bulwark.hardening.plugins.module_utils import bulwark_dns, bulwark_messages
except ImportError:  # a role of the repository, or vendored: filters of the `shared` and `tls_common` roles
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "filter_plugins"))
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    sys.path.append(str(Path(__file__).resolve().parents[2] / "tls_common" / "filter_plugins"))
    import bulwark_dns  # type: ignore[no-redef]
    import bulwark_messages  # type: ignore[no-redef]
    from mail_policy import mta_sts_policy, tls_rpt_record  # type: ignore[no-redef]
    from tls_common import tls_published_fact  # type: ignore[no-redef]

MAIN_HEADER = "# Bulwark mail_tls: TLS settings (the role keeps each parameter once; edit the role's variables)"
MASTER_HEADER = "# Bulwark mail_tls: submission services (STARTTLS on 587, implicit TLS on 465)"
_PARAM_RE = re.compile(r"^([A-Za-z0-9_]+)\s*=")
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
# Services that listen on the submission ports, by the names master.cf may give them.
PORT_ALIASES = {"submission": ("submission", "587"), "submissions": ("submissions", "smtps", "465")}
# OpenSSL's TLS 1.3 suites when none are configured: Postfix has no setting for them before 3.9's
# tls_config_file, so a profile that asks for other suites cannot be rendered for Postfix.
OPENSSL_DEFAULT_SUITES = frozenset({"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"})
MTA_STS_MAX_AGE = 31557600
SMTP_PORT = 25
SUBMISSIONS_PORT = 465
SUBMISSION_PORT = 587
IMAPS_PORT = 993


def _version(text: str | None) -> tuple[int, ...]:
    match = _VERSION_RE.search(text or "")
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def _logical_lines(text: str) -> list[list[str]]:
    """Lines grouped as Postfix reads them: a line and its continuation lines (starting with whitespace)."""
    groups: list[list[str]] = []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and line.strip() and groups and not groups[-1][0].startswith("#") \
                and groups[-1][0].strip():
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def postfix_main_cf(current: str, settings: Mapping[str, Any]) -> str:
    """``current`` main.cf with every parameter of ``settings`` set exactly once.

    The first definition of a parameter is replaced where it stands, later ones are dropped (Postfix takes the
    last one and warns), parameters not yet defined are appended under one header; a value of None removes the
    parameter. Comments and every other parameter stay as they are.
    """
    if not isinstance(current, str):
        raise AnsibleFilterError(f"postfix_main_cf: current must be the text of main.cf, got {type(current).__name__}")
    done: set[str] = set()
    out: list[str] = []
    for group in _logical_lines(current):
        match = _PARAM_RE.match(group[0])
        name = match.group(1) if match else None
        if name is None or name not in settings:
            out.extend(group)
            continue
        if name not in done and settings[name] is not None:
            out.append(f"{name} = {settings[name]}")
        done.add(name)
    missing = [name for name, value in settings.items() if name not in done and value is not None]
    while out and not out[-1].strip():
        out.pop()
    if missing:
        out += ([] if MAIN_HEADER in out else ["", MAIN_HEADER]) + [f"{name} = {settings[name]}" for name in missing]
    return "\n".join(out) + "\n"


def _master_key(group: Sequence[str]) -> tuple[str, str] | None:
    if group[0].startswith("#") or not group[0].strip():
        return None
    fields = group[0].split()
    return (fields[0], fields[1]) if len(fields) >= 8 else None


def postfix_master_cf(current: str, services: Sequence[Mapping[str, Any]]) -> str:
    """``current`` master.cf with each of ``services`` (``{name, line, options}``) defined once.

    An active ``inet`` entry on the same port (``submission``/``587``, ``submissions``/``smtps``/``465``) is
    replaced where it stands; the others are dropped, so that two daemons never compete for one port.
    """
    if not isinstance(current, str):
        raise AnsibleFilterError(f"postfix_master_cf: current must be the text of master.cf, got {type(current).__name__}")
    rendered = {s["name"]: [s["line"]] + [f"  -o {option}" for option in s.get("options", [])] for s in services}
    owner = {alias: s["name"] for s in services for alias in PORT_ALIASES.get(s["name"], (s["name"],))}
    done: set[str] = set()
    out: list[str] = []
    for group in _logical_lines(current):
        key = _master_key(group)
        service = owner.get(key[0]) if key and key[1] == "inet" else None
        if service is None:
            out.extend(group)
            continue
        if service not in done:
            out.extend(rendered[service])
        done.add(service)
    missing = [name for name in rendered if name not in done]
    while out and not out[-1].strip():
        out.pop()
    if missing:
        out += [] if MASTER_HEADER in out else ["", MASTER_HEADER]
        for name in missing:
            out.extend(rendered[name])
    return "\n".join(out) + "\n"


def _rename(problem: str) -> str:
    """A tls_site_model problem about the mail pseudo-site, naming the mail variables instead."""
    text = re.sub(r"^tls_sites\[0\] \([^)]*\): ", "", problem)
    if text.startswith("certificates"):
        return "mail_tls_" + text
    if text.startswith("tls_profile_overrides"):
        return "mail_" + text
    if "is not a DNS name" in text or "is listed twice" in text:
        return "mail_tls_hostname / mail_tls_hostname_aliases: " + text.replace(" (name and aliases", " (")
    return "mail_tls: " + text


def _holds_chain(looked: Mapping[str, Any]) -> bool:
    """Whether the certificate file already holds the intermediates (tls_inspect's read of it: 2+ blocks)."""
    return str(looked.get("cert_pem") or "").count("-----BEGIN CERTIFICATE-----") >= 2


def _served_files(entry: Mapping[str, Any], looked: Mapping[str, Any]) -> list[str]:
    """Key, certificate, and the chain file unless the certificate file already holds the intermediates."""
    files = [str(entry["key"]), str(entry["cert"])]
    if not _holds_chain(looked):
        files.append(str(entry["chain"]))
    return files


def dovecot_certificates(served: Sequence[Mapping[str, Any]], looked: Mapping[str, Mapping[str, Any]],
                         chain_dir: str) -> list[dict[str, Any]]:
    """What Dovecot is given per certificate: it sends only what its one certificate file holds.

    A certificate file that already holds the intermediates is used as it is; a leaf whose chain is a file of its
    own gets ``<chain_dir>/mail-<n>.crt`` with the leaf and the chain (``content``, from tls_inspect's read,
    ``looked``: its certificates by cert path).
    """
    result = []
    for index, entry in enumerate(served):
        seen = looked.get(str(entry["cert"]), {})
        if _holds_chain(seen) or not seen.get("cert_pem") or not chain_dir:
            result.append({"cert": str(entry["cert"]), "key": str(entry["key"]), "content": None})
        else:
            result.append({"cert": f"{chain_dir.rstrip('/')}/mail-{index}.crt", "key": str(entry["key"]),
                           "content": str(seen["cert_pem"]) + str(seen.get("chain_pem") or "")})
    return result


def mail_tls_model(site_model: Mapping[str, Any], inspection: Mapping[str, Any] | None,
                   options: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the mail_tls tasks write, and the problems that stop them.

    ``site_model`` is tls_common's ``tls_site_model`` for one pseudo-site holding the MX names and
    ``mail_tls_certificates`` (so the certificate checks are tls_common's own); ``inspection`` is tls_inspect's
    result with the probes the mail role asked for (None in check mode on a host without the packages).
    """
    problems = [_rename(p) for p in site_model.get("problems", [])]
    # Postfix and Dovecot do not staple OCSP responses: the web roles' stapling notes do not apply.
    notes = [n.replace("tls_sites[0]", "mail_tls_certificates") for n in site_model.get("notes", [])
             if "OCSP stapling" not in n]
    profile = site_model["profile"]
    probes = (inspection or {}).get("probes", {})
    postfix_version = _version(probes.get("postfix_version", {}).get("stdout"))
    dovecot_version = _version(probes.get("dovecot_version", {}).get("stdout"))
    site = (site_model.get("sites") or [{}])[0]
    certificates = site.get("certificates", [])
    if len(certificates) > 2:
        problems.append(f"mail_tls_certificates: {len(certificates)} entries; Postfix and Dovecot serve one RSA "
                        "and one ECDSA certificate at most")
    if set(profile["ciphersuites"]) != OPENSSL_DEFAULT_SUITES:
        problems.append("mail_tls_profile_overrides.ciphersuites: Postfix cannot choose TLS 1.3 suites (it uses "
                        f"OpenSSL's: {':'.join(sorted(OPENSSL_DEFAULT_SUITES))}); leave the list as the profile has it")
    mode = options.get("mta_sts_mode")
    max_age = options.get("mta_sts_max_age")
    if isinstance(max_age, str) and max_age.strip().isdigit():
        max_age = int(max_age)
    if mode not in ("enforce", "testing", "none"):
        problems.append(f"mail_tls_mta_sts_mode: {bulwark_messages.describe(mode)} is not enforce, testing or none")
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= MTA_STS_MAX_AGE:
        problems.append(f"mail_tls_mta_sts_max_age: {bulwark_messages.describe(max_age)} is out of range (RFC 8461: "
                        f"0 to {MTA_STS_MAX_AGE} seconds)")
    domain = options.get("domain")
    domain_problem = bulwark_dns.name_problem(domain.rstrip(".")) if isinstance(domain, str) else "not a string"
    if domain_problem:
        problems.append(f"mail_tls_domain: {bulwark_messages.describe(domain)} is not a DNS name ({domain_problem})")
    rua = options.get("tls_rpt") or []
    if rua and not domain_problem:
        try:
            tls_rpt_record(domain, rua)
        except AnsibleFilterError as exc:
            problems.append(str(exc).replace("tls_rpt_record: rua", "mail_tls_tls_rpt"))
    policy = None
    if options.get("mta_sts_dir") and not any(p.startswith("mail_tls_mta_sts") for p in problems):
        try:
            policy = mta_sts_policy(options.get("mta_sts_mx") or site.get("server_names", [])[:1], mode, max_age)
        except AnsibleFilterError as exc:
            problems.append(str(exc).replace("mta_sts_policy: mx", "mail_tls_mta_sts_mx"))

    looked = {str(c.get("cert")): c for c in (inspection or {}).get("certificates", [])}
    served = [{**entry, "files": _served_files(entry, looked.get(str(entry["cert"]), {}))} for entry in certificates]
    dovecot = dovecot_certificates(served, looked, str(options.get("dovecot_chain_dir") or ""))
    if inspection is not None and "postconf" not in inspection.get("missing", []):
        # Never render from a file that could not be read, or from tools that fail on the current
        # configuration: an empty read would become an empty main.cf, which "postfix check" accepts.
        for probe, what in (("postfix_version", "postconf -d mail_version"), ("main_cf", "main.cf"),
                            ("master_cf", "master.cf")):
            result = probes.get(probe, {})
            if result.get("rc") != 0 or not str(result.get("stdout", "")).strip():
                reason = str(result.get("stderr") or "empty output").strip().splitlines()
                problems.append(f"mail_tls: cannot read Postfix's {what} on the host "
                                f"({reason[-1] if reason else 'no output'}); fix it, then run the role again")
    model = {"profile": profile, "postfix_version": ".".join(map(str, postfix_version)),
             "dovecot_version": ".".join(map(str, dovecot_version)), "dovecot_24": dovecot_version >= (2, 4),
             "certificates": served, "mta_sts_policy": policy, "dovecot_certificates": dovecot,
             "dovecot_chain_files": [{"path": d["cert"], "content": d["content"], "mode": "0644"}
                                     for d in dovecot if d["content"]],
             # In Dovecot's drop-in: a renewed certificate changes the drop-in, so Dovecot reloads and sends it.
             "dovecot_certificates_sha256": hashlib.sha256(
                 "".join(d["content"] or d["cert"] for d in dovecot).encode()).hexdigest(),
             "problems": problems, "notes": notes,
             "main_cf": None, "master_cf": None, "fact": None, "fact_text": None}
    if not problems:
        model["fact"] = mail_published_fact(site_model, options, policy)
        model["fact_text"] = json.dumps(model["fact"], indent=2, sort_keys=True) + "\n"
    if inspection is None or problems or not postfix_version:
        return model
    model["main_cf"] = postfix_main_cf(probes.get("main_cf", {}).get("stdout", ""),
                                       postfix_settings(profile, served, postfix_version, options))
    services = submission_services(options) if options.get("submission") else []
    model["master_cf"] = postfix_master_cf(probes.get("master_cf", {}).get("stdout", ""), services)
    return model


def mail_published_fact(site_model: Mapping[str, Any], options: Mapping[str, Any], policy: str | None) -> dict[str, Any]:
    """What the MX serves, for other roles (dns_records): the web roles' fact shape, one site per TLS port."""
    ports = [SMTP_PORT] + ([SUBMISSIONS_PORT, SUBMISSION_PORT] if options.get("submission") else []) \
        + ([IMAPS_PORT] if options.get("dovecot") else [])
    published = [tls_published_fact(site_model, "postfix", https_port=port) for port in ports]
    sites = [{**{k: v for k, v in site.items() if k != "http_port"}, "issuer": bool(options.get("tlsa_issuer"))}
             for fact in published for site in fact["sites"]]
    return {"schema": published[0]["schema"], "server": "postfix", "sites": sites,
            "mail": {"domain": str(options["domain"]).rstrip(".").lower(), "mta_sts_policy": policy,
                     "tls_rpt": list(options.get("tls_rpt") or [])}}


def postfix_settings(profile: Mapping[str, Any], served: Sequence[Mapping[str, Any]],
                     version: tuple[int, ...], options: Mapping[str, Any]) -> dict[str, Any]:
    """The main.cf parameters of the role, from the profile (no cipher name is written here)."""
    minimum = min(profile["tls_versions"], key=lambda v: _version(v.replace("TLSv", "")))
    settings: dict[str, Any] = {
        "myhostname": options["hostname"],
        # Both key types, each with its chain; the legacy single-certificate parameters would be ignored.
        "smtpd_tls_chain_files": ", ".join(f for entry in served for f in entry["files"]),
        "smtpd_tls_cert_file": None, "smtpd_tls_key_file": None,
        "smtpd_tls_eccert_file": None, "smtpd_tls_eckey_file": None,
        "smtpd_tls_dcert_file": None, "smtpd_tls_dkey_file": None,
        # Port 25 stays opportunistic (RFC 7672 section 2.3 expects it of an MX); submission overrides.
        "smtpd_tls_security_level": "may",
        "smtpd_tls_protocols": f">={minimum}",
        "smtpd_tls_mandatory_protocols": f">={minimum}",
        "smtpd_tls_ciphers": "high",
        "smtpd_tls_mandatory_ciphers": "high",
        "tls_high_cipherlist": ":".join(profile["ciphers"]) or "DEFAULT",
        "tls_preempt_cipherlist": "yes" if profile["server_preferred_order"] else "no",
        "tls_eecdh_auto_curves": " ".join(profile["groups"]),
        "tls_ssl_options": "NO_COMPRESSION NO_RENEGOTIATION",
        "smtpd_tls_session_cache_database": "btree:${data_directory}/smtpd_scache",
        "smtpd_tls_session_cache_timeout": f"{profile['session_timeout']}s",
        "smtpd_tls_auth_only": "yes",
        "smtpd_tls_loglevel": "1",
        "smtp_tls_loglevel": "1",
    }
    if version >= (3, 8):
        # The profile's groups are all elliptic-curve ones: no finite-field groups in TLS 1.3 either.
        settings["tls_ffdhe_auto_groups"] = ""
    if options.get("dane"):
        settings.update({
            "smtp_dns_support_level": "dnssec",
            "smtp_tls_security_level": "dane",
            "smtp_tls_mandatory_protocols": f">={minimum}",
            "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
        })
    return settings


def submission_services(options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """587 (STARTTLS required before anything else) and 465 (implicit TLS), both SASL only."""
    common = [
        "smtpd_sasl_auth_enable=yes",
        f"smtpd_sasl_type={options['sasl_type']}",
        f"smtpd_sasl_path={options['sasl_path']}",
        "smtpd_tls_auth_only=yes",
        "smtpd_client_restrictions=permit_sasl_authenticated,reject",
        "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    ]
    return [
        {"name": "submission", "line": "submission inet n       -       y       -       -       smtpd",
         "options": ["syslog_name=postfix/submission", "smtpd_tls_security_level=encrypt"] + common},
        {"name": "submissions", "line": "submissions inet n      -       y       -       -       smtpd",
         "options": ["syslog_name=postfix/submissions", "smtpd_tls_wrappermode=yes"] + common},
    ]


class FilterModule:
    """mail_tls filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"mail_tls_model": mail_tls_model, "postfix_main_cf": postfix_main_cf,
                "postfix_master_cf": postfix_master_cf}
