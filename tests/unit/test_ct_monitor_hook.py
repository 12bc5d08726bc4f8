"""Unit tests for roles/ct_monitor/files/ct_monitor_hook.py, certspotter's alert hook on the monitor host.

The environment certspotter gives the hook (certspotter-script(8)) is built here as a dict; the channels
are recorded instead of sent, except the JSON lines file, the journal socket and SMTP, which are real
(a file, a datagram socket and a small SMTP server in the test).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import socket
import ssl
import struct
import threading
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import ct_monitor_hook as hook

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
OURS = "a" * 64
THEIRS = "b" * 64
LAB_CAA = [{"domain": "lab.test", "issue": ["pki.lab.test"], "issuewild": None}]
CA_DOMAINS = [{"issuer": "Bulwark Lab CA", "caa": ["pki.lab.test"]}, {"issuer": "Let's Encrypt", "caa": ["letsencrypt.org"]}]


def _config(tmp: Path, **overrides: Any) -> hook.Config:
    data = {"alert_log": str(tmp / "alerts.jsonl"), "state_dir": str(tmp / "state"),
            "known_keys": {OURS: ["web:/etc/ssl/www.crt"]}, "email": [], "email_from": "", "smtp_host": "127.0.0.1",
            "smtp_port": 25, "webhook": "", "caa": LAB_CAA, "ca_domains": CA_DOMAINS}
    data.update(overrides)
    return hook.parse_config(data)


def _cert_env(tmp: Path, key: str = THEIRS, names: list[str] | None = None, issuer: str = "O=Rogue Lab CA, CN=R1",
              precert: bool = False, sha: str = "c" * 64) -> dict[str, str]:
    info = tmp / f"{sha}.json"
    info.write_text(json.dumps({"dns_names": names or ["www.lab.test"]}))
    der = b"\x30\x82" + (hook._POISON_DER if precert else b"\x06\x03\x55\x1d\x11") + b"\x00" * 20
    pem = tmp / f"{sha}.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n" + base64.b64encode(der).decode() + "\n-----END CERTIFICATE-----\n")
    return {"EVENT": "discovered_cert", "PUBKEY_SHA256": key, "CERT_SHA256": sha, "TBS_SHA256": "d" * 64,
            "JSON_FILENAME": str(info), "CERT_FILENAME": str(pem), "ISSUER_DN": issuer, "SUBJECT_DN": "CN=www.lab.test",
            "SERIAL": "0a1b", "NOT_BEFORE_RFC3339": "2026-11-01T00:00:00Z", "NOT_AFTER_RFC3339": "2027-01-30T00:00:00Z",
            "LOG_URI": "http://ct.lab.test/", "ENTRY_INDEX": "3", "WATCH_ITEM": "www.lab.test"}


class Recorder(hook.Channels):
    """Channels that remember what they were given; email and webhook can be told to fail."""

    def __init__(self, email_fails: bool = False, webhook_problem: str | None = None) -> None:
        self.sent: dict[str, list[Any]] = {"journal": [], "jsonl": [], "email": [], "webhook": []}

        def journal(fields: Mapping[str, str]) -> None:
            self.sent["journal"].append(dict(fields))

        def json_line(path: str, record: Mapping[str, Any]) -> None:
            self.sent["jsonl"].append(record)
            hook.append_json_line(path, record)

        def email(alert: Mapping[str, Any], config: hook.Config) -> None:
            if email_fails:
                raise OSError("connection refused")
            self.sent["email"].append(alert)

        def webhook(alert: Mapping[str, Any], url: str) -> str | None:
            self.sent["webhook"].append(alert)
            return webhook_problem

        super().__init__(journal=journal, json_line=json_line, email=email, webhook=webhook)


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------


def test_a_certificate_on_our_key_is_logged_quietly(tmp_path: Path) -> None:
    outcome = hook.classify(_cert_env(tmp_path, key=OURS.upper()), _config(tmp_path), NOW)
    assert outcome.kind == "known" and outcome.alert is None
    assert outcome.priority == hook.INFO
    assert "on our key (web:/etc/ssl/www.crt)" in outcome.message and "entry 3" in outcome.message


def test_a_certificate_on_another_key_is_an_alert_with_everything_an_operator_needs(tmp_path: Path) -> None:
    outcome = hook.classify(_cert_env(tmp_path), _config(tmp_path), NOW)
    assert outcome.kind == "unknown_key" and outcome.priority == hook.CRIT
    alert = outcome.alert
    assert alert is not None
    assert alert["names"] == ["www.lab.test"]
    assert alert["issuer"] == "O=Rogue Lab CA, CN=R1"
    assert (alert["serial"], alert["not_before"], alert["not_after"]) == ("0a1b", "2026-11-01T00:00:00Z",
                                                                          "2027-01-30T00:00:00Z")
    assert (alert["log_uri"], alert["entry_index"]) == ("http://ct.lab.test/", 3)
    assert alert["time"] == "2026-11-27T12:00:00Z"
    assert not alert["precertificate"]
    assert not alert["caa"]["allowed"]
    assert outcome.alert_id == "c" * 64
    assert outcome.message.startswith("Certificate for www.lab.test on a key that is not ours, issued by O=Rogue")


def test_a_precertificate_is_recognised_by_its_poison_extension(tmp_path: Path) -> None:
    outcome = hook.classify(_cert_env(tmp_path, precert=True), _config(tmp_path), NOW)
    assert outcome.alert is not None and outcome.alert["precertificate"]
    assert outcome.message.startswith("Precertificate for")


def test_names_from_a_hostile_certificate_cannot_break_a_line(tmp_path: Path) -> None:
    env = _cert_env(tmp_path, names=["www.lab.test\nSubject: forged"])
    outcome = hook.classify(env, _config(tmp_path), NOW)
    assert "\n" not in outcome.message
    message = hook.build_email(outcome.alert or {}, _config(tmp_path, email=["sec@lab.test"]))
    headers = message.as_string().split("\n\n", 1)[0]
    assert len(re.findall(r"^Subject:", headers, re.M)) == 1


def test_malformed_entries_and_monitor_errors_are_alerts(tmp_path: Path) -> None:
    text = tmp_path / "health.txt"
    text.write_text("log list could not be loaded for 24h")
    malformed = hook.classify({"EVENT": "malformed_cert", "LOG_URI": "http://ct/", "ENTRY_INDEX": "9",
                               "PARSE_ERROR": "bad ASN.1", "LEAF_HASH": "xx"}, _config(tmp_path), NOW)
    error = hook.classify({"EVENT": "error", "SUMMARY": "stale log list", "TEXT_FILENAME": str(text)},
                          _config(tmp_path), NOW)
    assert malformed.kind == "malformed_entry" and malformed.alert and malformed.alert["entry_index"] == 9
    assert error.kind == "monitor_error" and error.alert and "24h" in error.alert["details"]
    unknown = hook.classify({"EVENT": "future_event"}, _config(tmp_path), NOW)
    assert unknown.alert is None and unknown.priority == hook.WARNING


# --------------------------------------------------------------------------------------------------
# CAA
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("issuer", "names", "caa", "allowed", "note"), [
    ("CN=Bulwark Lab CA", ["www.lab.test"], LAB_CAA, True, "issuer Bulwark Lab CA is allowed"),
    ("C=US, O=Let's Encrypt, CN=R10", ["www.lab.test"], LAB_CAA, False, "issuer Let's Encrypt (letsencrypt.org) is NOT"),
    ("O=Rogue, CN=R1", ["www.lab.test"], LAB_CAA, False, "unknown to ct_monitor_ca_domains"),
    ("O=Rogue, CN=R1", ["www.example.net"], LAB_CAA, True, "no CAA record of ours restricts"),
    ("C=US, O=Let's Encrypt, CN=R10", ["a.b.lab.test"], LAB_CAA + [{"domain": "b.lab.test", "issue": ["letsencrypt.org"],
                                                                     "issuewild": None}], True, "allowed"),
    ("CN=Bulwark Lab CA", ["*.lab.test"], [{"domain": "lab.test", "issue": ["pki.lab.test"], "issuewild": []}], False,
     "NOT allowed"),
    ("O=Rogue, CN=R1", ["www.lab.test"], [{"domain": "lab.test", "issue": None, "issuewild": []}], True, "no CAA"),
    ("CN=Bulwark Lab CA", ["www.lab.test"], [{"domain": "lab.test", "issue": [], "issuewild": None}], False, "NOT"),
])
def test_caa_verdicts_follow_rfc_8659(issuer: str, names: list[str], caa: list[dict[str, Any]], allowed: bool,
                                      note: str) -> None:
    verdict = hook.caa_verdict(names, issuer, caa, CA_DOMAINS)
    assert verdict["allowed"] is allowed
    assert note in verdict["note"]


def test_the_issuer_is_matched_on_its_organisation_or_common_name() -> None:
    assert hook.issuer_attributes("C=US, O=Let's Encrypt, CN=R10") == {"C": ["US"], "O": ["Let's Encrypt"],
                                                                      "CN": ["R10"]}
    assert hook.issuer_attributes("O=Entrust, Inc., CN=Entrust CA") == {"O": ["Entrust, Inc."], "CN": ["Entrust CA"]}
    assert hook.issuer_caa_domains("CN=bulwark lab ca", CA_DOMAINS) == ("Bulwark Lab CA", ["pki.lab.test"])
    assert hook.issuer_caa_domains("", CA_DOMAINS) == (None, [])


# --------------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------------


def test_an_alert_goes_to_every_configured_channel_once(tmp_path: Path) -> None:
    config = _config(tmp_path, email=["sec@lab.test"], webhook="https://hooks.lab.test/t")
    outcome = hook.classify(_cert_env(tmp_path), config, NOW)
    channels = Recorder()
    hook.deliver(outcome, config, channels)
    hook.deliver(outcome, config, channels)  # certspotter retried: nothing is sent twice
    assert {k: len(v) for k, v in channels.sent.items()} == {"journal": 1, "jsonl": 1, "email": 1, "webhook": 1}
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(line)["cert_sha256"] for line in lines] == ["c" * 64]
    assert json.loads(channels.sent["journal"][0]["CT_MONITOR_ALERT"])["names"] == ["www.lab.test"]


def test_a_failed_local_channel_fails_the_hook_and_a_retry_sends_only_what_is_missing(tmp_path: Path) -> None:
    config = _config(tmp_path, email=["sec@lab.test"])
    env = _cert_env(tmp_path)
    failing = Recorder(email_fails=True)
    assert hook.main([], env={**env, hook.CONFIG_ENV: _write_config(tmp_path, config)}, channels=failing) == 1
    working = Recorder()
    assert hook.main([], env={**env, hook.CONFIG_ENV: _write_config(tmp_path, config)}, channels=working) == 0
    assert len(failing.sent["jsonl"]) == 1 and working.sent["jsonl"] == []
    assert len(working.sent["email"]) == 1
    assert len((tmp_path / "alerts.jsonl").read_text().splitlines()) == 1


def test_a_failed_webhook_is_logged_and_does_not_stop_the_monitor(tmp_path: Path) -> None:
    config = _config(tmp_path, webhook="https://hooks.lab.test/s3cret")
    channels = Recorder(webhook_problem="HTTP 503")
    hook.deliver(hook.classify(_cert_env(tmp_path), config, NOW), config, channels)
    failure = [j for j in channels.sent["journal"] if j["CT_MONITOR_EVENT"] == "webhook_failed"]
    assert len(failure) == 1 and "HTTP 503" in failure[0]["MESSAGE"]
    assert "s3cret" not in failure[0]["MESSAGE"]


def test_a_quiet_certificate_goes_to_the_journal_only(tmp_path: Path) -> None:
    config = _config(tmp_path, email=["sec@lab.test"])
    channels = Recorder()
    hook.deliver(hook.classify(_cert_env(tmp_path, key=OURS), config, NOW), config, channels)
    assert len(channels.sent["journal"]) == 1 and channels.sent["journal"][0]["PRIORITY"] == "6"
    assert channels.sent["jsonl"] == channels.sent["email"] == []


def _write_config(tmp: Path, config: hook.Config) -> str:
    path = tmp / "ct_monitor.json"
    path.write_text(json.dumps(config.__dict__))
    return str(path)


def test_the_journal_gets_native_fields_including_multi_line_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        hook.journal_send({"MESSAGE": "one line", "DETAILS": "two\nlines"}, path)
        payload = server.recv(65536)
    assert payload.startswith(b"MESSAGE=one line\nDETAILS\n")
    assert payload[len(b"MESSAGE=one line\nDETAILS\n"):][:8] == struct.pack("<Q", 9)
    assert payload.endswith(b"two\nlines\n")


def test_mail_goes_to_the_local_mta_over_smtp(tmp_path: Path) -> None:
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def smtp_server() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as stream:
            def say(line: str) -> None:
                stream.write(line.encode() + b"\r\n")
                stream.flush()
            say("220 lab ESMTP")
            while line := stream.readline():
                command = line.decode().strip().upper()
                if command == "DATA":
                    say("354 go ahead")
                    while (data := stream.readline()) != b".\r\n":
                        received.append(data)
                    say("250 queued")
                elif command.startswith("QUIT"):
                    say("221 bye")
                    break
                else:
                    say("250 ok")

    thread = threading.Thread(target=smtp_server, daemon=True)
    thread.start()
    config = _config(tmp_path, email=["sec@lab.test"], smtp_port=server.getsockname()[1],
                     email_from="ct@lab.test")
    outcome = hook.classify(_cert_env(tmp_path), config, NOW)
    hook.send_email(outcome.alert or {}, config)
    thread.join(5)
    server.close()
    text = b"".join(received).decode()
    assert "To: sec@lab.test" in text and "From: ct@lab.test" in text
    assert "Subject: [ct_monitor] Certificate for www.lab.test" in text
    assert "issuer: O=Rogue Lab CA, CN=R1" in text


def test_the_webhook_is_tried_three_times_with_a_verifying_tls_context() -> None:
    contexts: list[ssl.SSLContext] = []
    pauses: list[float] = []

    def opener(request: Any, timeout: float, context: ssl.SSLContext) -> Any:
        contexts.append(context)
        raise urllib.error.URLError("certificate verify failed")

    problem = hook.post_webhook({"summary": "x"}, "https://hooks.lab.test/t", sleep=pauses.append, opener=opener)
    assert problem is not None and "certificate verify failed" in problem
    assert len(contexts) == 3 and all(c.verify_mode == ssl.CERT_REQUIRED and c.check_hostname for c in contexts)
    assert pauses == [2.0, 4.0]


# --------------------------------------------------------------------------------------------------
# Configuration checks (--check)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    ({"webhook": "http://hooks.lab.test/x"}, "webhook must be an https:// URL"),
    ({"email": ["no-at-sign"]}, "email: 'no-at-sign'"),
    ({"known_keys": {"xyz": []}}, "known_keys: 'xyz'"),
    ({"alert_log": "relative.jsonl"}, "alert_log must be an absolute path"),
    ({"caa": [{"domain": "lab.test", "issue": "pki.lab.test"}]}, "caa[0].issue must be a list"),
])
def test_a_bad_configuration_is_named(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    data = {**_config(tmp_path).__dict__, **change}
    with pytest.raises(hook.ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        hook.parse_config(data)


def test_the_watch_list_and_log_list_checks(tmp_path: Path) -> None:
    assert hook.check_watchlist("# comment\nwww.lab.test\n.dev.lab.test\n") == 2
    with pytest.raises(hook.ConfigError, match="line 2: 'bad..name'"):
        hook.check_watchlist("www.lab.test\nbad..name\n")
    with pytest.raises(hook.ConfigError, match="names nothing"):
        hook.check_watchlist("# nothing\n")
    key = b"\x30\x59" + b"\x01" * 89
    good = {"operators": [{"logs": [{"key": base64.b64encode(key).decode(),
                                     "log_id": base64.b64encode(__import__("hashlib").sha256(key).digest()).decode(),
                                     "url": "http://ct/"}]}]}
    assert hook.check_log_list(json.dumps(good)) == 1
    bad = json.loads(json.dumps(good))
    bad["operators"][0]["logs"][0]["log_id"] = base64.b64encode(b"\x00" * 32).decode()
    with pytest.raises(hook.ConfigError, match="log_id is not the SHA-256 of its key"):
        hook.check_log_list(json.dumps(bad))
    with pytest.raises(hook.ConfigError, match="not a JSON log list"):
        hook.check_log_list("[]")


def test_check_mode_of_the_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write_config(tmp_path, _config(tmp_path))
    watchlist = tmp_path / "watchlist"
    watchlist.write_text("www.lab.test\n")
    assert hook.main(["--check", config, "--watchlist", str(watchlist), "--log-list", "https://x/list.json"]) == 0
    assert "1 known keys, 1 watch list entries" in capsys.readouterr().out
    watchlist.write_text("-bad.lab.test\n")
    assert hook.main(["--check", config, "--watchlist", str(watchlist)]) == 1
    assert "-bad.lab.test" in capsys.readouterr().err
