"""Unit tests for roles/stamps: bulwark_stamp (what a converge left, and whether the host still holds it) and the
filters that decide which roles a site.yml run converges (stamps_decide, stamps_upstream, stamps_merge)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

import bulwark_stamp
from stamps import code_digest, stamps_decide, stamps_inputs, stamps_merge, stamps_upstream

STEPS = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/stamps/defaults/main.yml").read_text())[
    "stamps_steps"]


class Systemd:
    """A stand-in for systemctl and the probes: what each unit's state is, what each command prints."""

    def __init__(self) -> None:
        self.units = {"nginx": ("active", "enabled")}
        self.outputs: dict[str, str] = {}

    def __call__(self, argv: list[str]) -> tuple[int, str]:
        if argv[:2] == ["systemctl", "show"]:
            units = argv[argv.index("--") + 1:]
            blocks = [f"Id={u}.service\nActiveState={self.units.get(u, ('inactive', 'disabled'))[0]}\n"
                      f"UnitFileState={self.units.get(u, ('inactive', 'disabled'))[1]}" for u in units]
            return 0, "\n\n".join(blocks) + "\n"
        return 0, self.outputs.get(" ".join(argv), "")


@pytest.fixture()
def host(tmp_path: Path) -> dict[str, Any]:
    etc = tmp_path / "etc" / "nginx"
    (etc / "conf.d").mkdir(parents=True)
    (etc / "conf.d" / "tls.conf").write_text("ssl_protocols TLSv1.2 TLSv1.3;\n")
    (tmp_path / "www.key").write_text("KEY\n")
    (tmp_path / "www.key").chmod(0o600)
    return {"root": tmp_path, "etc": etc, "stamps": tmp_path / "stamps", "apply": tmp_path / "apply",
            "systemd": Systemd(), "paths": [str(etc), str(tmp_path / "www.key")]}


def write(host: dict[str, Any], until: float = 0, probes: list[list[str]] | None = None) -> dict[str, Any]:
    stamp = bulwark_stamp.make("nginx_tls", "in-1", "up-1", host["paths"], ["nginx"], until, host["systemd"],
                               probes or [])
    host["stamps"].mkdir(exist_ok=True)
    (host["stamps"] / "nginx_tls.json").write_text(json.dumps(stamp))
    return stamp


def check(host: dict[str, Any], now: float = 1_000) -> dict[str, Any]:
    return bulwark_stamp.check(str(host["stamps"]), str(host["apply"]), host["systemd"], now)["nginx_tls"]


# --- bulwark_stamp ---------------------------------------------------------------------------------------------
def test_a_stamp_is_fresh_while_the_host_holds_what_it_recorded(host: dict[str, Any]) -> None:
    stamp = write(host)
    result = check(host)
    assert result == {"fresh": True, "reason": "", "id": bulwark_stamp.stamp_id(stamp), "inputs": "in-1",
                      "upstream": "up-1"}
    # Nothing secret in the stamp: the key file is a digest.
    assert "KEY" not in json.dumps(stamp)


@pytest.mark.parametrize("drift", ["content", "mode", "new file", "removed file", "link", "service stopped",
                                   "service disabled"])
def test_any_change_to_the_files_or_services_makes_it_stale(host: dict[str, Any], drift: str) -> None:
    write(host)
    conf = host["etc"] / "conf.d" / "tls.conf"
    if drift == "content":
        conf.write_text("ssl_protocols TLSv1 TLSv1.2 TLSv1.3;\n")
    elif drift == "mode":
        (host["root"] / "www.key").chmod(0o644)
    elif drift == "new file":
        (host["etc"] / "conf.d" / "evil.conf").write_text("server {}\n")
    elif drift == "removed file":
        conf.unlink()
    elif drift == "link":
        (host["etc"] / "sites-enabled").symlink_to(host["root"])
    elif drift == "service stopped":
        host["systemd"].units["nginx"] = ("failed", "enabled")
    else:
        host["systemd"].units["nginx"] = ("active", "disabled")
    result = check(host)
    assert result["fresh"] is False and "changed since the last converge" in result["reason"]


def test_a_probe_whose_output_changed_makes_it_stale(host: dict[str, Any]) -> None:
    probe = ["busctl", "call", "org.fedoraproject.FirewallD1", "getZoneSettings2", "s", "public"]
    host["systemd"].outputs[" ".join(probe)] = 'ports a(ss) 1 "22" "tcp"'
    write(host, probes=[probe])
    assert check(host)["fresh"] is True
    host["systemd"].outputs[" ".join(probe)] = 'ports a(ss) 2 "22" "tcp" "8080" "tcp"'  # a runtime-only port
    assert check(host)["fresh"] is False


def test_time_pending_reloads_and_unreadable_stamps_make_it_stale(host: dict[str, Any]) -> None:
    write(host, until=2_000)
    assert check(host, now=1_999)["fresh"] is True
    assert "fell due" in check(host, now=2_000)["reason"]
    write(host, until=-1)
    assert "every time" in check(host)["reason"]
    write(host)
    host["apply"].mkdir()
    (host["apply"] / "nginx.json").write_text("{}")
    assert "pending (nginx.json)" in check(host)["reason"]
    (host["apply"] / "nginx.json").unlink()
    (host["stamps"] / "nginx_tls.json").write_text("{not json")
    assert check(host)["fresh"] is False and "unreadable" in check(host)["reason"]


def test_the_package_database_is_part_of_the_state(host: dict[str, Any], tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Package: nginx\nVersion: 1.26\n")
    before = bulwark_stamp.state_digest(host["paths"], ["nginx"], host["systemd"], databases=[str(status)])
    status.write_text("Package: nginx\nVersion: 1.27\n")
    assert bulwark_stamp.state_digest(host["paths"], ["nginx"], host["systemd"], databases=[str(status)]) != before


# --- the decision ----------------------------------------------------------------------------------------------
GROUPS = {"firewalld_servers": ["web", "ns", "mx"], "dns_servers": ["ns"], "mail_servers": ["mx"],
          "nginx_servers": ["web", "mx"], "apache_servers": [], "ct_monitors": ["mx"], "web_servers": ["web", "mx"]}
ROLES = {"web": ["firewalld", "nginx_tls"], "ns": ["firewalld", "dns_zone", "dns_records"],
         "mx": ["firewalld", "mail_tls", "nginx_tls", "ct_monitor"]}


def lab() -> dict[str, dict[str, Any]]:
    """hostvars of a converged fleet: every role's stamp fresh and written with today's inputs and upstream."""
    hostvars: dict[str, dict[str, Any]] = {
        name: {"ansible_host": f"192.0.2.{i}", "group_names": [g for g, m in GROUPS.items() if name in m],
               "tls_sites": [{"name": f"{name}.example.org"}], "dns_zone_zones": [{"name": "example.org"}]}
        for i, name in enumerate(ROLES, 1)}
    for name, roles in ROLES.items():
        inputs = stamps_inputs(STEPS, hostvars, name, GROUPS)
        hostvars[name]["__stamps_check"] = {"stamps": {
            role: {"fresh": True, "reason": "", "id": f"id-{name}-{role}", "inputs": inputs[role], "upstream": ""}
            for role in roles}}
        hostvars[name]["stamps_state"] = {"stamps": hostvars[name]["__stamps_check"]["stamps"]}
    for name, role, step in (("ns", "dns_records", "dns_records"), ("mx", "ct_monitor", "ct_monitor")):
        hostvars[name]["__stamps_check"]["stamps"][role]["upstream"] = stamps_upstream(STEPS, hostvars, step, GROUPS)
    return hostvars


def runs(hostvars: dict[str, Any], hosts: list[str] | None = None, enabled: bool = True) -> dict[str, list[str]]:
    decided = stamps_decide(STEPS, hostvars, hosts or list(ROLES), GROUPS, enabled)
    return {host: decided[host]["run"] for host in decided}


def test_a_converged_fleet_runs_nothing() -> None:
    assert runs(lab()) == {"web": [], "ns": [], "mx": []}


def test_a_stale_web_role_runs_and_so_do_the_readers_of_its_keys() -> None:
    hostvars = lab()
    hostvars["web"]["__stamps_check"]["stamps"]["nginx_tls"]["fresh"] = False
    # dns_records reads web's keys; dns_zone serves what it writes; ct_monitor watches both.
    assert runs(hostvars) == {"web": ["nginx_tls"], "ns": ["dns_records", "dns_zone_again"], "mx": ["ct_monitor"]}


def test_a_stale_early_role_runs_every_later_role_on_its_host_but_the_firewall_does_not() -> None:
    hostvars = lab()
    hostvars["ns"]["__stamps_check"]["stamps"]["dns_zone"]["fresh"] = False
    assert runs(hostvars)["ns"] == ["dns_zone", "dns_records", "dns_zone_again"]
    hostvars = lab()
    hostvars["mx"]["__stamps_check"]["stamps"]["firewalld"]["fresh"] = False
    assert runs(hostvars) == {"web": [], "ns": [], "mx": ["firewalld"]}


def test_changed_inputs_a_missing_stamp_or_turning_stamps_off_run_the_role() -> None:
    hostvars = lab()
    hostvars["web"]["tls_sites"] = [{"name": "new.example.org"}]
    assert runs(hostvars)["web"] == ["nginx_tls"]
    hostvars = lab()
    # acme_certificates on the web hosts reads which zones the name servers serve (reads: dns_servers).
    hostvars["ns"]["dns_zone_zones"] = [{"name": "example.org"}, {"name": "example.net"}]
    assert runs(hostvars)["web"] == ["nginx_tls"]
    hostvars = lab()
    del hostvars["mx"]["__stamps_check"]["stamps"]["mail_tls"]
    assert runs(hostvars)["mx"] == ["mail_tls", "nginx_tls", "ct_monitor"]
    assert runs(lab(), enabled=False)["mx"] == ["firewalld", "mail_tls", "nginx_tls", "ct_monitor"]


def test_readers_run_when_an_upstream_host_was_not_checked_or_its_stamp_is_not_the_one_they_read() -> None:
    # --limit ns: web and mx were not checked, so what dns_records read from them is unknown.
    assert runs(lab(), hosts=["ns"]) == {"ns": ["dns_records", "dns_zone_again"]}
    # A run that died after the web role wrote a new stamp and before dns_records ran: the next run catches it.
    hostvars = lab()
    hostvars["web"]["__stamps_check"]["stamps"]["nginx_tls"]["id"] = "id-web-nginx_tls-renewed"
    assert runs(hostvars)["ns"] == ["dns_records", "dns_zone_again"]


def test_inputs_cover_the_roles_variables_address_groups_and_code(tmp_path: Path) -> None:
    hostvars = lab()
    before = stamps_inputs(STEPS, hostvars, "web", GROUPS)
    changed = copy.deepcopy(hostvars)
    changed["web"]["ansible_host"] = "192.0.2.99"
    assert stamps_inputs(STEPS, changed, "web", GROUPS)["nginx_tls"] != before["nginx_tls"]
    changed = copy.deepcopy(hostvars)
    changed["web"]["unrelated_variable"] = 1
    changed["web"]["__internal"] = 2
    assert stamps_inputs(STEPS, changed, "web", GROUPS) == before
    # The code digest is of the roles tree beside the filter: another tree, another digest.
    (tmp_path / "roles" / "x").mkdir(parents=True)
    (tmp_path / "roles" / "x" / "main.yml").write_text("---\n")
    (tmp_path / "plugins").mkdir()
    assert code_digest(tmp_path / "plugins" / "stamps.py") != code_digest()


def test_bad_steps_are_refused_by_name() -> None:
    with pytest.raises(AnsibleFilterError, match="stamps_steps must be a list of steps"):
        stamps_decide("dns_zone", {}, [], GROUPS)
    with pytest.raises(AnsibleFilterError, match="no step named 'nope'"):
        stamps_upstream(STEPS, lab(), "nope", GROUPS)


# --- the stamp of a step from its roles' parts ------------------------------------------------------------------
def test_merge_joins_paths_and_units_and_takes_the_earliest_time() -> None:
    parts = {"nginx_tls": {"paths": ["/etc/nginx", {"cert": "/etc/ssl/www.crt", "key": "/etc/ssl/www.key",
                                                    "cert_pem": "-----BEGIN CERTIFICATE-----", "not_after": None}],
                           "services": ["nginx"], "expires": ["2027-01-01T00:00:00+00:00", None]},
             "acme_certificates": {"paths": ["/etc/ssl/acme"], "until": 1_790_000_000},
             "mail_tls": {"paths": ["/etc/postfix"]}}
    merged = stamps_merge(parts, ["nginx_tls", "acme_certificates"])
    assert merged == {"paths": ["/etc/nginx", "/etc/ssl/acme", "/etc/ssl/www.crt", "/etc/ssl/www.key"],
                      "services": ["nginx"], "probes": [], "until": 1_790_000_000.0}
    assert stamps_merge({**parts, "acme_certificates": {"until": -1}}, ["nginx_tls", "acme_certificates"])["until"] \
        == -1
    assert stamps_merge({"nginx_tls": {"paths": ["/etc/nginx"]}}, ["nginx_tls"])["until"] == 0
    # The step's own role published nothing (it stopped early, or check mode): no stamp.
    assert stamps_merge({"acme_certificates": {"paths": []}}, ["nginx_tls", "acme_certificates"]) is None
    with pytest.raises(AnsibleFilterError, match="expires must hold"):
        stamps_merge({"nginx_tls": {"expires": ["next tuesday"]}}, ["nginx_tls"])
