"""Unit tests for roles/acme_certificates/filter_plugins/acme_certificates.py: input checks, the renewal decision
and the DANE-safe rollover state machine."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from acme_certificates import (acme_account_fact, acme_accounts_missing, acme_certificate_items, acme_dns01_updates,
                               acme_http01_tokens, acme_inventory_zones, acme_plan, ari_verdicts, parse_time)

DAY = 86400
NOW = 1_800_000_000
SETTINGS: dict[str, Any] = {"directory": "https://acme.example/dir", "backup_directory": "", "renew_days": 30,
                            "key_max_age_days": 0, "expiry_alarm_days": 7, "terms_agreed": True,
                            "rollover_before": "", "force_renewal": False,
                            "dns_zones": [{"zone": "example.org", "primary": "ns1"}], "service": "",
                            "test_command": []}
WWW = {"name": "www", "domains": ["www.example.org", "example.org"], "key_types": ["ecdsa", "rsa"]}


def items(entries: list[Any], **settings: Any) -> dict[str, Any]:
    return acme_certificate_items(entries, {**SETTINGS, **settings})


def cert(**over: Any) -> dict[str, Any]:
    return {**items([{**WWW, "key_types": ["ecdsa"]}])["certificates"][0], **over}


def host(key_id: str = "k1", created: int = NOW - 10 * DAY, days_left: float = 60, names: list[str] | None = None,
         state: dict[str, Any] | None = None, next_key: dict[str, Any] | None = None,
         cert_spki: str | None = None) -> dict[str, Any]:
    return {"id": "www/ecdsa", "key": {"exists": True, "id": key_id, "spki": f"spki-{key_id}", "created": created},
            "cert": {"exists": True, "serial": "01", "not_after": NOW + days_left * DAY, "ca": "primary",
                     "names": sorted(names or ["www.example.org", "example.org"]),
                     "spki": cert_spki or f"spki-{key_id}", "pem": "PEM"},
            "state": state or {}, "next": next_key}


def plan(h: dict[str, Any], c: dict[str, Any] | None = None, dns: dict[str, Any] | None = None,
         ari: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    return acme_plan({"now": NOW, "certificates": [h]}, [c or cert()], {**SETTINGS, **settings}, ari=ari, dns=dns)


def served(*servers: bool, ttl: int = 300) -> dict[str, Any]:
    return {"www/ecdsa": {"all_serve": all(servers) and bool(servers), "ttl": ttl,
                          "servers": [{"name": f"ns{i}.", "address": f"192.0.2.{i}", "serves": s}
                                      for i, s in enumerate(servers, 1)], "error": None}}


# --- input ---------------------------------------------------------------------------------------------------
def test_items_expand_one_certificate_per_key_type_with_tlsa_owners() -> None:
    result = items([WWW])
    assert result["problems"] == []
    assert [c["id"] for c in result["certificates"]] == ["www/ecdsa", "www/rsa"]
    assert result["certificates"][0]["tlsa_owners"] == ["_443._tcp.www.example.org", "_443._tcp.example.org"]
    assert result["host"][1] == {"id": "www/rsa", "name": "www", "key_type": "rsa",
                                 "domains": ["www.example.org", "example.org"], "challenge": "http-01",
                                 "tlsa": [{"port": 443, "proto": "tcp"}]}


def test_items_take_service_and_test_command_from_the_role_defaults() -> None:
    result = items([{"name": "mx", "domains": ["mx.example.org"]}], service="postfix", test_command=["postfix", "check"])
    assert result["certificates"][0]["service"] == "postfix"
    assert result["certificates"][0]["test_command"] == ["postfix", "check"]


@pytest.mark.parametrize(("entry", "settings", "expected"), [
    ({**WWW, "key_types": ["ecdsa", "dsa"]}, {}, "acme_certificates_list[0] (www): key type 'dsa' is unknown"),
    ({**WWW, "domains": ["*.example.org"]}, {}, "*.example.org is a wildcard, which only dns-01 can prove"),
    ({**WWW, "domains": ["www.example.net"]}, {}, "domain www.example.net is in none of the zones example.org"),
    ({**WWW, "challenge": "dns-01"}, {"dns_zones": [{"zone": "example.org"}]},
     "dns-01 for www.example.org needs a zone that a dns_zone host serves"),
    ({**WWW, "challenge": "tls-alpn-01"}, {}, "challenge 'tls-alpn-01' is unknown"),
    ({**WWW, "name": "WWW site"}, {}, "name 'WWW site' must be"),
    ({**WWW, "domains": ["www.example.org", "www.example.org"]}, {}, "domain www.example.org is listed twice"),
    ({**WWW, "domains": ["bad_name.example.org"]}, {}, "domain 'bad_name.example.org' is not a DNS name"),
    ({**WWW, "tlsa": [{"port": 0}]}, {}, "tlsa[0].port 0 is not 1-65535"),
    ({**WWW, "colour": "blue"}, {}, "unknown key 'colour'"),
    ({**WWW, "test_command": "nginx -t"}, {}, "test_command must be a list of strings"),
    (WWW, {"directory": "http://acme.example/dir"}, "acme_directory: 'http://acme.example/dir' is not an https:// URL"),
    (WWW, {"backup_directory": "ftp://x"}, "acme_backup_directory: 'ftp://x' is not an https:// URL"),
    (WWW, {"backup_directory": "https://acme.example/dir"}, "acme_backup_directory: is the same CA"),
    (WWW, {"terms_agreed": False}, "acme_terms_agreed: is false"),
    (WWW, {"renew_days": 0}, "acme_renew_days: 0 is not a whole number of days >= 1"),
    (WWW, {"rollover_before": "next tuesday"}, "acme_rollover_before: 'next tuesday' is not an ISO 8601 time"),
])
def test_bad_input_is_refused_naming_the_entry_and_the_value(entry: dict[str, Any], settings: dict[str, Any],
                                                             expected: str) -> None:
    problems = items([entry], **settings)["problems"]
    assert any(expected in p for p in problems), problems


def test_two_entries_may_not_claim_the_same_name_and_key_type() -> None:
    problems = items([WWW, {"name": "other", "domains": ["example.org"]}])["problems"]
    assert "acme_certificates_list: example.org has two ecdsa certificates (www and other)" in problems


def test_wildcards_over_dns01_are_accepted_and_get_no_tlsa_owner() -> None:
    result = items([{"name": "wild", "domains": ["*.example.org"], "challenge": "dns-01"}])
    assert result["problems"] == []
    assert result["certificates"][0]["tlsa_owners"] == []


def test_a_list_that_is_not_a_list_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="acme_certificates_list must be a list"):
        acme_certificate_items({"name": "www"}, SETTINGS)


@pytest.mark.parametrize(("text", "expected"), [
    ("", None), (None, None), (1700000000, 1700000000), ("1700000000", 1700000000),
    ("2025-06-01", 1748736000), ("2025-06-01T00:00:00Z", 1748736000), ("2025-06-01T02:00:00+02:00", 1748736000),
])
def test_times_parse_as_utc(text: Any, expected: int | None) -> None:
    assert parse_time(text) == expected


# --- renewal -----------------------------------------------------------------------------------------------------
def test_nothing_due_means_no_order_no_op_and_an_ari_question() -> None:
    result = plan(host())
    assert result["orders"] == [] and result["ops"] == [] and result["messages"] == []
    assert result["ari"] == [{"id": "www/ecdsa", "ca": "primary", "certificate": "PEM"}]


@pytest.mark.parametrize(("h", "settings", "ari", "reason"), [
    ({**host(), "cert": {"exists": False}}, {}, None, "no certificate yet"),
    (host(days_left=29.5), {}, None, "29.5 days left, fewer than acme_renew_days (30)"),
    (host(names=["www.example.org"]), {}, None, "the names changed"),
    (host(cert_spki="spki-other"), {}, None, "the certificate does not belong to the served key"),
    (host(), {}, {"www/ecdsa": {"should_renew": True, "msg": "in window"}}, "renewal information (ARI, RFC 9773)"),
    (host(), {"force_renewal": True}, None, "forced (acme_force_renewal)"),
])
def test_renewal_reasons_order_with_the_same_key(h: dict[str, Any], settings: dict[str, Any],
                                                  ari: dict[str, Any] | None, reason: str) -> None:
    result = plan(h, ari=ari, **settings)
    assert len(result["orders"]) == 1
    order = result["orders"][0]
    assert order["key"] == "current" and reason in order["reason"]
    assert result["ops"] == []


def test_an_order_for_a_certificate_inside_the_alarm_window_is_urgent() -> None:
    assert plan(host(days_left=3))["orders"][0]["urgent"] is True
    assert plan(host(days_left=20))["orders"][0]["urgent"] is False


def test_ari_verdicts_come_from_the_registered_loop_and_ignore_unanswered_questions() -> None:
    registered = {"results": [
        {"item": {"id": "a"}, "should_renew": True, "supports_ari": True, "msg": "window"},
        {"item": {"id": "b"}, "should_renew": True, "supports_ari": False, "msg": "no ARI, days"},
        {"item": {"id": "c"}, "failed": False, "msg": "Error connecting"},
        {"item": {"id": "d"}, "skipped": True},
    ]}
    assert ari_verdicts(registered) == {"a": {"should_renew": True, "msg": "window"},
                                        "b": {"should_renew": False, "msg": "no ARI, days"}}


# --- rollover ----------------------------------------------------------------------------------------------------
def test_a_key_made_before_rollover_before_is_staged_step_1() -> None:
    c = cert(rollover_before=NOW - DAY)
    result = plan(host(created=NOW - 2 * DAY), c)
    assert result["ops"] == [{"id": "www/ecdsa", "op": "stage", "ttl": 0}]
    assert result["orders"] == []
    assert "rollover step 1/4" in result["messages"][0]


def test_a_key_older_than_the_maximum_age_is_staged() -> None:
    result = plan(host(created=NOW - 400 * DAY), key_max_age_days=365)
    assert result["ops"][0]["op"] == "stage"
    assert "400 days old" in result["messages"][0]


def test_a_new_key_is_not_rolled() -> None:
    assert plan(host(created=NOW - 2 * DAY), cert(rollover_before=NOW - 3 * DAY))["ops"] == []


STAGED = {"phase": "staged", "current": "k1", "next": "k2", "staged_at": NOW - 60}
NEXT = {"id": "k2", "spki_sha256": "aa", "spki_sha512": "bb"}


def test_staged_asks_for_the_next_keys_tlsa_and_waits_until_every_server_serves_it() -> None:
    first = plan(host(state=STAGED, next_key=NEXT))
    assert first["observe"] == [{"id": "www/ecdsa", "owners": ["_443._tcp.www.example.org", "_443._tcp.example.org"],
                                 "spki_sha256": "aa", "spki_sha512": "bb"}]
    waiting = plan(host(state=STAGED, next_key=NEXT), dns=served(True, False))
    assert waiting["ops"] == [] and waiting["orders"] == []
    assert "1/2 authoritative servers" in waiting["messages"][0] and "ns2. (192.0.2.2)" in waiting["messages"][0]


def test_served_everywhere_records_the_publication_with_its_ttl_step_2() -> None:
    result = plan(host(state=STAGED, next_key=NEXT), dns=served(True, True, ttl=300))
    assert result["ops"] == [{"id": "www/ecdsa", "op": "published", "ttl": 300}]
    assert result["orders"] == []
    assert "waiting until" in result["messages"][0] and "twice the TTL" in result["messages"][0]


def test_published_waits_twice_the_ttl_before_switching() -> None:
    state = {**STAGED, "phase": "published", "published_since": NOW - 599, "ttl": 300}
    early = plan(host(state=state, next_key=NEXT), dns=served(True, True))
    assert early["orders"] == [] and early["ops"] == []
    state["published_since"] = NOW - 600
    due = plan(host(state=state, next_key=NEXT), dns=served(True, True))
    assert due["orders"][0]["key"] == "next" and due["orders"][0]["reason"] == "key rollover"
    assert "rollover step 3/4" in due["messages"][0]


def test_the_wait_uses_the_larger_of_the_recorded_and_the_observed_ttl() -> None:
    state = {**STAGED, "phase": "published", "published_since": NOW - 700, "ttl": 300}
    assert plan(host(state=state, next_key=NEXT), dns=served(True, True, ttl=3600))["orders"] == []


def test_a_server_that_stops_serving_the_record_restarts_the_wait() -> None:
    state = {**STAGED, "phase": "published", "published_since": NOW - 10_000, "ttl": 300}
    result = plan(host(state=state, next_key=NEXT), dns=served(True, False))
    assert result["orders"] == []
    assert result["ops"] == [{"id": "www/ecdsa", "op": "unpublished", "ttl": 0}]


def test_no_observation_means_no_switch() -> None:
    state = {**STAGED, "phase": "published", "published_since": NOW - 10_000, "ttl": 300}
    assert plan(host(state=state, next_key=NEXT))["orders"] == []


def test_a_switch_done_by_a_run_that_died_is_recognised_from_the_served_key() -> None:
    state = {**STAGED, "phase": "published", "published_since": NOW - 10_000, "ttl": 300}
    result = plan(host(key_id="k2", state=state, next_key=NEXT), dns=served(True, True))
    assert result["ops"] == [{"id": "www/ecdsa", "op": "switched", "ttl": 0}]
    assert result["orders"] == [] and result["observe"] == []
    assert "already uses the next key" in result["messages"][0]


def test_withdrawing_waits_one_ttl_after_the_switch_then_ends_the_rollover() -> None:
    state = {"phase": "withdrawing", "previous": "k1", "switched_at": NOW - 299, "ttl": 300}
    assert plan(host(key_id="k2", state=state))["ops"] == []
    state["switched_at"] = NOW - 300
    result = plan(host(key_id="k2", state=state))
    assert result["ops"] == [{"id": "www/ecdsa", "op": "withdrawn", "ttl": 0}]
    assert "Rollover complete" in result["messages"][0]


def test_a_renewal_during_the_rollover_keeps_the_current_key() -> None:
    result = plan(host(days_left=5, state=STAGED, next_key=NEXT), dns=served(True, False))
    assert result["orders"][0]["key"] == "current"


def test_without_tlsa_owners_the_whole_rollover_is_one_run() -> None:
    c = cert(tlsa_owners=[], rollover_before=NOW - DAY)
    first = plan(host(created=NOW - 2 * DAY), c)
    assert [o["op"] for o in first["ops"]] == ["stage", "published"]
    assert first["orders"][0]["key"] == "next" and first["orders"][0]["finish"] == "withdrawn"
    # A run that died after the switch: the next one records it and ends the rollover at once.
    state = {**STAGED, "phase": "published", "published_since": NOW, "ttl": 0}
    after_kill = plan(host(key_id=NEXT["id"], state=state, next_key=NEXT), c)
    assert [o["op"] for o in after_kill["ops"]] == ["switched", "withdrawn"] and not after_kill["orders"]
    # A run that died after recording the switch: the old key goes without waiting.
    withdrawing = {"phase": "withdrawing", "previous": "k1", "switched_at": NOW, "ttl": 300}
    assert [o["op"] for o in plan(host(key_id=NEXT["id"], state=withdrawing), c)["ops"]] == ["withdrawn"]
    # A DANE certificate's order finishes nothing by itself.
    assert plan(host(created=NOW - 2 * DAY), cert(rollover_before=NOW - DAY))["orders"] == []


def test_each_run_takes_at_most_one_step() -> None:
    """Walk a whole rollover: every plan asks for one op or one order, never both, in the documented order."""
    steps = []
    state: dict[str, Any] = {}
    key_id, now = "k1", NOW
    c = cert(rollover_before=NOW - DAY)
    for _ in range(10):
        h = host(key_id=key_id, created=NOW - 2 * DAY, state=state, next_key=NEXT if state.get("next") else None)
        result = acme_plan({"now": now, "certificates": [h]}, [c], SETTINGS, dns=served(True, True, ttl=60))
        assert len(result["ops"]) + len(result["orders"]) <= 1
        if result["orders"]:
            steps.append("switch")
            key_id = "k2"
        elif result["ops"]:
            op = result["ops"][0]["op"]
            steps.append(op)
            if op == "stage":
                state = dict(STAGED)
            elif op == "published":
                state = {**state, "phase": "published", "published_since": now, "ttl": 60}
            elif op == "switched":
                state = {"phase": "withdrawing", "previous": "k1", "switched_at": now, "ttl": 60}
            elif op == "withdrawn":
                state = {"phase": "none"}
                break
        now += 61
    assert steps == ["stage", "published", "switch", "switched", "withdrawn"]


# --- accounts and tokens -------------------------------------------------------------------------------------------
CAS = {"primary": {"directory": "https://a/dir", "caa_identity": "a.example"},
       "backup": {"directory": "https://b/dir", "caa_identity": ""}}


def test_accounts_missing_until_the_fact_has_a_url_for_every_directory() -> None:
    assert acme_accounts_missing([], CAS)
    assert acme_accounts_missing([{"directory": "https://a/dir", "account_uri": "u"}], CAS)
    assert not acme_accounts_missing([{"directory": "https://a/dir", "account_uri": "u"},
                                      {"directory": "https://b/dir", "account_uri": "v"}], CAS)


def test_account_fact_keeps_the_known_url_of_a_ca_that_did_not_answer() -> None:
    registered = {"results": [{"item": {"key": "primary"}, "account_uri": "https://a/acct/1"},
                              {"item": {"key": "backup"}, "msg": "connection refused"}]}
    previous = [{"directory": "https://b/dir", "account_uri": "https://b/acct/9"}]
    assert acme_account_fact(registered, CAS, previous) == [
        {"ca": "backup", "directory": "https://b/dir", "account_uri": "https://b/acct/9", "caa_identity": ""},
        {"ca": "primary", "directory": "https://a/dir", "account_uri": "https://a/acct/1", "caa_identity": "a.example"},
    ]


def test_http01_tokens_go_under_the_webroot_and_odd_resources_are_refused() -> None:
    data = [{"challenges": {"http-01": {"resource": ".well-known/acme-challenge/abc_-1", "resource_value": "v"}}},
            {"challenges": {"dns-01": {"resource": "_acme-challenge"}}}]
    assert acme_http01_tokens(data, "/var/www/acme/") == [
        {"path": "/var/www/acme/.well-known/acme-challenge/abc_-1", "content": "v"}]
    bad = [{"challenges": {"http-01": {"resource": ".well-known/acme-challenge/../../etc/x", "resource_value": "v"}}}]
    with pytest.raises(AnsibleFilterError, match="unexpected resource"):
        acme_http01_tokens(bad, "/var/www/acme")


# --- web sites, zones from the inventory, dns-01 ------------------------------------------------------------------
def test_web_sites_are_checked_with_the_list_and_named_as_sites() -> None:
    site = {"name": "_wildcard.example.org", "domains": ["*.example.org"], "challenge": "http-01"}
    result = acme_certificate_items([WWW], SETTINGS, sites=[site])
    assert result["problems"] == ["tls_sites (_wildcard.example.org): *.example.org is a wildcard, which only dns-01 "
                                  "can prove (RFC 8555 section 7.1.3); set challenge: dns-01"]


def test_dns01_takes_the_primaries_of_the_inventory_zones_and_refuses_a_zone_nobody_serves() -> None:
    entry = {**WWW, "challenge": "dns-01"}
    served_zones = [{"zone": "example.org", "primary": "ns"}, {"zone": "example.net", "primary": ""}]
    assert items([entry], dns_zones=[], served_zones=served_zones)["problems"] == []
    problems = items([{**entry, "domains": ["www.example.net"]}], dns_zones=[], served_zones=served_zones)["problems"]
    assert problems == ["acme_certificates_list[0] (www): dns-01 for www.example.net needs a zone that a dns_zone "
                        "host serves with acme_challenge_updates: true (or an acme_dns_zones entry with its primary); "
                        "none covers it (zones taking ACME updates: example.org)"]
    # Served zones are not a list of allowed names: http-01 for a name elsewhere is fine.
    assert items([{**WWW, "domains": ["www.example.net"]}], dns_zones=[], served_zones=served_zones)["problems"] == []


def test_inventory_zones_come_from_dns_zone_zones() -> None:
    hostvars = {"ns": {"dns_zone_zones": [{"name": "Example.org.", "acme_challenge_updates": True},
                                          {"name": "example.net"}]},
                "web": {}}
    assert acme_inventory_zones(hostvars, ["web", "ns"]) == [{"zone": "example.org", "primary": "ns"},
                                                             {"zone": "example.net", "primary": ""}]
    with pytest.raises(AnsibleFilterError, match="'mx' is not an inventory host"):
        acme_inventory_zones(hostvars, ["mx"])


def test_dns01_records_are_grouped_by_zone_with_their_primary() -> None:
    settings = {**SETTINGS, "dns_zones": [], "served_zones": [{"zone": "example.org", "primary": "ns"},
                                                             {"zone": "sub.example.org", "primary": "ns2"}]}
    data = {"_acme-challenge.www.example.org": ["tok1"], "_acme-challenge.example.org": ["tok2", "tok3"],
            "_acme-challenge.a.sub.example.org": ["tok4"]}
    assert acme_dns01_updates(data, settings) == [
        {"primary": "ns", "zone": "example.org", "records": [{"name": "_acme-challenge.example.org",
                                                              "values": ["tok2", "tok3"]},
                                                             {"name": "_acme-challenge.www.example.org",
                                                              "values": ["tok1"]}]},
        {"primary": "ns2", "zone": "sub.example.org", "records": [{"name": "_acme-challenge.a.sub.example.org",
                                                                  "values": ["tok4"]}]}]
    assert acme_dns01_updates({}, settings) == []


@pytest.mark.parametrize(("data", "message"), [
    ({"www.example.org": ["t"]}, "unexpected record name"),
    ({"_acme-challenge.www.example.org": ['t" ; evil']}, "unexpected TXT values"),
    ({"_acme-challenge.www.example.com": ["t"]}, "is in no zone that takes ACME updates"),
])
def test_odd_dns01_data_from_the_ca_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        acme_dns01_updates(data, SETTINGS)


# --- until: when the plan can next change with nothing else changing (for site.yml's stamps) -------------------
def test_until_of_a_quiet_certificate_is_its_renewal_date_or_the_next_ari_question() -> None:
    quiet = plan(host(days_left=60))
    assert quiet["orders"] == [] and quiet["ops"] == []
    renewal = NOW + 60 * DAY - 30 * DAY
    # ARI is worth asking about this certificate, so the plan must be looked at again after the ARI poll interval.
    assert quiet["ari"] and quiet["until"] == NOW + 6 * 3600
    assert quiet["until"] < renewal


def test_until_takes_the_cas_renewal_window_and_the_key_age_limit() -> None:
    # The key turns 90 days old in an hour: sooner than the next ARI question.
    assert plan(host(created=NOW - 90 * DAY + 3600), key_max_age_days=90)["until"] == NOW + 3600
    # The CA's window opens in two hours.
    start = datetime.datetime.fromtimestamp(NOW + 7200, datetime.timezone.utc).isoformat()
    window = {"www/ecdsa": {"should_renew": False, "msg": "", "window": {"start": start, "end": start}}}
    assert plan(host(), ari=window)["until"] == NOW + 7200


def test_until_is_minus_one_while_anything_is_under_way() -> None:
    assert plan(host(days_left=10))["until"] == -1  # an order
    assert plan(host(created=NOW - 100 * DAY), key_max_age_days=90)["until"] == -1  # a rollover step
    pending = acme_plan({"now": NOW, "certificates": [host()], "pending_reloads": ["nginx"]}, [cert()], SETTINGS)
    assert pending["until"] == -1
