#!/usr/bin/python3
"""certspotter's hook for Bulwark's ct_monitor role: alert on certificates that are not ours.

certspotter runs this for every certificate (or precertificate) it finds in a CT log for a name on
the watch list, and for malformed entries and monitoring errors, with the details in environment
variables (certspotter-script(8)). A certificate whose public key is one Bulwark serves or has staged
(``PUBKEY_SHA256`` in the configuration's ``known_keys``) is logged quietly to the journal: renewals are
normal. Anything else is an alert, written to the journal and to a JSON lines file, and sent by mail
through the local MTA and to an https webhook when configured. The alert says whether the issuer is
one our CAA records allow.

Exit status 0 tells certspotter the notification is done (it then never repeats it); anything else
makes certspotter stop with an error, and systemd restarts it, so it tries again. So the local
channels (journal, JSON lines, the local MTA) must succeed; the remote webhook is tried a few times
and a failure is logged, not retried, so that an unreachable webhook cannot stop the monitoring.
Each channel is delivered at most once per alert (markers in the state directory), so a retry after
a partial failure sends only what is missing.

    ct_monitor_hook.py                          the hook (certspotter sets EVENT and the rest)
    ct_monitor_hook.py --check CONFIG [--watchlist FILE] [--log-list FILE-OR-URL]
                                                check the files before they are used (exit 1 if bad)

Standard library only: it runs on the monitor host with the system's python3.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import datetime
import email.message
import email.utils
import fcntl
import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

CONFIG_ENV = "BULWARK_CT_MONITOR_CONFIG"
DEFAULT_CONFIG = "/etc/certspotter/bulwark/ct_monitor.json"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
IDENTIFIER = "ct_monitor"

# journald priorities (syslog levels)
CRIT, ERR, WARNING, INFO = 2, 3, 4, 6

# The precertificate poison extension's OID as it appears in DER (RFC 6962 section 3.1).
_POISON_DER = bytes.fromhex("060a2b06010401d679020403")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# certspotter writes distinguished names as "C=US, O=Let's Encrypt, CN=R3", values unescaped.
_RDN_SPLIT = re.compile(r", (?=(?:[A-Za-z][A-Za-z0-9]*|[0-9]+(?:\.[0-9]+)+)=)")
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\s+(.*?)-----END CERTIFICATE-----", re.S)
_WEBHOOK_ATTEMPTS = 3


class ConfigError(Exception):
    """The configuration (or watch list, or log list) is not usable; the message names what and where."""


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


def dns_name_problem(name: str) -> str | None:
    """Why ``name`` (lower case, no trailing dot) is not a host name, or None."""
    if not name or len(name) > 253:
        return "it is empty or longer than 253 characters"
    for label in name.split("."):
        if not _LABEL.fullmatch(label):
            return f"label {label!r} is not 1-63 letters, digits and inner hyphens"
    return None


@dataclass
class Config:
    """What the role wrote to ct_monitor.json (see roles/ct_monitor/templates and the filters)."""

    alert_log: str
    state_dir: str
    known_keys: dict[str, list[str]]
    email: list[str] = field(default_factory=list)
    email_from: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    webhook: str = ""
    caa: list[dict[str, Any]] = field(default_factory=list)
    ca_domains: list[dict[str, Any]] = field(default_factory=list)


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data or not isinstance(data[key], kind):
        raise ConfigError(f"{key} is missing or not a {getattr(kind, '__name__', kind)}")
    return data[key]


def parse_config(data: Any) -> Config:
    """Check the decoded configuration; raise ConfigError naming the first bad item."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration is not a JSON object")
    config = Config(
        alert_log=_require(data, "alert_log", str),
        state_dir=_require(data, "state_dir", str),
        known_keys=_require(data, "known_keys", dict),
        email=_require(data, "email", list),
        email_from=_require(data, "email_from", str),
        smtp_host=_require(data, "smtp_host", str),
        smtp_port=_require(data, "smtp_port", int),
        webhook=_require(data, "webhook", str),
        caa=_require(data, "caa", list),
        ca_domains=_require(data, "ca_domains", list),
    )
    for path_key in ("alert_log", "state_dir"):
        if not getattr(config, path_key).startswith("/"):
            raise ConfigError(f"{path_key} must be an absolute path")
    for key, sources in config.known_keys.items():
        if not _HEX64.fullmatch(key) or not isinstance(sources, list):
            raise ConfigError(f"known_keys: {key[:70]!r} is not 64 lower-case hex digits with a list of sources")
    for address in config.email:
        if not isinstance(address, str) or not _email_ok(address):
            raise ConfigError(f"email: {str(address)[:80]!r} is not an address like user@example.org")
    if config.email_from and not _email_ok(config.email_from):
        raise ConfigError(f"email_from: {config.email_from[:80]!r} is not an address like user@example.org")
    if config.webhook:
        parts = urllib.parse.urlsplit(config.webhook)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"webhook must be an https:// URL, got one starting {config.webhook[:12]!r}")
    for index, entry in enumerate(config.caa):
        if not isinstance(entry, dict) or not isinstance(entry.get("domain"), str):
            raise ConfigError(f"caa[{index}] has no domain")
        for tag in ("issue", "issuewild"):
            value = entry.get(tag)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"caa[{index}].{tag} must be a list of issuer domains or null")
    for index, entry in enumerate(config.ca_domains):
        if not (isinstance(entry, dict) and isinstance(entry.get("issuer"), str) and entry["issuer"]
                and isinstance(entry.get("caa"), list) and all(isinstance(v, str) for v in entry["caa"])):
            raise ConfigError(f"ca_domains[{index}] must have an issuer name and a list of CAA domains")
    return config


def _email_ok(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and not re.search(r"[\s<>\"(),;:\\\[\]]", local)
                and (domain == "localhost" or dns_name_problem(domain.lower()) is None))


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def check_watchlist(text: str) -> int:
    """Count the watch list's entries; raise ConfigError on a line certspotter would misread."""
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        problem = dns_name_problem(item[1:] if item.startswith(".") else item)
        if problem:
            raise ConfigError(f"watch list line {number}: {item[:80]!r}: {problem}")
        count += 1
    if not count:
        raise ConfigError("the watch list names nothing to watch")
    return count


def check_log_list(text: str) -> int:
    """Count the logs in a v2/v3 log list; raise ConfigError where certspotter would refuse to start."""
    try:
        data = json.loads(text)
        logs = [log for operator in data["operators"] for log in operator.get("logs", []) + operator.get(
            "tiled_logs", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError("the log list is not a JSON log list with operators and their logs") from None
    for index, log in enumerate(logs):
        try:
            key = base64.b64decode(log["key"], validate=True)
            log_id = base64.b64decode(log["log_id"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise ConfigError(f"log {index} has no base64 key and log_id") from None
        if hashlib.sha256(key).digest() != log_id:
            raise ConfigError(f"log {index} ({str(log.get('description', ''))[:60]}): log_id is not the SHA-256 "
                              "of its key")
        if not (log.get("url") or (log.get("submission_url") and log.get("monitoring_url"))):
            raise ConfigError(f"log {index}: no URL")
    if not logs:
        raise ConfigError("the log list has no logs")
    return len(logs)


# --------------------------------------------------------------------------------------------------
# CAA: may the issuer issue for these names, by our CAA records?
# --------------------------------------------------------------------------------------------------


def issuer_attributes(issuer_dn: str) -> dict[str, list[str]]:
    """``{'O': [...], 'CN': [...], ...}`` from certspotter's ``ISSUER_DN``."""
    attributes: dict[str, list[str]] = {}
    for part in _RDN_SPLIT.split(issuer_dn.strip()) if issuer_dn.strip() else []:
        label, _eq, value = part.partition("=")
        attributes.setdefault(label.strip().upper(), []).append(value.strip())
    return attributes


def issuer_caa_domains(issuer_dn: str, ca_domains: list[dict[str, Any]]) -> tuple[str | None, list[str]]:
    """The first ``ca_domains`` entry whose issuer is the issuer's organisation (O) or common name (CN).

    Returns the matched issuer name and its CAA issuer domains, or (None, []) for an unknown issuer.
    """
    attributes = issuer_attributes(issuer_dn)
    values = {v.casefold() for v in attributes.get("O", []) + attributes.get("CN", [])}
    for entry in ca_domains:
        if entry["issuer"].casefold() in values:
            return entry["issuer"], [d.lower().rstrip(".") for d in entry["caa"]]
    return None, []


def relevant_caa(name: str, caa: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The CAA entry a CA must obey for ``name``: the closest enclosing domain that has one (RFC 8659 section 3)."""
    by_domain = {entry["domain"].lower().rstrip("."): entry for entry in caa}
    labels = name.lower().rstrip(".").split(".")
    for start in range(len(labels)):
        found = by_domain.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None


def caa_verdict(names: list[str], issuer_dn: str, caa: list[dict[str, Any]],
                ca_domains: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether our CAA records allow this certificate's issuer for every one of its names.

    A name with no CAA above it allows any CA. ``issuewild`` rules wildcard names when present, else
    ``issue``; a record set without ``issue`` leaves non-wildcard names open (RFC 8659 section 4.2, 4.3).
    An issuer the mapping does not know is taken as not allowed wherever CAA restricts issuance.
    """
    matched, domains = issuer_caa_domains(issuer_dn, ca_domains)
    violations = []
    restricted = False
    for raw in names:
        wildcard = raw.startswith("*.")
        name = raw[2:] if wildcard else raw
        entry = relevant_caa(name, caa)
        if entry is None:
            continue
        allowed = entry.get("issuewild") if wildcard and entry.get("issuewild") is not None else entry.get("issue")
        if allowed is None:
            continue
        restricted = True
        allowed = [d.lower().rstrip(".") for d in allowed]
        if not set(domains) & set(allowed):
            violations.append({"name": raw, "caa_domain": entry["domain"], "allows": allowed})
    if not restricted:
        note = "no CAA record of ours restricts these names"
    elif not violations:
        note = f"issuer {matched} is allowed by our CAA records"
    elif matched is None:
        note = "issuer unknown to ct_monitor_ca_domains, so taken as NOT allowed by our CAA records"
    else:
        note = f"issuer {matched} ({', '.join(domains) or 'no CAA domain'}) is NOT allowed by our CAA records"
    return {"allowed": not violations, "issuer": matched, "issuer_caa_domains": domains,
            "violations": violations, "note": note}


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What to do with one certspotter event: an alert for every channel, or a quiet journal line."""

    kind: str  # "known", "unknown_key", "malformed_entry", "monitor_error", "unknown_event"
    message: str
    priority: int
    alert: dict[str, Any] | None = None
    alert_id: str = ""


def _is_precertificate(cert_file: str | None) -> bool:
    """Whether the saved chain's first certificate carries the CT poison extension."""
    if not cert_file:
        return False
    try:
        with open(cert_file, encoding="ascii", errors="replace") as handle:
            block = _PEM_BLOCK.search(handle.read())
        return bool(block) and _POISON_DER in base64.b64decode("".join(block.group(1).split()))
    except (OSError, binascii.Error):
        return False


def _names(env: Mapping[str, str]) -> list[str]:
    try:
        with open(env.get("JSON_FILENAME", ""), encoding="utf-8") as handle:
            names = json.load(handle).get("dns_names", [])
        return [str(n) for n in names]
    except (OSError, ValueError, AttributeError):
        subject = issuer_attributes(env.get("SUBJECT_DN", "")).get("CN", [])
        return subject or [env.get("WATCH_ITEM", "?")]


def _one_line(text: str, limit: int = 300) -> str:
    """Control characters out (names come from a certificate anyone can have logged), shortened."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def classify(env: Mapping[str, str], config: Config, now: datetime.datetime) -> Outcome:
    """Decide what a certspotter event means, from its environment and our configuration."""
    event = env.get("EVENT", "")
    when = now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = socket.gethostname()
    if event == "discovered_cert":
        names = _names(env)
        where = f"{env.get('LOG_URI', '?')} entry {env.get('ENTRY_INDEX', '?')}"
        key = env.get("PUBKEY_SHA256", "").lower()
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        if key in config.known_keys:
            sources = ", ".join(config.known_keys[key][:3])
            return Outcome("known", _one_line(f"certificate for {shown} on our key ({sources}) in {where}: no alert"),
                           INFO)
        precert = _is_precertificate(env.get("CERT_FILENAME"))
        caa = caa_verdict(names, env.get("ISSUER_DN", ""), config.caa, config.ca_domains)
        what = "Precertificate" if precert else "Certificate"
        summary = _one_line(f"{what} for {shown} on a key that is not ours, issued by "
                            f"{env.get('ISSUER_DN', 'an unreadable issuer')}; {caa['note']}")
        alert = {
            "time": when, "host": host, "event": "unknown_key", "summary": summary, "names": names,
            "watch_item": env.get("WATCH_ITEM", ""), "precertificate": precert,
            "issuer": env.get("ISSUER_DN", env.get("ISSUER_PARSE_ERROR", "")),
            "subject": env.get("SUBJECT_DN", ""), "serial": env.get("SERIAL", ""),
            "not_before": env.get("NOT_BEFORE_RFC3339", ""), "not_after": env.get("NOT_AFTER_RFC3339", ""),
            "log_uri": env.get("LOG_URI", ""), "entry_index": _int(env.get("ENTRY_INDEX")),
            "pubkey_sha256": key, "cert_sha256": env.get("CERT_SHA256", ""),
            "tbs_sha256": env.get("TBS_SHA256", ""), "caa": caa,
        }
        return Outcome("unknown_key", summary, CRIT, alert, env.get("CERT_SHA256", "") or _digest(env))
    if event == "malformed_cert":
        summary = _one_line(f"Malformed entry {env.get('ENTRY_INDEX', '?')} in {env.get('LOG_URI', '?')}: "
                            f"{env.get('PARSE_ERROR', '')}; it may hold a certificate for our names")
        alert = {"time": when, "host": host, "event": "malformed_entry", "summary": summary,
                 "log_uri": env.get("LOG_URI", ""), "entry_index": _int(env.get("ENTRY_INDEX")),
                 "parse_error": env.get("PARSE_ERROR", ""), "leaf_hash": env.get("LEAF_HASH", "")}
        return Outcome("malformed_entry", summary, CRIT, alert, _digest(env))
    if event == "error":
        summary = _one_line(f"certspotter cannot monitor every log: {env.get('SUMMARY', 'see its journal')}")
        alert = {"time": when, "host": host, "event": "monitor_error", "summary": summary,
                 "details": _read_text(env.get("TEXT_FILENAME"))}
        return Outcome("monitor_error", summary, ERR, alert, _digest(env))
    return Outcome("unknown_event", _one_line(f"certspotter event {event!r} is not one this hook knows; ignored"),
                   WARNING)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _digest(env: Mapping[str, str]) -> str:
    keys = ("EVENT", "LOG_URI", "ENTRY_INDEX", "LEAF_HASH", "TEXT_FILENAME", "SUMMARY")
    return hashlib.sha256("\0".join(env.get(k, "") for k in keys).encode()).hexdigest()


def _read_text(path: str | None, limit: int = 4000) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------------


def journal_send(fields: Mapping[str, str], path: str = JOURNAL_SOCKET) -> None:
    """One entry to journald by its native protocol (fields with newlines in the binary form)."""
    payload = bytearray()
    for key, value in fields.items():
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            payload += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            payload += key.encode() + b"=" + data + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(bytes(payload), path)


def append_json_line(path: str, record: Mapping[str, Any]) -> None:
    """Append one JSON line, locked against parallel hooks, and on disk before returning."""
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def build_email(alert: Mapping[str, Any], config: Config) -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = config.email_from or f"ct_monitor@{socket.gethostname()}"
    message["To"] = ", ".join(config.email)
    message["Subject"] = _one_line(f"[ct_monitor] {alert['summary']}", 200)
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain="ct-monitor.invalid")
    lines = [str(alert["summary"]), ""]
    for key in ("names", "issuer", "serial", "not_before", "not_after", "precertificate", "log_uri",
                "entry_index", "pubkey_sha256", "cert_sha256", "parse_error", "details"):
        if alert.get(key) not in (None, "", []):
            value = ", ".join(alert[key]) if isinstance(alert[key], list) else alert[key]
            lines.append(f"{key}: {value}")
    if "caa" in alert:
        lines.append(f"caa: {alert['caa']['note']}")
    lines += ["", "The whole alert as JSON:", json.dumps(alert, indent=2, sort_keys=True)]
    body = "\n".join(lines) + "\n"
    # Plain lines a person can read in any mail client (every line is well under 998 characters).
    message.set_content(body, cte="7bit" if body.isascii() else "8bit")
    return message


def send_email(alert: Mapping[str, Any], config: Config) -> None:
    """Hand the alert to the local MTA over SMTP (it queues and retries; no privileges needed)."""
    # local_hostname: smtplib would otherwise look up the host's FQDN in the DNS first.
    with smtplib.SMTP(config.smtp_host, config.smtp_port, local_hostname=socket.gethostname(), timeout=30) as smtp:
        smtp.send_message(build_email(alert, config))


def webhook_target(url: str) -> str:
    """The webhook's scheme and host, for messages: its path may hold a token."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/..."


def post_webhook(alert: Mapping[str, Any], url: str, sleep: Callable[[float], None] = time.sleep,
                 opener: Callable[..., Any] = urllib.request.urlopen) -> str | None:
    """POST the alert as JSON, verifying the server's certificate; return None, or why it failed."""
    body = json.dumps(alert, sort_keys=True).encode()
    problem = None
    for attempt in range(_WEBHOOK_ATTEMPTS):
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "bulwark-ct-monitor"})
        try:
            with opener(request, timeout=10, context=ssl.create_default_context()) as response:
                if 200 <= response.status < 300:
                    return None
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problem = type(exc).__name__ + (f" ({exc.reason})" if isinstance(exc, urllib.error.URLError) else "")
        if attempt + 1 < _WEBHOOK_ATTEMPTS:
            sleep(2.0 * (attempt + 1))
    return problem


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass
class Channels:
    """The delivery functions, replaceable in tests."""

    journal: Callable[[Mapping[str, str]], None] = journal_send
    json_line: Callable[[str, Mapping[str, Any]], None] = append_json_line
    email: Callable[[Mapping[str, Any], Config], None] = send_email
    webhook: Callable[[Mapping[str, Any], str], str | None] = post_webhook


def deliver(outcome: Outcome, config: Config, channels: Channels) -> None:
    """Send ``outcome`` on every channel it needs, each at most once per alert; raise if a local one fails."""
    fields = {"MESSAGE": outcome.message, "PRIORITY": str(outcome.priority), "SYSLOG_IDENTIFIER": IDENTIFIER,
              "CT_MONITOR_EVENT": outcome.kind}
    if outcome.alert is None:
        channels.journal(fields)
        return
    fields["CT_MONITOR_ALERT"] = json.dumps(outcome.alert, sort_keys=True)
    marks = os.path.join(config.state_dir, "alerts")
    os.makedirs(marks, mode=0o750, exist_ok=True)
    base = os.path.join(marks, outcome.alert_id)

    def once(channel: str, send: Callable[[], None]) -> None:
        marker = f"{base}.{channel}"
        if os.path.exists(marker):
            return
        send()
        with open(marker, "w", encoding="ascii"):
            pass

    with locked(base + ".lock"):  # the same certificate may arrive from two logs at once
        once("journal", lambda: channels.journal(fields))
        once("jsonl", lambda: channels.json_line(config.alert_log, outcome.alert or {}))
        if config.email:
            once("email", lambda: channels.email(outcome.alert or {}, config))
        if config.webhook:
            def webhook() -> None:
                problem = channels.webhook(outcome.alert or {}, config.webhook)
                if problem:
                    channels.journal({"MESSAGE": f"webhook {webhook_target(config.webhook)} did not take the "
                                                 f"alert ({problem}); the journal, {config.alert_log} and any "
                                                 "mail have it", "PRIORITY": str(ERR),
                                      "SYSLOG_IDENTIFIER": IDENTIFIER, "CT_MONITOR_EVENT": "webhook_failed"})
            once("webhook", webhook)


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------


def check(args: argparse.Namespace) -> int:
    """``--check``: the configuration, watch list and log list as certspotter and this hook will read them."""
    try:
        config = load_config(args.check)
        notes = [f"{len(config.known_keys)} known keys"]
        if args.watchlist:
            with open(args.watchlist, encoding="utf-8") as handle:
                notes.append(f"{check_watchlist(handle.read())} watch list entries")
        if args.log_list and not args.log_list.startswith("https://"):
            with open(args.log_list, encoding="utf-8") as handle:
                notes.append(f"{check_log_list(handle.read())} logs")
        if config.email:
            try:
                with smtplib.SMTP(config.smtp_host, config.smtp_port, local_hostname=socket.gethostname(),
                                  timeout=10) as smtp:
                    smtp.noop()
            except (OSError, smtplib.SMTPException) as exc:
                raise ConfigError(f"email is set, but the local MTA does not answer SMTP on "
                                  f"{config.smtp_host}:{config.smtp_port} ({type(exc).__name__})") from None
            notes.append(f"the local MTA answers on {config.smtp_host}:{config.smtp_port}")
    except (ConfigError, OSError) as exc:
        print(f"ct_monitor: {exc}", file=sys.stderr)
        return 1
    print("ct_monitor: " + ", ".join(notes))
    return 0


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None,
         channels: Channels | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", metavar="CONFIG", help="check the configuration and exit")
    parser.add_argument("--watchlist", help="with --check: the watch list to check too")
    parser.add_argument("--log-list", help="with --check: the log list to check too (a path; URLs are skipped)")
    args = parser.parse_args(argv)
    if args.check:
        return check(args)
    env = os.environ if env is None else env
    channels = channels or Channels()
    try:
        config = load_config(env.get(CONFIG_ENV, DEFAULT_CONFIG))
        deliver(classify(env, config, datetime.datetime.now(datetime.timezone.utc)), config, channels)
    except (ConfigError, OSError, smtplib.SMTPException) as exc:
        # certspotter stops on this, systemd starts it again, and it retries the same event.
        print(f"ct_monitor hook failed, certspotter will retry: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
