# -*- coding: utf-8 -*-
"""Mail checks, from outside, against what mail_tls declares for the host (the plan: audit_plan).

Kind ``mail``, one service per TLS port of the MX (25 and 587 with STARTTLS, 465 and 993 with TLS first):

* ``starttls`` - what the port says in clear (smtplib, a socket): 25 and 587 offer STARTTLS and no AUTH before
  it, 587 refuses MAIL before it; 465 and 993 send nothing before the client's TLS handshake.
* the TLS checks of an HTTPS site, the same functions (bulwark_audit_tls, sslyze after STARTTLS where the port
  needs it): ``tls-versions`` and ``cipher-suites`` against ``mail_tls_profile``, ``certificate-types``,
  ``certificate-chain`` (trusted by the system and audit_ca_file), ``certificate-names`` (the MX name and its
  aliases), ``certificate-expiry``;
* ``dane-tlsa`` - the https check (bulwark_audit_dns): ``_PORT._tcp.MX`` TLSA validates and matches every served
  chain, with each parameter set dns_records publishes (3 1 1 per key; 2 1 1 for the issuer, mail_tls_tlsa_issuer).

Kind ``mail-policy``, one service per mail domain: ``mta-sts`` (the ``_mta-sts`` TXT and the policy served at
https://mta-sts.DOMAIN/.well-known/mta-sts.txt equal the declared one and cover the MX names) and ``tls-rpt`` (the
``_smtp._tls`` TXT names the declared report addresses).

The parsers and decisions are pure functions (tests/unit/test_audit_mail.py); the network is in the checks.
"""

from __future__ import annotations

import re
import smtplib
import socket
from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_dns import (
        _status_text, check_tlsa, lookup_addresses, resolver)
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_http import fetch, header_values
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_tls import (
        check_chain, check_ciphers, check_expiry, check_names, check_types, check_versions, name_matches)
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check
    from ansible.module_utils.bulwark_audit_dns import _status_text, check_tlsa, lookup_addresses, resolver
    from ansible.module_utils.bulwark_audit_http import fetch, header_values
    from ansible.module_utils.bulwark_audit_tls import (check_chain, check_ciphers, check_expiry, check_names,
                                                        check_types, check_versions, name_matches)

STS_MODES = ("enforce", "testing", "none")
STS_MAX_AGE = 31557600  # RFC 8461 section 3.2
STS_POLICY_LIMIT = 65536  # RFC 8461 section 3.3: senders may refuse larger policies
_ID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
_KEYWORD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
EHLO_NAME = "bulwark-audit.invalid"
ROLE = "mail_tls (re-apply it: the host drifted from it)"


# --- what a port says in clear --------------------------------------------------------------------


def ehlo_features(reply: str) -> dict[str, str]:
    """The ESMTP keywords of an EHLO reply's text (the lines after the code; the first is the greeting), upper
    case, with their parameters. ``AUTH=PLAIN`` (the pre-RFC 4954 form) counts as AUTH. Junk lines are skipped."""
    features: dict[str, str] = {}
    for line in str(reply).splitlines()[1:]:
        line = re.sub(r"^\d{3}[ -]", "", line.strip())
        parts = re.split(r"[ =]", line, maxsplit=1)
        keyword, params = parts[0], parts[1] if len(parts) > 1 else ""
        if _KEYWORD_RE.match(keyword):
            features.setdefault(keyword.upper(), params.strip())
    return features


def smtp_cleartext_problems(port: int, seen: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What is wrong with an SMTP port's clear-text dialog (``seen``: smtp_cleartext's result), and the lines of
    evidence. 25: STARTTLS offered, no AUTH. 587: the same, and MAIL refused until STARTTLS (5xx)."""
    lines = [f"banner: {seen.get('banner_code')} {str(seen.get('banner', ''))[:80]}".rstrip()]
    if seen.get("error"):
        return [f"port {port}: {seen['error']}"], lines + [f"error: {seen['error']}"]
    problems = []
    if seen.get("banner_code") != 220:
        problems.append(f"port {port}: greeting {seen.get('banner_code')} (not 220)")
    code = seen.get("ehlo_code")
    features = ehlo_features(seen.get("ehlo", "")) if code == 250 else {}
    lines.append(f"EHLO in clear: {code}, offers {', '.join(sorted(features)) or 'nothing'}")
    if code != 250:
        problems.append(f"port {port}: EHLO answered {code}")
    else:
        if "STARTTLS" not in features:
            problems.append(f"port {port}: STARTTLS not offered")
        if "AUTH" in features:
            problems.append(f"port {port}: AUTH {features['AUTH']} offered before STARTTLS".rstrip())
    if port == 587:
        mail_code = seen.get("mail_code")
        lines.append(f"MAIL before STARTTLS: {mail_code} {str(seen.get('mail', ''))[:80]}".rstrip())
        if not isinstance(mail_code, int) or not 500 <= mail_code < 600:
            problems.append(f"port {port}: MAIL before STARTTLS answered {mail_code} (must be refused, 530)")
    return problems, lines


def smtp_cleartext(address: str, port: int, timeout: float, try_mail: bool) -> dict[str, Any]:
    """Banner, EHLO and (``try_mail``) MAIL FROM in clear, then QUIT: codes and texts, or the error."""
    seen: dict[str, Any] = {}
    client = smtplib.SMTP(timeout=timeout)
    try:
        seen["banner_code"], banner = client.connect(address, port)
        seen["banner"] = banner.decode("utf-8", "replace")
        if seen["banner_code"] != 220:
            return seen
        code, reply = client.ehlo(EHLO_NAME)
        seen["ehlo_code"], seen["ehlo"] = code, reply.decode("utf-8", "replace")
        if try_mail:
            code, reply = client.docmd("MAIL", "FROM:<audit@bulwark-audit.invalid>")
            seen["mail_code"], seen["mail"] = code, reply.decode("utf-8", "replace")
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass
    except (smtplib.SMTPException, OSError) as exc:
        seen["error"] = f"{type(exc).__name__}: {exc}".strip()
    finally:
        client.close()
    return seen


def implicit_tls_problem(data: bytes) -> str | None:
    """A TLS server never speaks first: any byte before the client's handshake is a clear-text service."""
    if not data:
        return None
    shown = data[:40].decode("ascii", "replace").strip()
    return f"sent {len(data)} byte(s) in clear before TLS ({shown!r})"


def first_bytes(address: str, port: int, wait: float) -> bytes:
    """What the server sends within ``wait`` seconds of a TCP connection, sending nothing ourselves."""
    with socket.create_connection((address, port), timeout=wait) as connection:
        try:
            return connection.recv(256)
        except (socket.timeout, TimeoutError):
            return b""
        except ConnectionResetError:
            return b""


@check("mail", "starttls", title="Nothing that needs TLS happens in clear")
def check_starttls(ctx: Context, service: dict[str, Any]) -> Any:
    """25 and 587 offer STARTTLS and no AUTH in clear, 587 refuses MAIL before it; 465 and 993 speak TLS first."""
    port, address = int(service["port"]), service["address"]
    timeout = float(ctx.options.get("timeout", 10))
    if service.get("starttls") == "smtp":
        seen = ctx.evidence(("smtp-clear", address, port),
                            lambda: smtp_cleartext(address, port, timeout, try_mail=port == 587))
        problems, lines = smtp_cleartext_problems(port, seen)
        want = "STARTTLS offered, no AUTH" + (", MAIL refused" if port == 587 else "") + " before STARTTLS"
        return ctx.verdict(service, "starttls", problems, f"{want}: {'; '.join(lines[1:])}",
                           "mail_tls_submission" if port == 587 else ROLE, details=lines)
    wait = min(timeout, 2.0)
    try:
        data = first_bytes(address, port, wait)
    except OSError as exc:
        return ctx.finding(service, "starttls", "fail", f"no TCP connection to {address}:{port}: {exc}",
                           variable=ROLE)
    problem = implicit_tls_problem(data)
    if problem:
        return ctx.finding(service, "starttls", "fail", f"port {port} (implicit TLS) {problem}", variable=ROLE)
    return ctx.finding(service, "starttls", "pass", f"port {port} sent nothing in clear within {wait:.0f}s: it "
                       "waits for the client's TLS handshake (implicit TLS)")


# The web sites' TLS and DANE checks, on each mail port (the plan's mail services carry the same fields).
for _name, _func, _needs, _title in (
        ("tls-versions", check_versions, ("sslyze",), "Protocol versions are mail_tls_profile's"),
        ("cipher-suites", check_ciphers, ("sslyze",), "Cipher suites are mail_tls_profile's"),
        ("certificate-types", check_types, ("sslyze",), "Every declared certificate is served"),
        ("certificate-chain", check_chain, ("sslyze",), "Certificate chain validates"),
        ("certificate-names", check_names, ("sslyze",), "Certificates cover the MX name and aliases"),
        ("certificate-expiry", check_expiry, ("sslyze",), "Certificates are valid for long enough"),
        ("dane-tlsa", check_tlsa, ("dnspython", "sslyze"), "TLSA matches the served certificates (DANE)")):
    check("mail", _name, needs=_needs, title=_title)(_func)


# --- MTA-STS and TLS-RPT --------------------------------------------------------------------------


def _txt_strings(rrset: Any) -> list[str]:
    """Each TXT record of ``rrset`` as one string (its character-strings joined, RFC 7208 style)."""
    return [b"".join(record.strings).decode("utf-8", "replace") for record in rrset] if rrset is not None else []


def _tag_fields(text: str) -> list[tuple[str, str]]:
    fields = []
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if part.strip():
            fields.append((key.strip(), value.strip() if sep else ""))
    return fields


def _one_record(texts: list[str], version: str) -> tuple[str | None, list[str]]:
    """The one TXT record that starts with ``v=VERSION`` (RFC 8461 3.1, RFC 8460 3: other TXT records are
    ignored, and several of that version make senders ignore them all), or the problem."""
    records = [t for t in texts if re.match(rf"^v={version}\s*(;|$)", t)]
    if not records:
        return None, [f"no TXT record starting with v={version}" + (
            f" ({len(texts)} other TXT record(s))" if texts else "")]
    if len(records) > 1:
        return None, [f"{len(records)} v={version} records: senders ignore them all"]
    return records[0], []


def parse_sts_record(texts: list[str]) -> dict[str, Any]:
    """The ``_mta-sts`` TXT strings -> {id, problems} (RFC 8461 section 3.1)."""
    record, problems = _one_record(texts, "STSv1")
    if record is None:
        return {"id": None, "problems": problems}
    ids = [value for key, value in _tag_fields(record) if key == "id"]
    if len(ids) != 1 or not _ID_RE.match(ids[0]):
        shown = ids[0][:40] if ids else "none"
        return {"id": None, "problems": [f"id {shown!r} is not 1 to 32 letters and digits"]}
    return {"id": ids[0], "problems": []}


def parse_sts_policy(text: str) -> dict[str, Any]:
    """An MTA-STS policy text (RFC 8461 section 3.2) -> {version, mode, max_age, mx, problems}."""
    policy: dict[str, Any] = {"version": None, "mode": None, "max_age": None, "mx": [], "problems": []}
    if len(text) > STS_POLICY_LIMIT:
        policy["problems"].append(f"{len(text)} characters: larger than the {STS_POLICY_LIMIT} senders accept")
        return policy
    for number, line in enumerate(re.split(r"\r?\n", text), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            policy["problems"].append(f"line {number} is not 'key: value'")
            continue
        if key == "mx":
            policy["mx"].append(value.lower().rstrip("."))
        elif key in ("version", "mode", "max_age"):
            if policy[key] is not None:
                policy["problems"].append(f"{key} given twice")
            elif key == "max_age":
                policy[key] = int(value) if value.isdigit() and len(value) <= 10 else value[:20]
            else:
                policy[key] = value[:40]
    if policy["version"] != "STSv1":
        policy["problems"].append(f"version {policy['version']!r} (must be STSv1)")
    if policy["mode"] not in STS_MODES:
        policy["problems"].append(f"mode {policy['mode']!r} is not enforce, testing or none")
    if not isinstance(policy["max_age"], int) or policy["max_age"] > STS_MAX_AGE:
        policy["problems"].append(f"max_age {policy['max_age']!r} is not 0 to {STS_MAX_AGE}")
    if not policy["mx"] and policy["mode"] != "none":
        policy["problems"].append("no mx line")
    return policy


def sts_policy_problems(policy: dict[str, Any], declared: dict[str, Any], names: list[str]) -> list[str]:
    """How a parsed policy differs from the declared one, and which of ``names`` (the MX names that must be
    allowed: this host's, the domain's MX targets) no mx pattern covers."""
    problems = list(policy["problems"])
    if policy["mode"] in STS_MODES and policy["mode"] != declared["mode"]:
        problems.append(f"mode {policy['mode']} (declared {declared['mode']})")
    if isinstance(policy["max_age"], int) and policy["max_age"] != int(declared["max_age"]):
        problems.append(f"max_age {policy['max_age']} (declared {declared['max_age']})")
    if sorted(set(policy["mx"])) != sorted(set(declared["mx"])):
        problems.append(f"mx {', '.join(policy['mx']) or 'none'} (declared {', '.join(declared['mx'])})")
    if policy["mode"] != "none":
        uncovered = [n for n in names if not any(name_matches(n, p) for p in policy["mx"])]
        if uncovered:
            problems.append(f"no mx line covers {', '.join(uncovered)}")
    return problems


def parse_tls_rpt(texts: list[str]) -> dict[str, Any]:
    """The ``_smtp._tls`` TXT strings -> {rua, problems} (RFC 8460 section 3: one v=TLSRPTv1 record whose rua
    lists mailto: and https: URIs, comma separated)."""
    record, problems = _one_record(texts, "TLSRPTv1")
    if record is None:
        return {"rua": [], "problems": problems}
    values = [value for key, value in _tag_fields(record) if key == "rua"]
    if len(values) != 1:
        return {"rua": [], "problems": [f"{len(values)} rua fields (must be one)"]}
    rua = [uri.strip() for uri in values[0].split(",") if uri.strip()]
    bad = [uri[:60] for uri in rua if not re.match(r"^(mailto:[^\s@]+@[^\s@]+|https://\S+)$", uri)]
    return {"rua": rua, "problems": [f"rua {uri!r} is not a mailto: or https: URI" for uri in bad]}


def _not_checked(ctx: Context, service: dict[str, Any], name: str, variable: str, what: str, empty: str) -> Any:
    """A fail when the declaration behind ``variable`` is broken (the plan's problems name it first), n/a when it
    declares nothing, else None: the check goes on."""
    broken = [p for p in service.get("problems") or [] if p.startswith(variable.rstrip("*"))]
    if broken:
        return ctx.finding(service, name, "fail", "; ".join(broken), variable=variable)
    if not service.get(what):
        return ctx.finding(service, name, "n/a", f"nothing declared for {service['domain']} ({empty})")
    return None


def _signed(result: dict[str, Any], service: dict[str, Any], owner: str) -> list[str]:
    """A problem when the domain is in a signed zone of the fleet and the answer does not validate."""
    if service.get("dnssec") and result["status"] not in ("secure", "nxdomain", "nodata"):
        return [f"{owner}: {_status_text(result)}" + (f" ({result['error']})" if result["error"] else "")]
    return []


@check("mail-policy", "mta-sts", needs=("dnspython", "curl"), title="MTA-STS record and policy are the declared ones")
def check_mta_sts(ctx: Context, service: dict[str, Any]) -> Any:
    """_mta-sts TXT has v=STSv1 and the declared policy's id; the policy, fetched over HTTPS with a trusted chain,
    has the declared mode, max_age and mx lines, which cover the MX name and the domain's MX records."""
    skip = _not_checked(ctx, service, "mta-sts", "mail_tls_mta_sts_*", "mta_sts", "mail_tls_mta_sts_dir is empty")
    if skip:
        return skip
    declared, domain = service["mta_sts"], service["domain"]
    variable = "mail_tls_mta_sts_mode / _max_age / _mx (re-apply mail_tls, then dns_records)"
    problems, lines = [], []
    owner = f"_mta-sts.{domain}"
    result = resolver(ctx).resolve(owner, "TXT")
    record = parse_sts_record(_txt_strings(result["rrset"]))
    lines.append(f"{owner} TXT ({_status_text(result)}): id {record['id'] or '-'}; declared policy's id "
                 f"{declared['id']}")
    problems += _signed(result, service, owner) + [f"{owner}: {p}" for p in record["problems"]]
    if record["id"] and record["id"] != declared["id"]:
        problems.append(f"{owner}: id {record['id']} is not the declared policy's {declared['id']} (re-run "
                        "dns_records)")
    site = f"mta-sts.{domain}"
    url = f"https://{site}/.well-known/mta-sts.txt"
    addresses = lookup_addresses(ctx, site)
    if not addresses:
        problems.append(f"{site} has no address: senders cannot fetch the policy")
        return ctx.verdict(service, "mta-sts", problems, "", variable, details=lines)
    response = ctx.evidence(("curl", addresses[0], url, True),
                            lambda: fetch(ctx, service, url, address=addresses[0], verify=True))
    content_type = (header_values(response["headers"], "content-type") or [""])[0]
    lines.append(f"{url} (at {addresses[0]}): {response['status'] or response['error']}, Content-Type "
                 f"{content_type or 'none'}")
    if response["rc"] != 0 or response["status"] != 200:
        problems.append(f"{url}: {response['status'] or response['error'] or 'no answer'} (a trusted HTTPS 200 "
                        "without redirects is required)")
        return ctx.verdict(service, "mta-sts", problems, "", variable, details=lines)
    if not content_type.lower().startswith("text/plain"):
        problems.append(f"{url}: Content-Type {content_type or 'none'} (must be text/plain)")
    policy = parse_sts_policy(response["body"])
    lines.append(f"policy: mode {policy['mode']}, max_age {policy['max_age']}, mx {', '.join(policy['mx']) or '-'}")
    mx_result = resolver(ctx).resolve(domain, "MX")
    mx_hosts = sorted({str(r.exchange).lower().rstrip(".") for r in mx_result["rrset"] or []} - {""})
    lines.append(f"{domain} MX ({_status_text(mx_result)}): {', '.join(mx_hosts) or 'none'}")
    names = list(dict.fromkeys([service["hostname"], *mx_hosts]))
    problems += [f"policy: {p}" for p in sts_policy_problems(policy, declared, names)]
    passed = (f"{owner} id {record['id']}; {url}: mode {policy['mode']}, max_age {policy['max_age']}, mx "
              f"{', '.join(policy['mx'])} as declared, covering {', '.join(names)}")
    return ctx.verdict(service, "mta-sts", problems, passed, variable, details=lines)


@check("mail-policy", "tls-rpt", needs=("dnspython",), title="TLS-RPT record names the declared addresses")
def check_tls_rpt(ctx: Context, service: dict[str, Any]) -> Any:
    """_smtp._tls TXT is one v=TLSRPTv1 record whose rua are the declared mail_tls_tls_rpt URIs."""
    skip = _not_checked(ctx, service, "tls-rpt", "mail_tls_tls_rpt", "tls_rpt", "mail_tls_tls_rpt is empty")
    if skip:
        return skip
    declared, domain = service["tls_rpt"], service["domain"]
    owner = f"_smtp._tls.{domain}"
    result = resolver(ctx).resolve(owner, "TXT")
    record = parse_tls_rpt(_txt_strings(result["rrset"]))
    problems = _signed(result, service, owner) + [f"{owner}: {p}" for p in record["problems"]]
    if record["rua"] and sorted(record["rua"]) != sorted(declared):
        problems.append(f"{owner}: rua {', '.join(record['rua'])} (declared {', '.join(declared)})")
    text = f"{owner} TXT ({_status_text(result)}): rua {', '.join(record['rua']) or 'none'}"
    return ctx.verdict(service, "tls-rpt", problems, f"{text}, as declared", "mail_tls_tls_rpt (re-run dns_records)",
                       details=[text])
