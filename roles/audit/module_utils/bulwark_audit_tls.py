# -*- coding: utf-8 -*-
"""TLS checks of an HTTPS site: sslyze (as a library) scans every site of the host once; openssl s_client
answers what sslyze cannot (post-quantum hybrid groups, a second look at OCSP stapling).

The expected values come from the declaration: the site's certificates count (RSA and ECDSA), and the
Mozilla profile named by ``tls_profile`` (with ``tls_profile_overrides``), as the plan carries it.

The mail ports (kind ``mail``: 25 and 587 after STARTTLS, 465 and 993 with TLS first) are scanned in the same
sslyze run, for their versions, cipher suites and certificates; the checks of both kinds are the same functions
(registered for ``mail`` in bulwark_audit_mail), and a service's ``variables`` names what a fail should change.
"""

from __future__ import annotations

import datetime
import re
import tempfile
import time
from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check

VERSIONS = (("ssl_2_0_cipher_suites", "SSLv2"), ("ssl_3_0_cipher_suites", "SSLv3"),
            ("tls_1_0_cipher_suites", "TLSv1"), ("tls_1_1_cipher_suites", "TLSv1.1"),
            ("tls_1_2_cipher_suites", "TLSv1.2"), ("tls_1_3_cipher_suites", "TLSv1.3"))
# sslyze names curves by SECG where Mozilla uses the ANSI X9.62 name.
CURVE_ALIASES = {"secp256r1": "prime256v1", "secp192r1": "prime192v1"}
PQ_GROUPS = ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024")


def _scan_commands(kind: str = "https") -> set:
    from sslyze import ScanCommand  # type: ignore[import-not-found]
    from sslyze.mozilla_tls_profile.tls_config_checker import (  # type: ignore[import-not-found]
        SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER)

    if kind == "mail":  # what the mail checks read: versions, suites and certificates (each STARTTLS costs)
        return {ScanCommand.CERTIFICATE_INFO, ScanCommand.SSL_2_0_CIPHER_SUITES, ScanCommand.SSL_3_0_CIPHER_SUITES,
                ScanCommand.TLS_1_0_CIPHER_SUITES, ScanCommand.TLS_1_1_CIPHER_SUITES,
                ScanCommand.TLS_1_2_CIPHER_SUITES, ScanCommand.TLS_1_3_CIPHER_SUITES}
    return set(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER) | {ScanCommand.SESSION_RESUMPTION}


def variable(service: dict[str, Any], key: str, default: str) -> str:
    """The declaration a fail of this service names: the service's own (``variables``, e.g. the mail role's), else
    the web roles' ``default``."""
    return str((service.get("variables") or {}).get(key) or default)


def _ca_file(ctx: Context) -> str | None:
    """The extra trust anchors (audit_ca_file, passed as PEM text) as a file on the probe, made once."""
    pem = ctx.options.get("ca_pem") or ""
    if not pem.strip():
        return None

    def write() -> str:
        handle = tempfile.NamedTemporaryFile("w", prefix="bulwark-audit-ca-", suffix=".pem", delete=False)
        with handle:
            handle.write(pem)
        return handle.name

    return ctx.evidence("ca_file", write)


def _scan_all(ctx: Context) -> dict[tuple[str, int], Any]:
    from pathlib import Path

    from sslyze import (CertificateInfoExtraArgument, ProtocolWithOpportunisticTlsEnum, Scanner,  # type: ignore
                        ScanCommandsExtraArguments, ServerNetworkConfiguration, ServerNetworkLocation,
                        ServerScanRequest)

    ca_file = _ca_file(ctx)
    requests = []
    for service in ctx.plan.get("services", []):
        if service["kind"] not in ("https", "mail"):
            continue
        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(ca_file)) if ca_file else None)
        starttls = {"smtp": ProtocolWithOpportunisticTlsEnum.SMTP,
                    "imap": ProtocolWithOpportunisticTlsEnum.IMAP}.get(service.get("starttls") or "")
        requests.append(ServerScanRequest(
            server_location=ServerNetworkLocation(hostname=service["name"], port=int(service["port"]),
                                                  ip_address=service["address"]),
            network_configuration=ServerNetworkConfiguration(
                tls_server_name_indication=service["name"], tls_opportunistic_encryption=starttls,
                network_timeout=int(ctx.options.get("timeout", 10)), network_max_retries=2),
            scan_commands=_scan_commands(service["kind"]), scan_commands_extra_arguments=extra))
    scanner = Scanner(per_server_concurrent_connections_limit=int(ctx.options.get("tls_connections", 8)))
    scanner.queue_scans(requests)
    return {(r.server_location.hostname, r.server_location.port): r for r in scanner.get_results()}


def scan(ctx: Context, service: dict[str, Any]) -> Any:
    """sslyze's result for the site; raises when sslyze could not connect."""
    results = ctx.evidence("sslyze", lambda: _scan_all(ctx))
    result = results.get((service["name"], int(service["port"])))
    if result is None or result.scan_result is None:
        error = getattr(result, "connectivity_error_trace", None)
        raise RuntimeError(f"sslyze could not connect to {service['address']}:{service['port']} "
                           f"({str(error).strip().splitlines()[-1] if error else 'no result'})")
    return result


def _command(ctx: Context, service: dict[str, Any], name: str) -> Any:
    attempt = getattr(scan(ctx, service).scan_result, name)
    if attempt.result is None:
        raise RuntimeError(f"sslyze's {name} did not complete: {attempt.error_reason} {attempt.error_trace or ''}"[:400])
    return attempt.result


def accepted(ctx: Context, service: dict[str, Any]) -> dict[str, list[str]]:
    """TLS version -> OpenSSL names of the accepted cipher suites (only the versions accepted)."""
    versions: dict[str, list[str]] = {}
    for field, version in VERSIONS:
        result = _command(ctx, service, field)
        if result.is_tls_version_supported:
            versions[version] = sorted(s.cipher_suite.openssl_name for s in result.accepted_cipher_suites)
    return versions


def _deployments(ctx: Context, service: dict[str, Any]) -> list[Any]:
    return list(_command(ctx, service, "certificate_info").certificate_deployments)


def key_type(certificate: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # type: ignore

    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ecdsa-{key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(key).__name__


def served_certificates(ctx: Context, service: dict[str, Any]) -> list[list[Any]]:
    """The certificate chains the site serves (one per key type), leaf first: for DANE and CAA checks."""
    return [list(d.received_certificate_chain) for d in _deployments(ctx, service)]


def cert_names(certificate: Any) -> list[str]:
    from cryptography import x509  # type: ignore

    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name).lower() for name in san.get_values_for_type(x509.DNSName)]


def name_matches(name: str, pattern: str) -> bool:
    """Whether certificate name ``pattern`` (possibly ``*.example.org``) covers host ``name``."""
    name, pattern = name.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _dot, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return name == pattern


# --- checks ---------------------------------------------------------------------------------------


@check("https", "tls-versions", needs=("sslyze",), title="Protocol versions are the profile's")
def check_versions(ctx: Context, service: dict[str, Any]) -> Any:
    """The TLS versions the server accepts are exactly the profile's (tls_profile)."""
    got = sorted(accepted(ctx, service))
    want = sorted(service["profile"]["tls_versions"])
    text = f"accepted {', '.join(got) or 'none'}; {service['profile']['name']} profile: {', '.join(want)}"
    extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
    if extra or missing:
        differences = [f"accepted but not declared: {', '.join(extra)}" if extra else "",
                       f"declared but refused: {', '.join(missing)}" if missing else ""]
        why = "; ".join(filter(None, differences))
        return ctx.finding(service, "tls-versions", "fail", f"{why} ({text})",
                           variable=variable(service, "profile", "tls_profile"))
    return ctx.finding(service, "tls-versions", "pass", text)


@check("https", "cipher-suites", needs=("sslyze",), title="Cipher suites are the profile's")
def check_ciphers(ctx: Context, service: dict[str, Any]) -> Any:
    """No cipher suite outside the profile is accepted (TLS 1.2 ciphers, TLS 1.3 ciphersuites)."""
    got = accepted(ctx, service)
    profile = service["profile"]
    extra: list[str] = []
    details = []
    for version, suites in sorted(got.items()):
        allowed = set(profile["ciphersuites"] if version == "TLSv1.3" else profile["ciphers"])
        extra += [f"{s} ({version})" for s in suites if s not in allowed]
        details.append(f"{version}: {', '.join(suites)}")
    if extra:
        return ctx.finding(service, "cipher-suites", "fail", f"accepted outside the {profile['name']} profile: "
                           f"{', '.join(extra)}", variable=variable(service, "profile", "tls_profile"),
                           details=details)
    count = sum(len(s) for s in got.values())
    return ctx.finding(service, "cipher-suites", "pass", f"{count} suites accepted, all in the {profile['name']} "
                       "profile", details=details)


@check("https", "groups", needs=("sslyze",), title="Key exchange groups are the profile's")
def check_groups(ctx: Context, service: dict[str, Any]) -> Any:
    """The classic ECDH groups the server accepts are the profile's (PQ hybrids: see pq-hybrid)."""
    result = _command(ctx, service, "elliptic_curves")
    got = sorted(CURVE_ALIASES.get(c.name, c.name) for c in result.supported_curves or [])
    want = sorted(g for g in service["profile"]["groups"] if g not in PQ_GROUPS)
    extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
    text = f"accepted {', '.join(got) or 'none'}; profile: {', '.join(want)}"
    if extra:
        return ctx.finding(service, "groups", "fail", f"accepted but not in the profile: {', '.join(extra)} ({text})",
                           variable="tls_profile")
    if missing:
        return ctx.finding(service, "groups", "warn", f"in the profile but refused: {', '.join(missing)} ({text})")
    return ctx.finding(service, "groups", "pass", text)


def openssl_version(ctx: Context) -> tuple[int, ...]:
    def probe() -> tuple[int, ...]:
        proc = ctx.run(["openssl", "version"])
        match = re.search(r"OpenSSL (\d+)\.(\d+)\.(\d+)", proc.stdout)
        return tuple(int(x) for x in match.groups()) if match else ()

    return ctx.evidence("openssl_version", probe)


def s_client(ctx: Context, service: dict[str, Any], *args: str) -> Any:
    address = service["address"]
    target = f"[{address}]:{service['port']}" if ":" in address else f"{address}:{service['port']}"
    return ctx.run(["openssl", "s_client", "-connect", target, "-servername", service["name"], *args],
                   input_text="")


@check("https", "pq-hybrid", needs=("openssl",), title="Post-quantum hybrid key exchange")
def check_pq(ctx: Context, service: dict[str, Any]) -> Any:
    """The server negotiates the profile's post-quantum hybrid group (X25519MLKEM768) where it can."""
    groups = [g for g in service["profile"]["groups"] if g in PQ_GROUPS]
    if not groups:
        return ctx.finding(service, "pq-hybrid", "n/a", "the profile lists no post-quantum hybrid group")
    version = openssl_version(ctx)
    if version < (3, 5):
        return ctx.finding(service, "pq-hybrid", "n/a", f"the probe's OpenSSL {'.'.join(map(str, version)) or '?'} "
                           f"cannot offer {groups[0]} (needs 3.5)")
    proc = s_client(ctx, service, "-tls1_3", "-groups", groups[0])
    if proc.returncode == 124:  # a slow machine, not a refusal: one more try
        proc = s_client(ctx, service, "-tls1_3", "-groups", groups[0])
    if proc.returncode == 124:
        raise RuntimeError(f"openssl s_client timed out: {proc.stderr.strip()}")
    if proc.returncode == 0 and re.search(r"(?m)^\s*(New, TLSv1\.3|Protocol\s*:\s*TLSv1\.3)", proc.stdout):
        return ctx.finding(service, "pq-hybrid", "pass", f"TLS 1.3 handshake with only {groups[0]} offered succeeded")
    return ctx.finding(service, "pq-hybrid", "warn", f"the server refuses {groups[0]}: the role leaves it out when the "
                       "server's OpenSSL is older than 3.5 (Debian 12)",
                       details=(proc.stderr or proc.stdout).strip().splitlines()[-3:])


@check("https", "certificate-types", needs=("sslyze",), title="Every declared certificate is served")
def check_types(ctx: Context, service: dict[str, Any]) -> Any:
    """One certificate per declared entry (RSA and ECDSA) is served, of a type the profile allows."""
    types = [key_type(chain[0]) for chain in served_certificates(ctx, service)]
    declared = int(service.get("certificates", 1))
    allowed = service["profile"].get("certificate_types") or ["ecdsa", "rsa"]
    text = f"served: {', '.join(types) or 'none'}; declared: {declared} certificate(s)"
    if len(types) < declared:
        return ctx.finding(service, "certificate-types", "fail", text,
                           variable=variable(service, "certificates", "tls_sites[].certificates"))
    odd = [t for t in types if not any(t.startswith(a) for a in allowed)]
    if odd:
        return ctx.finding(service, "certificate-types", "warn", f"{text}; the {service['profile']['name']} profile "
                           f"expects {', '.join(allowed)}")
    return ctx.finding(service, "certificate-types", "pass", text)


def mozilla_configuration(service: dict[str, Any]) -> Any:
    from sslyze.mozilla_tls_profile.tls_config_checker import TlsConfigurationAsJson  # type: ignore

    raw = dict(service["mozilla"])
    ciphers = raw.get("ciphers", {})
    raw["ciphers"] = {"caddy": ciphers.get("iana", []), "go": ciphers.get("iana", []),
                      "iana": ciphers.get("iana", []), "openssl": ciphers.get("openssl", [])}
    return TlsConfigurationAsJson(**{k: v for k, v in raw.items() if k != "oldest_clients"})


@check("https", "mozilla-profile", needs=("sslyze",), title="Mozilla compliance (sslyze's checker)")
def check_mozilla(ctx: Context, service: dict[str, Any]) -> Any:
    """sslyze's Mozilla checker, against the configuration of tls_profile from the profile data Bulwark renders."""
    from sslyze.mozilla_tls_profile.tls_config_checker import (  # type: ignore
        ServerNotCompliantWithTlsConfiguration, check_server_against_tls_configuration)

    name = f"Mozilla {service['mozilla_version']} {service['profile']['name']}"
    try:
        check_server_against_tls_configuration(scan(ctx, service), mozilla_configuration(service))
    except ServerNotCompliantWithTlsConfiguration as exc:
        issues = [f"{key}: {value}" for key, value in sorted(exc.issues.items())]
        if service.get("profile_overridden"):
            return ctx.finding(service, "mozilla-profile", "warn", f"not compliant with {name}, as "
                               "tls_profile_overrides declares", details=issues)
        return ctx.finding(service, "mozilla-profile", "fail", f"not compliant with {name}: {'; '.join(issues)}"[:600],
                           variable="tls_profile", details=issues)
    return ctx.finding(service, "mozilla-profile", "pass", f"compliant with {name}")


@check("https", "certificate-chain", needs=("sslyze",), title="Certificate chain validates")
def check_chain(ctx: Context, service: dict[str, Any]) -> Any:
    """Every served chain validates to a trusted root (the system's, plus audit_ca_file) and is in order."""
    problems, lines = [], []
    for deployment in _deployments(ctx, service):
        leaf = deployment.received_certificate_chain[0]
        kind = key_type(leaf)
        trusted = [r.trust_store.name for r in deployment.path_validation_results if r.was_validation_successful]
        errors = sorted({str(getattr(r, "validation_error", None) or getattr(r, "openssl_error_string", None))
                         for r in deployment.path_validation_results if not r.was_validation_successful})
        issuer = leaf.issuer.rfc4514_string()
        lines.append(f"{kind}: issuer {issuer}; {len(deployment.received_certificate_chain)} certificate(s) sent; "
                     f"trusted by {', '.join(trusted) or 'no trust store'}")
        if not deployment.verified_certificate_chain:
            problems.append(f"{kind}: does not validate ({'; '.join(errors) or 'untrusted'})")
        if deployment.received_chain_has_valid_order is False:
            problems.append(f"{kind}: chain sent out of order")
    return ctx.verdict(service, "certificate-chain", problems, "; ".join(lines),
                       variable(service, "chain", "tls_sites[].certificates[].chain"), details=lines)


@check("https", "certificate-names", needs=("sslyze",), title="Certificates cover every name")
def check_names(ctx: Context, service: dict[str, Any]) -> Any:
    """Every served certificate covers the site's name and every alias."""
    problems, lines = [], []
    for chain in served_certificates(ctx, service):
        names = cert_names(chain[0])
        kind = key_type(chain[0])
        lines.append(f"{kind}: {', '.join(names) or 'no DNS names'}")
        uncovered = [n for n in service["names"] if not any(name_matches(n, p) for p in names)]
        if uncovered:
            problems.append(f"{kind} does not cover {', '.join(uncovered)}")
    return ctx.verdict(service, "certificate-names", problems,
                       f"{', '.join(service['names'])} covered by every certificate",
                       variable(service, "certificates", "tls_sites[].certificates"), details=lines)


def days_left(certificate: Any, now: datetime.datetime | None = None) -> float:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (certificate.not_valid_after_utc - now).total_seconds() / 86400


@check("https", "certificate-expiry", needs=("sslyze",), title="Certificates are valid for long enough")
def check_expiry(ctx: Context, service: dict[str, Any]) -> Any:
    """No served certificate has expired, is not yet valid, or expires within audit_warn_days."""
    warn_days = float(ctx.options.get("warn_days", 14))
    worst, lines, result = None, [], "pass"
    now = datetime.datetime.now(datetime.timezone.utc)
    for chain in served_certificates(ctx, service):
        leaf = chain[0]
        left = days_left(leaf, now)
        lines.append(f"{key_type(leaf)}: {left:.0f} days left (until {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)")
        if left < 0 or leaf.not_valid_before_utc > now:
            result = "fail"
        elif left < warn_days and result == "pass":
            result = "warn"
        worst = left if worst is None else min(worst, left)
    if worst is None:
        return ctx.finding(service, "certificate-expiry", "fail", "no certificate received",
                           variable=variable(service, "certificates", "tls_sites[].certificates"))
    text = "; ".join(lines)
    if result == "fail":
        text = f"expired or not yet valid: {text}"
    elif result == "warn":
        text = f"expires within {warn_days:.0f} days (audit_warn_days): {text}"
    return ctx.finding(service, "certificate-expiry", result, text,
                       variable=variable(service, "renew", "tls_sites[].certificates[].cert (renew)"))


def _ocsp_uri(certificate: Any) -> str | None:
    from cryptography import x509  # type: ignore
    from cryptography.x509.oid import AuthorityInformationAccessOID  # type: ignore

    try:
        aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in aia:
        if description.access_method == AuthorityInformationAccessOID.OCSP:
            return str(description.access_location.value)
    return None


_SIGALGS = {"rsa": "RSA-PSS+SHA256:RSA+SHA256",
            "ecdsa": "ECDSA+SHA256:ECDSA+SHA384"}


def _stapled_by_openssl(ctx: Context, service: dict[str, Any], kind: str) -> str | None:
    """openssl s_client's view of the stapled response for the certificate of ``kind`` (nginx staples
    lazily: the first handshakes after a reload go without). None when nothing was stapled."""
    for attempt in range(3):
        proc = s_client(ctx, service, "-status", "-sigalgs", _SIGALGS["rsa" if kind.startswith("rsa") else "ecdsa"])
        status = re.search(r"Cert Status: (\w+)", proc.stdout)
        if status:
            return status.group(1)
        if attempt < 2:
            time.sleep(1)
    return None


@check("https", "ocsp-stapling", needs=("sslyze",), title="OCSP stapling")
def check_stapling(ctx: Context, service: dict[str, Any]) -> Any:
    """A good OCSP response is stapled for every certificate that names a responder (or why not)."""
    mode = service.get("ocsp_stapling", "auto")
    if mode == "off":
        return ctx.finding(service, "ocsp-stapling", "n/a", "declared off (tls_sites[].ocsp_stapling: off)")
    lines, problems, stapled = [], [], 0
    for deployment in _deployments(ctx, service):
        leaf = deployment.received_certificate_chain[0]
        kind = key_type(leaf)
        uri = _ocsp_uri(leaf)
        if not uri:
            lines.append(f"{kind}: not stapled: the certificate names no OCSP responder")
            if mode == "on":
                problems.append(f"{kind}: names no responder but ocsp_stapling is on")
            continue
        response = deployment.ocsp_response
        if response is not None:
            status = getattr(response, "certificate_status", None)
            status_text = getattr(status, "name", str(status)).lower()
            trusted = deployment.ocsp_response_is_trusted
            lines.append(f"{kind}: stapled, status {status_text} (responder {uri}"
                         f"{'' if trusted is None else ', signature trusted' if trusted else ', signature untrusted'})")
            if status_text != "good":
                problems.append(f"{kind}: stapled status {status_text}")
            stapled += 1
            continue
        second = _stapled_by_openssl(ctx, service, kind) if ctx.has("openssl") else None
        if second:
            lines.append(f"{kind}: stapled, status {second} (openssl s_client -status; responder {uri})")
            stapled += 1
            if second.lower() != "good":
                problems.append(f"{kind}: stapled status {second}")
        else:
            lines.append(f"{kind}: names responder {uri} but nothing was stapled")
            problems.append(f"{kind}: not stapled")
    if problems:
        return ctx.finding(service, "ocsp-stapling", "fail", "; ".join(problems),
                           variable="tls_sites[].ocsp_stapling", details=lines)
    if not stapled:
        return ctx.finding(service, "ocsp-stapling", "n/a", "; ".join(lines))
    return ctx.finding(service, "ocsp-stapling", "pass", "; ".join(lines))


@check("https", "session-resumption", needs=("sslyze",), title="TLS session resumption")
def check_resumption(ctx: Context, service: dict[str, Any]) -> Any:
    """TLS 1.2 sessions resume (session IDs from the shared cache, or tickets)."""
    if "TLSv1.2" not in service["profile"]["tls_versions"]:
        return ctx.finding(service, "session-resumption", "n/a", "sslyze tests resumption over TLS 1.2, which the "
                           f"{service['profile']['name']} profile does not offer")
    result = _command(ctx, service, "session_resumption")
    by_id = f"{result.session_id_successful_resumptions_count}/{result.session_id_attempted_resumptions_count}"
    by_ticket = f"{result.tls_ticket_successful_resumptions_count}/{result.tls_ticket_attempted_resumptions_count}"
    text = f"session IDs resumed {by_id}, tickets {by_ticket}"
    if result.session_id_successful_resumptions_count or result.tls_ticket_successful_resumptions_count:
        return ctx.finding(service, "session-resumption", "pass", text)
    return ctx.finding(service, "session-resumption", "fail", f"no session resumed ({text})",
                       variable="nginx_tls_session_cache_size / the server's session cache")
