# -*- coding: utf-8 -*-
"""HTTP checks of an HTTPS site with curl, pinned to the host's address (--resolve): the 308 redirect,
HSTS on 200 and 404 responses, HSTS preload eligibility rule by rule (the rules hstspreload.org applies,
after github.com/chromium/hstspreload), BREACH (no compression for a cross-site request) and no server
version in headers or error pages.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tempfile
from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_tls import _ca_file
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check
    from ansible.module_utils.bulwark_audit_tls import _ca_file

PRELOAD_MIN_AGE = 31536000  # one year (hstspreload.org, "bulk-1-year" policy)
PSL_PATHS = ("/usr/share/publicsuffix/public_suffix_list.dat", "/usr/share/publicsuffix/effective_tld_names.dat")
_VERSION_RE = re.compile(r"(?i)\b(nginx|apache|openssl|php|lighttpd|caddy|iis)\s*/\s*\d|\((debian|ubuntu)\)")
PROBE_PATH = "/bulwark-audit?q=1"


def parse_headers(text: str) -> tuple[int, list[tuple[str, str]]]:
    """The last header block of curl -D output -> (status, [(lowercased name, value)])."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", text.strip()) if b.strip().upper().startswith("HTTP/")]
    if not blocks:
        return 0, []
    lines = blocks[-1].splitlines()
    match = re.match(r"HTTP/[\d.]+\s+(\d{3})", lines[0])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip().lower(), value.strip()))
    return (int(match.group(1)) if match else 0), headers


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k == name.lower()]


def fetch(ctx: Context, service: dict[str, Any], url: str, address: str | None = None,
          headers: tuple[str, ...] = (), verify: bool = False) -> dict[str, Any]:
    """One request with curl, no redirects followed: {status, headers, body, error}."""
    match = re.match(r"^(https?)://([^/:]+)(?::(\d+))?", url)
    if not match:
        raise ValueError(f"not an http(s) URL: {url}")
    scheme, name, port = match.group(1), match.group(2), match.group(3) or ("443" if url.startswith("https") else "80")
    address = address or service["address"]
    pinned = f"[{address}]" if ":" in address else address
    with tempfile.NamedTemporaryFile(prefix="bulwark-audit-body-", delete=False) as body_file:
        body_path = body_file.name
    argv = ["curl", "-sS", "--max-time", str(ctx.options.get("timeout", 10)), "--resolve", f"{name}:{port}:{pinned}",
            "-D", "-", "-o", body_path, "-A", "bulwark-audit"]
    if scheme == "https":
        ca_file = _ca_file(ctx)
        argv += (["--cacert", ca_file] if ca_file and verify else []) + ([] if verify else ["-k"])
    for header in headers:
        argv += ["-H", header]
    argv.append(url)
    try:
        proc = ctx.run(argv)
        with open(body_path, "rb") as handle:
            body = handle.read(200000)
    finally:
        os.unlink(body_path)
    status, parsed = parse_headers(proc.stdout)
    return {"status": status, "headers": parsed, "body": body.decode("utf-8", "replace"), "rc": proc.returncode,
            "error": proc.stderr.strip() if proc.returncode else "", "url": url}


def _get(ctx: Context, service: dict[str, Any], url: str, **kwargs: Any) -> dict[str, Any]:
    key = ("curl", service["address"], url, tuple(kwargs.get("headers", ())), kwargs.get("verify", False))
    return ctx.evidence(key, lambda: fetch(ctx, service, url, **kwargs))


def parse_hsts(value: str) -> dict[str, Any]:
    """A Strict-Transport-Security value -> {max_age, include_subdomains, preload, warnings, errors}
    (the parser rules of hstspreload's header.go)."""
    parsed: dict[str, Any] = {"max_age": None, "include_subdomains": False, "preload": False,
                              "warnings": [], "errors": []}
    directives = [d.strip() for d in value.split(";")]
    if directives == [""]:
        parsed["warnings"].append("empty header")
        return parsed
    for directive in directives:
        lower = directive.lower()
        if lower == "preload":
            if parsed["preload"]:
                parsed["warnings"].append("repeated preload directive")
            parsed["preload"] = True
        elif lower == "includesubdomains":
            if parsed["include_subdomains"]:
                parsed["warnings"].append("repeated includeSubDomains directive")
            parsed["include_subdomains"] = True
        elif lower.startswith("max-age="):
            digits = directive[8:]
            if not digits.isdigit():
                parsed["errors"].append(f"max-age value is not digits: {directive}")
            elif parsed["max_age"] is not None:
                parsed["warnings"].append("repeated max-age directive")
            else:
                parsed["max_age"] = int(digits)
        elif lower.startswith("max-age"):
            parsed["errors"].append("max-age without a value")
        elif lower == "":
            parsed["warnings"].append("empty directive or extra semicolon")
        else:
            parsed["warnings"].append(f"unknown directive {directive}")
    return parsed


def hsts_problems(values: list[str], want: dict[str, Any]) -> list[str]:
    """What differs between the HSTS headers received and the declared hsts setting."""
    if not values:
        return ["no Strict-Transport-Security header"]
    if len(values) > 1:
        return [f"{len(values)} Strict-Transport-Security headers"]
    got = parse_hsts(values[0])
    problems = list(got["errors"])
    if got["max_age"] != int(want["max_age"]):
        problems.append(f"max-age {got['max_age']} (declared {want['max_age']})")
    for key, word in (("include_subdomains", "includeSubDomains"), ("preload", "preload")):
        if got[key] != bool(want.get(key)):
            problems.append(f"{word} {'present' if got[key] else 'missing'} (declared {bool(want.get(key))})")
    return problems


@check("https", "http-redirect", needs=("curl",), title="HTTP answers 308 to HTTPS on the same host")
def check_redirect(ctx: Context, service: dict[str, Any]) -> Any:
    """http://NAME/path?query answers 308 with Location https://NAME/path?query, for every name."""
    problems, lines = [], []
    for name in service["names"]:
        response = _get(ctx, service, f"http://{name}{PROBE_PATH}")
        location = (header_values(response["headers"], "location") or [""])[0]
        lines.append(f"http://{name}{PROBE_PATH} -> {response['status'] or response['error']} {location}".strip())
        if response["status"] != 308 or location != f"https://{name}{PROBE_PATH}":
            problems.append(lines[-1])
    return ctx.verdict(service, "http-redirect", problems, "; ".join(lines),
                       "tls_sites (re-apply nginx_tls / apache_tls)", details=lines)


@check("https", "hsts", needs=("curl",), title="HSTS on 200 and 404 responses")
def check_hsts(ctx: Context, service: dict[str, Any]) -> Any:
    """Exactly the declared Strict-Transport-Security header on a 200 and on a 404 response."""
    name = service["name"]
    missing_path = f"/bulwark-audit-missing-{secrets.token_hex(4)}"
    problems, lines = [], []
    for path, expect in (("/", "2xx"), (missing_path, "404")):
        response = _get(ctx, service, f"https://{name}{path}")
        values = header_values(response["headers"], "strict-transport-security")
        shown = path if path == "/" else "/bulwark-audit-missing-..."
        lines.append(f"https://{name}{shown}: {response['status'] or response['error']}, "
                     f"Strict-Transport-Security: {' | '.join(values) or 'none'}")
        for problem in hsts_problems(values, service["hsts"]):
            problems.append(f"{response['status'] or 'no answer'} ({expect}): {problem}")
    return ctx.verdict(service, "hsts", problems, f"'{service['hsts_header']}' on 200 and 404", "tls_sites[].hsts",
                       details=lines)


@check("https", "breach", needs=("curl",), title="No compression for a cross-site request (BREACH)")
def check_breach(ctx: Context, service: dict[str, Any]) -> Any:
    """A cross-site request (foreign Referer) that accepts gzip gets an uncompressed response."""
    mode = service.get("breach", "referer")
    if mode == "off":
        return ctx.finding(service, "breach", "n/a", "declared off (tls_sites[].breach: off)")
    name = service["name"]
    accept = "Accept-Encoding: gzip, deflate, br"
    cross = _get(ctx, service, f"https://{name}/", headers=(accept, "Referer: https://attacker.invalid/"))
    same = _get(ctx, service, f"https://{name}/", headers=(accept, f"Referer: https://{name}/"))
    cross_enc = ", ".join(header_values(cross["headers"], "content-encoding")) or "none"
    same_enc = ", ".join(header_values(same["headers"], "content-encoding")) or "none"
    text = (f"cross-site request: {cross['status']}, Content-Encoding {cross_enc}; same-site: {same['status']}, "
            f"Content-Encoding {same_enc} (breach: {mode})")
    if not cross["status"]:
        return ctx.finding(service, "breach", "fail", f"no answer over HTTPS: {cross['error']}",
                           variable="tls_sites[].breach")
    if cross_enc != "none":
        return ctx.finding(service, "breach", "fail", text, variable="tls_sites[].breach")
    return ctx.finding(service, "breach", "pass", text)


@check("https", "server-version", needs=("curl",), title="No server version disclosed")
def check_server_version(ctx: Context, service: dict[str, Any]) -> Any:
    """Neither the Server header (HTTP, HTTPS, 404) nor the 404 page names a software version."""
    name = service["name"]
    responses = [_get(ctx, service, f"http://{name}{PROBE_PATH}"), _get(ctx, service, f"https://{name}/"),
                 _get(ctx, service, f"https://{name}/bulwark-audit-missing-page")]
    problems, lines = [], []
    for response in responses:
        servers = header_values(response["headers"], "server")
        lines.append(f"{response['url']}: {response['status']}, Server: {', '.join(servers) or 'none'}")
        problems += [f"Server: {s}" for s in servers if re.search(r"\d", s) or _VERSION_RE.search(s)]
    body_hit = _VERSION_RE.search(responses[-1]["body"])
    if body_hit:
        problems.append(f"404 page says {body_hit.group(0)!r}")
    if problems:
        return ctx.finding(service, "server-version", "fail", "; ".join(sorted(set(problems))),
                           variable="server_tokens / ServerTokens (re-apply nginx_tls / apache_tls)", details=lines)
    return ctx.finding(service, "server-version", "pass", "; ".join(lines))


# --- HSTS preload eligibility ------------------------------------------------------------------


def _load_psl() -> tuple[set[str], set[str], set[str]]:
    rules, wildcards, exceptions = set(), set(), set()
    for path in PSL_PATHS:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip().lower()
                    if not line or line.startswith("//"):
                        continue
                    if line.startswith("!"):
                        exceptions.add(line[1:])
                    elif line.startswith("*."):
                        wildcards.add(line[2:])
                    else:
                        rules.add(line)
            break
    return rules, wildcards, exceptions


_PSL: tuple[set[str], set[str], set[str]] | None = None


def public_suffix(domain: str, psl: tuple[set[str], set[str], set[str]] | None = None) -> str:
    """The public suffix of ``domain`` (publicsuffix.org algorithm; without the list on the probe, the
    default rule "*": the last label)."""
    global _PSL  # noqa: PLW0603 - read once per process
    if psl is None:
        if _PSL is None:
            _PSL = _load_psl()
        psl = _PSL
    rules, wildcards, exceptions = psl
    labels = domain.lower().rstrip(".").split(".")
    best = labels[-1]
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in exceptions:
            return ".".join(labels[i + 1:])
        parent = ".".join(labels[i + 1:])
        if candidate in rules or (parent and parent in wildcards):
            best = candidate if len(candidate) > len(best) else best
    return best


def registrable_domain(name: str, psl: Any = None) -> str | None:
    suffix = public_suffix(name, psl)
    labels, suffix_labels = name.lower().rstrip(".").split("."), suffix.split(".")
    if len(labels) <= len(suffix_labels):
        return None
    return ".".join(labels[-len(suffix_labels) - 1:])


def preload_rules(domain: str, https: dict[str, Any], http: dict[str, Any], verified: dict[str, Any],
                  www: dict[str, Any] | None, psl: Any = None) -> list[tuple[str, bool, str]]:
    """hstspreload.org's rules for ``domain``, each as (rule, passed, what was seen)."""
    rules: list[tuple[str, bool, str]] = []
    fmt_ok = bool(re.fullmatch(r"[a-z0-9.-]+", domain)) and not domain.startswith(".") and ".." not in domain
    try:
        ipaddress.ip_address(domain)
        fmt_ok = False
    except ValueError:
        pass
    rules.append(("domain format", fmt_ok and public_suffix(domain, psl) != domain,
                  f"{domain}: letters, digits, '-' and '.', not an IP address, not a public suffix"))
    registrable = registrable_domain(domain, psl)
    rules.append(("registrable domain (eTLD+1)", registrable == domain,
                  f"{domain} is {'the registrable domain' if registrable == domain else f'under {registrable}'}"))
    rules.append(("valid certificate", verified.get("rc") == 0 and bool(verified.get("status")),
                  f"https://{domain}/ with certificate verification: "
                  f"{verified.get('status') or verified.get('error') or 'no answer'}"))
    values = header_values(https.get("headers", []), "strict-transport-security")
    rules.append(("one HSTS header", len(values) == 1, f"{len(values)} Strict-Transport-Security header(s)"))
    parsed = parse_hsts(values[0]) if len(values) == 1 else parse_hsts("")
    age = parsed["max_age"]
    rules.append(("max-age >= 31536000", age is not None and age >= PRELOAD_MIN_AGE, f"max-age={age}"))
    rules.append(("includeSubDomains", parsed["include_subdomains"], values[0] if values else "no header"))
    rules.append(("preload directive", parsed["preload"], values[0] if values else "no header"))
    rules.append(("header syntax", not parsed["errors"],
                  "; ".join(parsed["errors"] + parsed["warnings"]) or "no errors or warnings"))
    location = (header_values(http.get("headers", []), "location") or [""])[0]
    same_host = bool(re.match(rf"^https://{re.escape(domain)}(?::443)?(?:/|$)", location, re.IGNORECASE))
    rules.append(("HTTP redirects to HTTPS on the same host first", 300 <= int(http.get("status") or 0) < 400
                  and same_host, f"http://{domain}/ -> {http.get('status') or http.get('error')} {location}".strip()))
    https_location = (header_values(https.get("headers", []), "location") or [""])[0]
    https_status = int(https.get("status") or 0)
    rules.append(("HTTPS redirects stay on HTTPS", not (300 <= https_status < 400)
                  or https_location.lower().startswith("https://"),
                  f"https://{domain}/ -> {https_status} {https_location}".strip()))
    if www is None:
        rules.append(("www subdomain serves HTTPS", True, f"www.{domain} has no address"))
    else:
        rules.append(("www subdomain serves HTTPS", www.get("rc") == 0 and bool(www.get("status")),
                      f"https://www.{domain}/: {www.get('status') or www.get('error') or 'no answer'}"))
    return rules


def _www_address(ctx: Context, service: dict[str, Any], domain: str) -> str | None:
    fleet = service.get("fleet_names") or {}
    if f"www.{domain}" in fleet:
        return fleet[f"www.{domain}"]
    if not ctx.has("dnspython"):
        return None
    try:
        from ansible.module_utils.bulwark_audit_dns import lookup_addresses
    except ImportError:  # pragma: no cover - collection layout
        from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_dns import lookup_addresses
    found = lookup_addresses(ctx, f"www.{domain}")
    return found[0] if found else None


@check("https", "hsts-preload", needs=("curl",), title="HSTS preload eligibility (hstspreload.org rules)")
def check_preload(ctx: Context, service: dict[str, Any]) -> Any:
    """Every rule hstspreload.org applies, for the site's registrable domain; a fail only when preload is declared."""
    declared = bool(service["hsts"].get("preload"))
    domain = next((n for n in service["names"] if registrable_domain(n) == n), None)
    if domain is None:
        text = (f"the preload list takes registrable domains only; {', '.join(service['names'])} "
                f"{'is a subdomain' if len(service['names']) == 1 else 'are subdomains'}")
        if declared:
            return ctx.finding(service, "hsts-preload", "fail", text, variable="tls_sites[].hsts.preload")
        return ctx.finding(service, "hsts-preload", "n/a", f"not declared (hsts.preload: false); {text}")
    https = _get(ctx, service, f"https://{domain}/")
    http = _get(ctx, service, f"http://{domain}/")
    verified = _get(ctx, service, f"https://{domain}/", verify=True)
    www_address = _www_address(ctx, service, domain)
    www = _get(ctx, service, f"https://www.{domain}/", address=www_address, verify=True) if www_address else None
    rules = preload_rules(domain, https, http, verified, www)
    lines = [f"{'pass' if ok else 'FAIL'}: {rule} ({seen})" for rule, ok, seen in rules]
    failed = [rule for rule, ok, _seen in rules if not ok]
    summary = f"{domain}: {len(rules) - len(failed)}/{len(rules)} rules pass" + \
        (f"; failing: {', '.join(failed)}" if failed else "")
    if not declared:
        return ctx.finding(service, "hsts-preload", "n/a", f"not declared (hsts.preload: false); eligibility: {summary}",
                           details=lines)
    if failed:
        return ctx.finding(service, "hsts-preload", "fail", summary, variable="tls_sites[].hsts", details=lines)
    return ctx.finding(service, "hsts-preload", "pass", summary, details=lines)
