#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Build, on the name server, everything Knot needs for the declared zones, checked, ready for config_apply.

Reads the host's state (the dns_records fragments, the zone files Knot serves from, the TSIG key files, the
sockets knotd listens on, the _acme-challenge records added by dynamic updates) and returns the complete
set of files: knot.conf, one zone file per zone, the local fact. Every zone file that would change is first
checked with Knot's own ``kzonecheck``; an error names the zone, the source of the line (a
``dns_zone_zones`` record or a fragment line) and Knot's message, and nothing is written.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dns_zone_build
short_description: Assemble and check Knot's configuration and zone files for the declared zones
description:
  - Assembles one zone file per zone from the role's SOA and NS records, the zone's C(records) and the fragment
    the C(dns_records) role wrote for the zone (C(<fragments_dir>/<zone>.records)), checks each zone file that
    would change with C(kzonecheck), and renders C(knot.conf) (signing policies, KSK submission checks, TSIG
    ACLs for transfers and ACME updates) and the local fact. It returns them as C(files) for C(config_apply),
    which writes, tests and reloads.
  - TSIG secrets are made on the host (C(/etc/bulwark/*-tsig.key), 0600) and written into a Knot include
    (0640 root:knot); they never appear in arguments, results or diffs. C(knot.conf) carries a digest of the
    include, so a new key is a change of C(knot.conf) and reaches Knot through the durable apply.
  - For zones that take ACME updates (C(acme_challenge_updates) of an O(zones) item), the C(_acme-challenge)
    TXT records that dynamic updates added are carried into a zone file that changes for other reasons, so a reload never drops them; a zone
    whose declared data did not change keeps its file byte for byte.
  - DNSSEC key files Knot made (0640) are tightened to 0600 on every run; this follows Knot's own key
    schedule and is not reported as a change.
options:
  zones:
    description: The zones, as the C(dns_zone_model) filter returns them.
    type: list
    elements: dict
    required: true
  fragments_dir:
    description: Where C(dns_records) writes C(<zone>.records).
    type: path
    required: true
  zone_dir:
    description: Directory of the zone files Knot loads.
    type: path
    default: /var/lib/knot/bulwark
  conf_path:
    description: Knot's configuration file.
    type: path
    default: /etc/knot/knot.conf
  keys_conf:
    description: The Knot include with the TSIG keys.
    type: path
    default: /etc/knot/bulwark-keys.conf
  key_dir:
    description: Where the TSIG key files (C(acme-tsig.key), C(transfer-tsig.key)) live.
    type: path
    default: /etc/bulwark
  kasp_keys_dir:
    description: Where Knot keeps the DNSSEC private keys (tightened to 0600).
    type: path
    default: /var/lib/knot/keys/keys
  fact_path:
    description: The local fact (an executable that prints JSON when facts are gathered).
    type: path
    default: /etc/ansible/facts.d/bulwark_dns_zone.fact
  listen:
    description: Addresses Knot listens on (port 53).
    type: list
    elements: str
    default: ["0.0.0.0", "::"]
  apply_marker:
    description: The reload-pending marker config_apply keeps for knot; while it exists, RV(in_sync) is false.
    type: path
    default: /var/lib/bulwark/apply/knot.json
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode (nothing is written; C(kzonecheck) still checks).
  - When Knot's programs are missing, returns only RV(missing); the role installs the packages and calls again.
"""

EXAMPLES = r"""
- name: Build the zone files and knot.conf
  dns_zone_build:
    zones: "{{ dns_zone_zones | dns_zone_model(dns_zone_dnssec, dns_zone_soa, dns_zone_ttl) }}"
    fragments_dir: /var/lib/bulwark/dns
  register: build

- name: Write, test, reload
  config_apply:
    files: "{{ build.files }}"
    exclusive: "{{ build.exclusive }}"
    directories: "{{ build.directories }}"
    test_command: "{{ build.test_command }}"
    service: knot
    reload_command: "{{ build.reload_command }}"
    restart: "{{ build.restart }}"
    request_reload: "{{ build.restart }}"
    enabled: true
"""

RETURN = r"""
files:
  description: Files for config_apply (path, content, mode, owner, group).
  returned: always
  type: list
  elements: dict
exclusive:
  description: Glob of the zone files this role owns (a zone dropped from the list loses its file).
  returned: always
  type: list
  elements: str
directories:
  description: Directories config_apply creates when missing.
  returned: always
  type: list
  elements: str
test_command:
  description: Checks the whole configuration (knotc conf-check and kzonecheck of every zone file).
  returned: always
  type: list
  elements: str
reload_command:
  description: How Knot reads a new configuration (C(knotc reload)), empty when it must restart.
  returned: always
  type: list
  elements: str
restart:
  description: Whether knotd must restart (it does not listen on every declared address).
  returned: always
  type: bool
keys_written:
  description: TSIG key files made or repaired by this run (names only).
  returned: always
  type: list
  elements: str
acme_owners:
  description: Per zone, the owner names an ACME update may write TXT records at.
  returned: always
  type: dict
in_sync:
  description:
    - Whether the host already is exactly as built (files, modes, owners, no stray zone file, no reload pending,
      knot running and enabled); then RV(files) is empty and config_apply has nothing to do.
  returned: when Knot is installed
  type: bool
missing:
  description: Programs of Knot not installed on the host (then nothing else is computed).
  returned: always
  type: list
  elements: str
"""

import base64
import hashlib
import ipaddress
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]

HEADER = ("; Managed by Bulwark's dns_zone role: change dns_zone_zones (or the dns_records fragment), not this file.\n"
          "; Knot ignores the serial below (zonefile-load: difference-no-serial) and bumps the served one itself.\n")
ACME_MARK = "; _acme-challenge TXT records served by dynamic updates when this file was written"
ACME_KEY = "bulwark-acme"
TRANSFER_KEY = "bulwark-transfer"
KEY_ALGORITHM = "hmac-sha256"
# What the role needs on the host; missing ones make the role install Knot's packages.
PROGRAMS = ("knotc", "keymgr", "kzonecheck")
_KEY_LINE = re.compile(r"^hmac-sha256:([A-Za-z0-9-]+):([A-Za-z0-9+/]{43}=)$")


# --- zone files -------------------------------------------------------------------------------------------

def owner_of(line: str, zone: str, previous: str) -> str:
    """The absolute owner (no trailing dot, lower case) of a zone-file line; ``previous`` for a blank owner."""
    if not line or line[0] in " \t":
        return previous
    token = line.split()[0]
    if token == "@":
        return zone
    if token.endswith("."):
        return token[:-1].lower()
    return f"{token}.{zone}".lower()


def is_record(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(";") and not stripped.startswith("$")


def assemble(zone: Mapping[str, Any], fragment: str | None, fragment_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The zone file's declared part and, for each of its lines, (where it comes from, owner)."""
    name = zone["name"]
    soa = zone["soa"]
    ns = zone["nameservers"]
    lines: list[tuple[str, str, str]] = []  # (text, source, owner)

    def add(text: str, source: str, owner: str = "") -> None:
        lines.append((text, source, owner))

    for text in HEADER.splitlines():
        add(text, "the role's header")
    add(f"$ORIGIN {name}.", "the role's header")
    add(f"$TTL {zone['ttl']}", "the role's header (dns_zone_ttl)")
    add(f"@ {zone['ttl']} IN SOA {ns[0]['name']} {soa['hostmaster']} 1 {soa['refresh']} {soa['retry']} "
        f"{soa['expire']} {soa['negative_ttl']}", "the role's SOA (dns_zone_soa)", name)
    for server in ns:
        add(f"@ {zone['ttl']} IN NS {server['name']}", f"dns_zone_zones[{name}].nameservers", name)
    for server in ns:
        host = server["name"][:-1]
        if host == name or host.endswith("." + name):
            for addr in server["addresses"]:
                rtype = "AAAA" if ":" in addr else "A"
                add(f"{server['name']} {zone['ttl']} IN {rtype} {addr}", f"dns_zone_zones[{name}].nameservers", host)
    add(f"; dns_zone_zones[{name}].records", "a comment")
    owner = name
    for number, text in enumerate(zone["records"]):
        owner = owner_of(text, name, owner)
        add(text, f"dns_zone_zones[{name}].records[{number}]", owner)
    if fragment is not None:
        add(f"; {fragment_path} (written by the dns_records role)", "a comment")
        add(f"$ORIGIN {name}.", "the role's header")
        owner = name
        for number, text in enumerate(fragment.splitlines()):
            owner = owner_of(text, name, owner)
            add(text, f"{fragment_path} line {number + 1}", owner if is_record(text) else "")
    return "\n".join(line[0] for line in lines) + "\n", [(source, owner) for _text, source, owner in lines]


def split_acme(content: str) -> tuple[str, str]:
    """A zone file's declared part and its carried _acme-challenge part."""
    head, mark, tail = content.partition("\n" + ACME_MARK + "\n")
    return (head + "\n", mark.lstrip("\n") + tail) if mark else (content, "")


def acme_section(records: Sequence[str]) -> str:
    return (ACME_MARK + "\n" + "".join(f"{line}\n" for line in records)) if records else ""


def served_acme_records(zone: str, zone_read: str) -> list[str]:
    """The _acme-challenge TXT records in ``knotc zone-read`` output, as absolute zone-file lines."""
    found = []
    for line in zone_read.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[0] == f"[{zone}.]" and parts[3] == "TXT" \
                and parts[1].lower().startswith("_acme-challenge."):
            found.append(f"{parts[1]} {parts[2]} IN TXT {parts[4]}")
    return sorted(found)


def acme_owner_names(zone: str, sources: Sequence[tuple[str, str]], content: str) -> list[str]:
    """Relative names (for Knot's update-owner-name) of _acme-challenge under every name that has data in
    the zone, except service names (a first label starting with '_') and names at or below a delegation."""
    delegated = set()
    owners = set()
    for (_source, owner), text in zip(sources, content.splitlines()):
        if not owner or not is_record(text):
            continue
        fields = text.split(";", 1)[0].split()
        if owner != zone and "NS" in (f.upper() for f in fields[1:4]):
            delegated.add(owner)
        owners.add(owner[2:] if owner.startswith("*.") else owner)
    names = set()
    for owner in owners:
        if owner.split(".")[0].startswith("_"):
            continue
        if any(owner == cut or owner.endswith("." + cut) for cut in delegated):
            continue
        relative = owner[: -len(zone) - 1] if owner != zone else ""
        names.add("_acme-challenge" + (f".{relative}" if relative else ""))
    return sorted(names)


def kzonecheck_problems(zone: str, output: str, sources: Sequence[tuple[str, str]],
                        lines: Sequence[str]) -> list[str]:
    """Knot's complaints about a candidate zone file, each naming where the line came from and its value."""
    problems = []
    for line in output.splitlines():
        located = re.search(r"line (\d+) \((.+?)\)", line)
        if located:
            number = int(located.group(1))
            source = sources[number - 1][0] if 0 < number <= len(sources) else f"line {number}"
            value = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            problems.append(f"zone {zone}: {source}: {located.group(2)}: {value[:120]!r}")
            continue
        semantic = re.match(r"^\[([^\]]+)\] (.+)$", line.strip())
        if semantic:
            owner = semantic.group(1).rstrip(".").lower()
            where = sorted({source for source, own in sources if own == owner and "header" not in source})
            values = [lines[i].strip()[:120] for i, (_source, own) in enumerate(sources)
                      if own == owner and is_record(lines[i])][:3]
            problems.append(f"zone {zone}: {', '.join(where) or owner}: {semantic.group(2)} (owner {owner}): {values}")
    return problems or [f"zone {zone}: kzonecheck rejected the zone: {output.strip()[:400]}"]


def kzonecheck(zone: str, content: str, run: Runner, workdir: str) -> tuple[int, str]:
    path = os.path.join(workdir, f"{zone}.zone")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    rc, out, err = run(["kzonecheck", "-v", "-o", f"{zone}.", path])
    return rc, "\n".join(part for part in (out.strip(), err.strip()) if part)


# --- knot.conf --------------------------------------------------------------------------------------------

def _list(items: Sequence[str]) -> str:
    return "[ " + ", ".join(items) + " ]"


def render_knot_conf(zones: Sequence[Mapping[str, Any]], listen: Sequence[str], keys_conf: str,
                     keys_digest: str, zone_dir: str, acme_owners: Mapping[str, Sequence[str]]) -> str:
    """Knot's whole configuration for ``zones``; TSIG secrets stay in ``keys_conf`` (included)."""
    out = ["# Managed by Bulwark's dns_zone role; checked with `knotc conf-check` before Knot reloads it.",
           "# Authoritative only: Knot never recurses. Transfers only to declared secondaries, with TSIG.",
           "server:",
           f"    listen: {_list([f'{a}@53' for a in listen])}",
           '    identity: ""',
           '    version: ""',
           "log:",
           "  - target: syslog",
           "    any: info",
           "database:",
           "    storage: /var/lib/knot"]
    if keys_digest:
        out += [f"# TSIG keys, secrets not shown here (content sha256 {keys_digest})", f"include: {keys_conf}"]
    remotes, acls, submissions, policies = [], [], [], []
    for zone in zones:
        name = zone["name"]
        for number, addr in enumerate(zone["secondaries"], 1):
            remotes += [f"  - id: secondary-{name}-{number}", f"    address: {addr}@53", f"    key: {TRANSFER_KEY}"]
        policy = zone["dnssec"]
        if policy:
            for number, addr in enumerate(policy["parent_servers"], 1):
                remotes += [f"  - id: parent-{name}-{number}", f"    address: {addr}@53"]
        if zone["secondaries"]:
            acls += [f"  - id: transfer-{name}", f"    address: {_list(zone['secondaries'])}",
                     f"    key: {TRANSFER_KEY}", "    action: transfer"]
        if zone["acme_challenge_updates"]:
            acls += [f"  - id: acme-{name}",
                     "    # The ACME client runs on this host: loopback only, TXT only, _acme-challenge names only.",
                     "    address: [ 127.0.0.1, ::1 ]", f"    key: {ACME_KEY}", "    action: update",
                     "    update-type: [ TXT ]", "    update-owner: name", "    update-owner-match: equal",
                     f"    update-owner-name: {_list(acme_owners.get(name) or ['_acme-challenge'])}"]
        if policy and policy["parent_servers"]:
            parents = [f"parent-{name}-{n}" for n in range(1, len(policy["parent_servers"]) + 1)]
            submissions += [f"  - id: {name}", f"    parent: {_list(parents)}",
                            f"    check-interval: {policy['ksk_submission_check_interval']}",
                            f"    parent-delay: {policy['propagation_delay']}"]
        if policy:
            policies += [f"  - id: {name}",
                         f"    algorithm: {policy['algorithm']}",
                         f"    nsec3: {'on' if policy['nsec3'] else 'off'}"]
            if policy["nsec3"]:
                # RFC 9276: no extra iterations, no salt.
                policies += ["    nsec3-iterations: 0", "    nsec3-salt-length: 0"]
            policies += [f"    zsk-lifetime: {policy['zsk_lifetime']}",
                         f"    ksk-lifetime: {policy['ksk_lifetime']}",
                         f"    dnskey-ttl: {policy['dnskey_ttl']}",
                         f"    zone-max-ttl: {policy['zone_max_ttl']}",
                         f"    propagation-delay: {policy['propagation_delay']}",
                         f"    cds-cdnskey-publish: {'double-ds' if policy['cds_cdnskey'] else 'none'}"]
            if policy["parent_servers"]:
                policies.append(f"    ksk-submission: {name}")
    for section, body in (("remote", remotes), ("submission", submissions), ("acl", acls), ("policy", policies)):
        if body:
            out += [f"{section}:"] + body
    out += ["template:",
            "  - id: default",
            f"    storage: {zone_dir}",
            "    # The zone files are input only: Knot keeps the signed zone, its serial and the records added by",
            "    # dynamic updates in its journal, applies the difference of a changed file and bumps the serial.",
            "    zonefile-sync: -1",
            "    zonefile-load: difference-no-serial",
            "    journal-content: all",
            "    semantic-checks: on"]
    if zones:
        out.append("zone:")
    for zone in zones:
        name = zone["name"]
        out += [f"  - domain: {name}", f"    file: {name}.zone"]
        if zone["dnssec"]:
            out += ["    dnssec-signing: on", f"    dnssec-policy: {name}"]
        if zone["secondaries"]:
            out.append(f"    notify: {_list([f'secondary-{name}-{n}' for n in range(1, len(zone['secondaries']) + 1)])}")
        zone_acls = ([f"transfer-{name}"] if zone["secondaries"] else []) + \
            ([f"acme-{name}"] if zone["acme_challenge_updates"] else [])
        if zone_acls:
            out.append(f"    acl: {_list(zone_acls)}")
    return "\n".join(out) + "\n"


def render_keys_conf(secrets: Mapping[str, str]) -> str:
    out = ["# Managed by Bulwark's dns_zone role: TSIG keys, read from /etc/bulwark/*-tsig.key. Secret.", "key:"]
    for name in sorted(secrets):
        out += [f"  - id: {name}", f"    algorithm: {KEY_ALGORITHM}", f"    secret: {secrets[name]}"]
    return "\n".join(out) + "\n" if secrets else ""


# --- the local fact ---------------------------------------------------------------------------------------

FACT_SCRIPT = r'''#!/usr/bin/python3
# Managed by Bulwark's dns_zone role: Ansible's local fact ansible_local.bulwark_dns_zone, computed when facts
# are gathered so the DS and CDS data follow Knot's key rollovers.
import json
import subprocess

FACT = json.loads(__FACT__)


def run(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


for name, zone in FACT["zones"].items():
    zone["ds"], zone["cds"] = [], []
    if not zone["dnssec"]:
        continue
    for line in run(["keymgr", name, "ds"]).splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[1] == "DS" and fields[4] == "2":
            zone["ds"].append(name + ". IN DS " + " ".join(fields[2:]))
    for line in run(["knotc", "zone-read", name, "@", "CDS"]).splitlines():
        fields = line.split(None, 4)
        if len(fields) == 5 and fields[3] == "CDS":
            zone["cds"].append(name + ". IN CDS " + fields[4])
print(json.dumps(FACT, sort_keys=True))
'''


def render_fact(zones: Sequence[Mapping[str, Any]], acme_key_file: str) -> str:
    fact = {
        "server": "knot",
        "acme_tsig_key_file": acme_key_file if any(z["acme_challenge_updates"] for z in zones) else "",
        "zones": {z["name"]: {"role": "primary", "dnssec": bool(z["dnssec"]),
                              "acme_challenge_updates": z["acme_challenge_updates"],
                              "nameservers": [ns["name"] for ns in z["nameservers"]],
                              "secondaries": list(z["secondaries"]),
                              "parent_servers": list((z["dnssec"] or {}).get("parent_servers", []))}
                  for z in zones},
    }
    return FACT_SCRIPT.replace("__FACT__", repr(json.dumps(fact, sort_keys=True)))


# --- host state -------------------------------------------------------------------------------------------

def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_private(path: str, content: str, mode: int, gid: int = -1) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bulwark-", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        if gid >= 0:
            os.fchown(fd, 0, gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_key(path: str, name: str) -> tuple[str, bool]:
    """The secret of TSIG key ``name`` kept in ``path`` (one ``hmac-sha256:<name>:<base64>`` line, 0600), or a
    new one made on this host when the file is missing or not such a line. Returns (secret, new)."""
    match = _KEY_LINE.match((read_text(path) or "").strip())
    if match and match.group(1) == name:
        return match.group(2), False
    return base64.b64encode(os.urandom(32)).decode(), True


def store_key(path: str, name: str, secret: str, new: bool) -> None:
    if new:
        write_private(path, f"{KEY_ALGORITHM}:{name}:{secret}\n", 0o600)
    elif (os.stat(path).st_mode & 0o777) != 0o600:
        os.chmod(path, 0o600)


def tighten_key_modes(directory: str) -> None:
    if not os.path.isdir(directory):
        return
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False) and entry.stat().st_mode & 0o077:
            os.chmod(entry.path, 0o600)


def _proc_address(addr: str) -> str:
    """``addr`` as /proc/net/udp{,6} writes a local address (host byte order per 32-bit word)."""
    packed = ipaddress.ip_address(addr).packed
    return "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4))


def listening(addresses: Sequence[str], proc_files: Mapping[int, str]) -> bool:
    """Whether UDP port 53 is bound on every address (families absent from the host are skipped)."""
    for addr in addresses:
        family = ipaddress.ip_address(addr).version
        table = proc_files.get(family)
        if table is None:
            continue
        wanted = f"{_proc_address(addr)}:0035"
        if not any(len(row.split()) > 1 and row.split()[1] == wanted for row in table.splitlines()[1:]):
            return False
    return True


def proc_udp_tables() -> dict[int, str]:
    tables = {}
    for family, path in ((4, "/proc/net/udp"), (6, "/proc/net/udp6")):
        text = read_text(path)
        if text is not None and (family == 4 or (read_text("/proc/net/if_inet6") or "").strip()):
            tables[family] = text
    return tables


def file_matches(entry: Mapping[str, Any]) -> bool:
    """Whether the file at entry["path"] already has the content, mode, owner and group of ``entry``."""
    import grp
    import pwd

    try:
        info = os.stat(entry["path"])
        with open(entry["path"], encoding="utf-8") as handle:
            same = handle.read() == entry["content"]
        return same and (info.st_mode & 0o7777) == int(entry["mode"], 8) \
            and info.st_uid == pwd.getpwnam(entry["owner"]).pw_uid and info.st_gid == grp.getgrnam(entry["group"]).gr_gid
    except (OSError, KeyError, UnicodeDecodeError):
        return False


def in_sync(result: Mapping[str, Any], marker: str, run: Runner) -> bool:
    """Whether config_apply would find nothing to do: every file as built, no stray zone file, the
    directories there, no reload pending (its marker), knot running and enabled, no restart needed."""
    import glob

    if result["restart"] or os.path.exists(marker):
        return False
    if not all(os.path.isdir(d) for d in result["directories"]):
        return False
    declared = {entry["path"] for entry in result["files"]}
    if any(path not in declared for pattern in result["exclusive"] for path in glob.glob(pattern)):
        return False
    if run(["systemctl", "is-enabled", "knot"])[1].strip() != "enabled":
        return False
    return all(file_matches(entry) for entry in result["files"])


# --- main -------------------------------------------------------------------------------------------------

def build(params: Mapping[str, Any], run: Runner, check_mode: bool) -> dict[str, Any]:
    zones = params["zones"]
    zone_dir, key_dir = params["zone_dir"], params["key_dir"]
    acme_key_file = os.path.join(key_dir, "acme-tsig.key")
    result: dict[str, Any] = {"keys_written": [], "acme_owners": {}, "files": [], "exclusive": [], "directories": [],
                              "test_command": [], "reload_command": [], "restart": False, "changed": False}
    result["in_sync"] = False
    result["missing"] = [program for program in PROGRAMS if shutil.which(program) is None]
    if result["missing"]:
        return result  # the role installs Knot and calls again

    secrets, key_files = {}, []
    for needed, name, path in ((any(z["acme_challenge_updates"] for z in zones), ACME_KEY, acme_key_file),
                               (any(z["secondaries"] for z in zones), TRANSFER_KEY,
                                os.path.join(key_dir, "transfer-tsig.key"))):
        if needed:
            secrets[name], new = read_key(path, name)
            key_files.append((path, name, new))
            result["keys_written"] += [path] if new else []
    keys_conf = render_keys_conf(secrets)
    keys_digest = hashlib.sha256(keys_conf.encode()).hexdigest()[:16] if keys_conf else ""

    knot_running = run(["systemctl", "is-active", "knot"])[1].strip() == "active"
    files, problems, zone_files = [], [], []
    with tempfile.TemporaryDirectory(prefix="bulwark-dns-zone-") as workdir:
        for zone in zones:
            name = zone["name"]
            fragment_path = os.path.join(params["fragments_dir"], f"{name}.records")
            declared, sources = assemble(zone, read_text(fragment_path), fragment_path)
            path = os.path.join(zone_dir, f"{name}.zone")
            zone_files.append((name, path))
            if zone["acme_challenge_updates"]:
                result["acme_owners"][name] = acme_owner_names(name, sources, declared)
            current = read_text(path)
            if current is not None and split_acme(current)[0] == declared:
                content = current  # unchanged data: the file stays as it is, carried records and all
            else:
                carried = []
                if zone["acme_challenge_updates"] and knot_running:
                    carried = served_acme_records(name, run(["knotc", "zone-read", name])[1])
                content = declared + acme_section(carried)
                rc, output = kzonecheck(name, content, run, workdir)
                if rc != 0:
                    problems += kzonecheck_problems(name, output, sources, content.splitlines())
            files.append({"path": path, "content": content, "mode": "0640", "owner": "root", "group": "knot"})
    if problems:
        return {**result, "keys_written": [], "failed": True, "msg": "; ".join(dict.fromkeys(problems))}
    if not check_mode:
        # Only now that every zone passed: a refused run leaves the host as it was.
        for path, name, new in key_files:
            store_key(path, name, secrets[name], new)
        if keys_conf and read_text(params["keys_conf"]) != keys_conf:
            import grp

            write_private(params["keys_conf"], keys_conf, 0o640, grp.getgrnam("knot").gr_gid)
            result["keys_written"].append(params["keys_conf"])

    conf = render_knot_conf(zones, params["listen"], params["keys_conf"], keys_digest, zone_dir,
                            result["acme_owners"])
    files.insert(0, {"path": params["conf_path"], "content": conf, "mode": "0640", "owner": "root", "group": "knot"})
    files.append({"path": params["fact_path"], "content": render_fact(zones, acme_key_file), "mode": "0755",
                  "owner": "root", "group": "root"})
    checks = [f"knotc -c {params['conf_path']} conf-check >/dev/null"] + \
        [f"kzonecheck -o {name}. {path}" for name, path in zone_files]
    restart = knot_running and not listening(params["listen"], proc_udp_tables())
    if not check_mode:
        tighten_key_modes(params["kasp_keys_dir"])
    result.update({
        "files": files,
        "exclusive": [os.path.join(zone_dir, "*.zone")],
        "directories": [zone_dir, os.path.dirname(params["fact_path"])],
        "test_command": ["sh", "-ec", "; ".join(checks)],
        "reload_command": [] if restart else ["knotc", "reload"],
        "restart": restart,
        "changed": bool(result["keys_written"]),
    })
    # The usual re-run: nothing to apply, so the role skips config_apply (one call per run) and the
    # files need not travel back to the controller.
    result["in_sync"] = knot_running and in_sync(result, params["apply_marker"], run)
    if result["in_sync"]:
        result["files"] = []
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "zones": {"type": "list", "elements": "dict", "required": True},
            "fragments_dir": {"type": "path", "required": True},
            "zone_dir": {"type": "path", "default": "/var/lib/knot/bulwark"},
            "conf_path": {"type": "path", "default": "/etc/knot/knot.conf"},
            "keys_conf": {"type": "path", "default": "/etc/knot/bulwark-keys.conf"},
            "key_dir": {"type": "path", "default": "/etc/bulwark"},
            "kasp_keys_dir": {"type": "path", "default": "/var/lib/knot/keys/keys"},
            "fact_path": {"type": "path", "default": "/etc/ansible/facts.d/bulwark_dns_zone.fact"},
            "listen": {"type": "list", "elements": "str", "default": ["0.0.0.0", "::"]},
            "apply_marker": {"type": "path", "default": "/var/lib/bulwark/apply/knot.json"},
        },
        supports_check_mode=True,
    )

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    try:
        result = build(module.params, run, module.check_mode)
    except OSError as exc:
        module.fail_json(msg=f"dns_zone_build: {exc}")
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
