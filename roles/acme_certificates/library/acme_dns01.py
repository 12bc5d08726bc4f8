#!/usr/bin/python
# -*- coding: utf-8 -*-
"""dns-01 challenge records, by RFC 2136 dynamic update on the zone's primary, checked on every authoritative
server of the zone."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acme_dns01
short_description: Add or remove ACME dns-01 TXT records on a zone's primary and wait until every server serves them
description:
  - Runs on the zone's primary name server (a dns_zone host whose zone has C(acme_challenge_updates)). Sends one
    RFC 2136 dynamic update with C(knsupdate) to the local Knot (O(server)), signed with the TSIG key dns_zone made
    for ACME (O(key_file), which never leaves the host), then asks every authoritative server of the zone (its NS
    set, each address, without recursion) until all of them serve every value, or O(wait_timeout) has passed.
  - With O(state=absent) only the given values are deleted (another order's records at the same name stay), and
    nothing is waited for.
  - The update is sent only when the local server does not already serve every value (a repeated call is not a
    change).
options:
  zone:
    description: The zone, e.g. V(example.org).
    type: str
    required: true
  records:
    description: The TXT records - C(name) (absolute, e.g. C(_acme-challenge.www.example.org)) and C(values).
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: Owner name., type: str, required: true}
      values: {description: TXT values (the ACME key authorization digests)., type: list, elements: str, required: true}
  state:
    description: Whether the values are served (V(present)) or removed (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  key_file:
    description: The TSIG key in C(knsupdate -k) form (C(hmac-sha256:bulwark-acme:<secret>)), made by dns_zone.
    type: path
    default: /etc/bulwark/acme-tsig.key
  server:
    description: The primary's address the update goes to (its ACL allows updates from loopback only).
    type: str
    default: 127.0.0.1
  ttl:
    description: TTL of the TXT records; short, so that a retried challenge is not held in caches.
    type: int
    default: 60
  nameservers:
    description:
      - Addresses of the authoritative servers to wait for. Empty asks O(server) for the zone's NS set and the
        addresses of those names (glue in the zone, else the host's resolver).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait until every authoritative server serves every value.
    type: int
    default: 120
author: Bulwark maintainers (@bulwark)
requirements: [knsupdate and kdig (knot-dnsutils, installed by dns_zone)]
notes:
  - Supports check mode (reports whether an update would be sent; sends nothing).
"""

EXAMPLES = r"""
- name: Put the challenge records into lab.test on its primary and wait for every server
  acme_dns01:
    zone: lab.test
    records: [{name: _acme-challenge.app.lab.test, values: [Xy0-token]}]
  delegate_to: ns
"""

RETURN = r"""
servers:
  description: The authoritative servers asked, each with C(address) and C(serves) (every value seen).
  returned: state is present
  type: list
  elements: dict
seconds:
  description: How long it took until every server served every value.
  returned: state is present
  type: float
"""

import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

Runner = Callable[[Sequence[str], "str | None"], "tuple[int, str, str]"]
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,253}$")


class Dns01Error(Exception):
    """A failure the module reports; the message names the zone, the server or the record."""


def _absolute(name: str) -> str:
    return name.rstrip(".") + "."


def txt_values(run: Runner, server: str, name: str) -> set[str]:
    """The TXT strings ``server`` serves at ``name`` (authoritative answer, no recursion)."""
    rc, out, err = run(["kdig", f"@{server}", "+norecurse", "+short", "+timeout=2", "+retry=1", _absolute(name),
                        "TXT"], None)
    if rc != 0:
        raise Dns01Error(f"kdig @{server} {name} TXT failed: {(err or out).strip()[-200:]}")
    return {line.strip().strip('"') for line in out.splitlines() if line.strip()}


def authoritative_servers(run: Runner, server: str, zone: str) -> list[str]:
    """The addresses of the zone's NS set, as ``server`` serves it (glue), else as the host resolves them."""
    rc, out, err = run(["kdig", f"@{server}", "+norecurse", "+short", _absolute(zone), "NS"], None)
    if rc != 0 or not out.strip():
        raise Dns01Error(f"{server} serves no NS set for {zone} ({(err or out).strip()[-200:] or 'empty answer'}): "
                         "is the zone served here (dns_zone)?")
    addresses: list[str] = []
    for ns in sorted({line.strip() for line in out.splitlines() if line.strip()}):
        found: list[str] = []
        for rtype in ("A", "AAAA"):
            for argv in (["kdig", f"@{server}", "+norecurse", "+short", ns, rtype], ["kdig", "+short", ns, rtype]):
                rc, out, _err = run(argv, None)
                answers = [a.strip() for a in out.splitlines() if rc == 0 and re.match(r"^[0-9a-fA-F:.]+$", a.strip())]
                if answers:
                    found += answers
                    break
        if not found:
            raise Dns01Error(f"the name server {ns} of {zone} has no address (neither glue at {server} nor resolvable)")
        addresses += [a for a in found if a not in addresses]
    return addresses


def update(run: Runner, key_file: str, server: str, zone: str, records: Sequence[dict[str, Any]], ttl: int,
           present: bool) -> None:
    """One dynamic update that adds (or deletes) every value."""
    lines = [f"server {server}", f"zone {_absolute(zone)}"]
    for record in records:
        for value in record["values"]:
            verb = f"update add {_absolute(record['name'])} {ttl}" if present else \
                f"update delete {_absolute(record['name'])}"
            lines.append(f'{verb} TXT "{value}"')
    lines.append("send")
    rc, out, err = run(["knsupdate", "-k", key_file], "\n".join(lines) + "\n")
    if rc != 0:
        raise Dns01Error(f"knsupdate to {server} for {zone} failed: {(err or out).strip()[-300:]} (does the zone have "
                         "acme_challenge_updates: true in dns_zone_zones?)")


def wait_served(run: Runner, servers: Sequence[str], records: Sequence[dict[str, Any]], timeout: float,
                clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                ) -> tuple[list[dict[str, Any]], float]:
    """Ask every server until it serves every value; (per-server result, seconds). Raises on timeout."""
    started = clock()
    serving: dict[str, bool] = {address: False for address in servers}
    while True:
        for address in servers:
            if not serving[address]:
                try:
                    serving[address] = all(set(r["values"]) <= txt_values(run, address, r["name"]) for r in records)
                except Dns01Error:
                    serving[address] = False
        if all(serving.values()):
            return [{"address": a, "serves": True} for a in servers], round(clock() - started, 1)
        if clock() - started >= timeout:
            missing = ", ".join(a for a, ok in serving.items() if not ok)
            raise Dns01Error(f"after {timeout:.0f}s these authoritative servers still do not serve the challenge "
                             f"records: {missing}")
        sleep(1.0)


def check_records(records: Sequence[dict[str, Any]], zone: str) -> None:
    suffix = "." + zone.lower().rstrip(".")
    for record in records:
        name = str(record["name"]).lower().rstrip(".")
        if not name.startswith("_acme-challenge.") or not _NAME_RE.match(name) or not (name + ".").endswith(suffix + "."):
            raise Dns01Error(f"records: {name[:80]!r} is not an _acme-challenge name in {zone}")
        for value in record["values"]:
            if not _TOKEN_RE.match(str(value)):
                raise Dns01Error(f"records: a value for {name} is not a base64url token")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zone": {"type": "str", "required": True},
            "records": {"type": "list", "elements": "dict", "required": True, "options": {
                "name": {"type": "str", "required": True},
                "values": {"type": "list", "elements": "str", "required": True, "no_log": False},
            }},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "key_file": {"type": "path", "default": "/etc/bulwark/acme-tsig.key", "no_log": False},
            "server": {"type": "str", "default": "127.0.0.1"},
            "ttl": {"type": "int", "default": 60},
            "nameservers": {"type": "list", "elements": "str", "default": []},
            "wait_timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    p = module.params
    for program in ("knsupdate", "kdig"):
        if module.get_bin_path(program) is None:
            module.fail_json(msg=f"{program} is not installed on this host: dns-01 updates run on the zone's primary, "
                                 "where dns_zone installs knot-dnsutils")
    if not os.path.isfile(p["key_file"]):
        module.fail_json(msg=f"{p['key_file']} does not exist: dns_zone makes it on the primary of a zone with "
                             f"acme_challenge_updates: true ({p['zone']})")

    def run(argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
        return module.run_command(list(argv), data=data, environ_update={"LC_ALL": "C"})

    present = p["state"] == "present"
    try:
        check_records(p["records"], p["zone"])
        served = [txt_values(run, p["server"], r["name"]) for r in p["records"]]
        values = [set(r["values"]) for r in p["records"]]
        needed = any(not v <= s for v, s in zip(values, served)) if present else any(v & s for v, s in zip(values, served))
        if module.check_mode:
            module.exit_json(changed=needed)
        if needed:
            update(run, p["key_file"], p["server"], p["zone"], p["records"], p["ttl"], present)
        if not present:
            module.exit_json(changed=needed)
        servers = p["nameservers"] or authoritative_servers(run, p["server"], p["zone"])
        result, seconds = wait_served(run, servers, p["records"], p["wait_timeout"])
    except Dns01Error as exc:
        module.fail_json(msg=f"acme_dns01 ({p['zone']}): {exc}")
    module.exit_json(changed=needed, servers=result, seconds=seconds)


if __name__ == "__main__":
    main()
