#!/usr/bin/env python3
"""How much a site.yml re-run with nothing to do costs against the no-op floor on the same hosts.

Brings up its own lab (`--hosts N` targets, plus the fixtures: the scanner for OCSP and, with ACME sites, the
`ca` host with Pebble) on 172.30.87.0/24, converges it once (lab fixtures, then site.yml, profiled per role:
the first-converge time of each role), then runs the no-op floor (facts + ping) and `ansible-playbook
site.yml` interleaved on the targets (`--limit`), so the machine's noise hits both alike. Re-runs must report
changed=0. Usage:
    .venv/bin/python benchmarks/site_rerun.py --hosts 3 [--repeat 5] [--keep]

The targets (see docs/speed.md):
  1 host    web-nginx, its lab-CA site only (no name server, no ACME CA)
  3 hosts   the built-in lab's: web-nginx, web-apache (ACME, dns-01) and ns (lab.test)
  N hosts   those 3, then nginx-K, apache-K and ns-K in the ratio 2:2:1 (20 hosts: 8 nginx, 8 Apache, 4 DNS);
            nginx-K and apache-K serve one site each (RSA + ECDSA from the lab CA) named in zone labJ.test,
            which ns-J serves and publishes their TLSA and CAA records in
`--inventory INV --limit HOSTS` measures an existing lab instead (e.g. the built-in one: inventories/lab).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import ROOT, compare, run_playbook  # noqa: E402
from bulwark_lab import STATE_DIR, engine, images, lab  # noqa: E402
from bulwark_lab.host import venv_env  # noqa: E402

TARGET_RATIO = 1.5
LAB_NAME, SUBNET = "speed", 87  # lab slot 6's subnet for benchmarks
STATE = STATE_DIR / "speed"
BASE_TARGETS = "web_servers,dns_servers"
PROFILE_LINE = re.compile(r"^(?P<role>[\w.-]+) -+ (?P<seconds>[\d.]+)s$", re.M)


def targets(count: int) -> list[tuple[str, str]]:
    """``(name, kind)`` of the first ``count`` targets: kind nginx, apache or dns."""
    if count == 1:
        return [("web-nginx", "nginx")]
    hosts = [("web-nginx", "nginx"), ("web-apache", "apache"), ("ns", "dns")]
    made = {"nginx": 1, "apache": 1, "dns": 1}
    cycle = ("nginx", "apache", "nginx", "apache", "dns")
    while len(hosts) < count:
        kind = cycle[(len(hosts) - 3) % len(cycle)]
        made[kind] += 1
        hosts.append((f"{'ns' if kind == 'dns' else kind}-{made[kind]}", kind))
    return hosts


def lab_hosts(hosts: list[tuple[str, str]]) -> tuple[lab.Host, ...]:
    octets = {"web-nginx": 11, "web-apache": 12, "ns": 13}
    result, extra = [], 31
    for name, _kind in hosts:
        if name not in octets:
            octets[name], extra = extra, extra + 1
        result.append(lab.Host(name, "target", octets[name]))
    result.append(lab.Host("scanner", "scanner", 20))
    if len(hosts) > 1:
        result.append(lab.Host("ca", "scanner", 21))
    return tuple(result)


def _load(path: Path) -> dict:
    import yaml  # the virtualenv's (ansible's) PyYAML

    return yaml.safe_load(path.read_text()) or {}


def inventory(the_lab: lab.Lab, hosts: list[tuple[str, str]]) -> dict:
    """The built-in lab's inventory (inventories/lab), on this lab's addresses, with the extra hosts."""
    source = ROOT / "inventories" / "lab"
    group_vars = {path.stem: _load(path) for path in (source / "group_vars").glob("*.yml")}
    host_vars = {path.stem: _load(path) for path in (source / "host_vars").glob("*.yml")}
    address = {host.name: the_lab.ipv4(host) for host in the_lab.hosts}
    dns_hosts = [name for name, kind in hosts if kind == "dns"]
    web = [(name, kind) for name, kind in hosts if kind in ("nginx", "apache")]
    hv: dict[str, dict] = {}
    for name, kind in hosts:
        hv[name] = {"ansible_host": address[name], **host_vars.get(name, {})}
    if len(hosts) == 1:  # no name server, no ACME CA: the lab-CA site only
        hv["web-nginx"]["tls_sites"] = [s for s in hv["web-nginx"]["tls_sites"] if "acme" not in s]
    # Extra web hosts: one site each, in the zone of the name server they are assigned to (round robin).
    zone_of = {"ns": "lab.test", **{name: f"lab{name.split('-')[1]}.test" for name in dns_hosts if name != "ns"}}
    served: dict[str, list[str]] = {name: [] for name in dns_hosts}
    for position, (name, kind) in enumerate(web):
        if name in ("web-nginx", "web-apache"):
            if "ns" in served:
                served["ns"].append(name)
            continue
        ns = dns_hosts[position % len(dns_hosts)]
        served[ns].append(name)
        site = f"{name}.{zone_of[ns]}"
        hv[name]["lab_pki_certificates"] = [
            {"name": f"site-{key}", "names": [site], "key_type": key} for key in ("rsa", "ecdsa")]
        hv[name]["tls_sites"] = [{"name": site, "root": "/var/www/html", "certificates": [
            {"cert": f"/etc/ssl/bulwark-lab/site-{key}.crt", "key": f"/etc/ssl/bulwark-lab/site-{key}.key",
             "chain": f"/etc/ssl/bulwark-lab/site-{key}.chain.crt"} for key in ("rsa", "ecdsa")]}]
    dns_group = group_vars["dns_servers"]
    # No mail server in this lab (the built-in lab's mx): lab.test names only the hosts that are here.
    for zone in dns_group["dns_zone_zones"]:
        zone["records"] = [r for r in zone["records"] if "hostvars['mx']" not in r and " MX " not in r]
    # No parent zone's server in this lab: Knot asks no one for the DS.
    dns_group["dns_zone_dnssec"] = {k: v for k, v in dns_group["dns_zone_dnssec"].items()
                                    if k not in ("parent_servers", "ksk_submission_check_interval")}
    for ns in dns_hosts:
        hv[ns]["dns_records_tls_hosts"] = served[ns]
        if ns == "ns":
            continue
        zone = zone_of[ns]
        hv[ns]["dns_zone_zones"] = [{"name": zone, "records": [
            f"{name} IN A {{{{ hostvars['{name}'].ansible_host }}}}" for name in served[ns]]}]
        hv[ns]["dns_records_zones"] = [zone]
        hv[ns]["dns_records_caa"] = [{"domain": zone, "issue": ["ca.lab.test"]}]
    if "ns" in served:
        served["ns"] = [name for name in served["ns"] if name in ("web-nginx", "web-apache")] + [
            name for name in served["ns"] if name not in ("web-nginx", "web-apache")]
        for name in served["ns"]:
            if name not in ("web-nginx", "web-apache"):
                dns_group["dns_zone_zones"][0]["records"].append(
                    f"{name} IN A {{{{ hostvars['{name}'].ansible_host }}}}")
    all_vars = group_vars["all"]
    all_vars["lab_pki_dir"] = str(STATE / "pki")
    if len(hosts) == 1:
        for key in [k for k in all_vars if k.startswith(("acme_", "audit_"))]:
            del all_vars[key]
    by_kind = {kind: {name: hv[name] for name, k in hosts if k == kind} for kind in ("nginx", "apache", "dns")}
    children: dict[str, dict] = {
        "nginx_servers": {"hosts": by_kind["nginx"], "vars": {}},
        "apache_servers": {"hosts": by_kind["apache"]},
        "dns_servers": {"hosts": by_kind["dns"], "vars": dns_group},
        "scanners": {"hosts": {"scanner": {"ansible_host": address["scanner"]}}},
    }
    if "ca" in address:
        children["acme_cas"] = {"hosts": {"ca": {"ansible_host": address["ca"]}}}
    return {"all": {"vars": all_vars, "children": {
        "lab": {"vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(lab.SSH_KEY),
            "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"},
            "children": children},
        "web_servers": {"children": {"nginx_servers": {}, "apache_servers": {}},
                        "vars": group_vars["web_servers"]},
        "firewalld_servers": {"children": {"web_servers": {}, "dns_servers": {}},
                              "vars": group_vars["firewalld_servers"]},
    }}}


def profiled_converge(inventory_path: Path) -> None:
    """site.yml once, with ansible.posix.profile_roles: the first converge's time, in all and per role."""
    env = {**venv_env(), "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_roles,ansible.posix.profile_tasks",
           "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "12"}
    cmd = ["ansible-playbook", "-i", str(inventory_path), "site.yml"]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"first converge failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    (STATE / "first_converge.log").write_text(proc.stdout)
    print(f"first converge of site.yml: {seconds:.1f}s; per role (wall time of its tasks, summed):")
    for match in PROFILE_LINE.finditer(proc.stdout):
        print(f"  {match['role']:<22} {float(match['seconds']):7.2f}s")
    tasks = proc.stdout.split("TASKS RECAP", 1)[-1].split("RECAP *", 1)[0].splitlines()
    print("the longest tasks (wall time across the hosts):")
    for line in tasks:
        if re.search(r" -+ [\d.]+s$", line):
            print(f"  {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=3, help="targets of the benchmark lab (1, 3 or more)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--debian", default="13")
    parser.add_argument("--keep", action="store_true", help="leave the lab up (take it down with --down)")
    parser.add_argument("--down", action="store_true", help="only take the benchmark lab down")
    parser.add_argument("--reuse", action="store_true", help="the lab is up and converged: measure only")
    parser.add_argument("--inventory", help="measure an existing converged lab instead (with --limit)")
    parser.add_argument("--limit", default=BASE_TARGETS)
    parser.add_argument("--counts", default="",
                        help="also measure the first N targets of this lab (--limit), e.g. 1,3,10 in the 20-host lab")
    parser.add_argument("--json", help="append each result as one JSON line to this file (the graph's data)")
    args = parser.parse_args()
    if args.down:
        lab.down(LAB_NAME)
        return 0
    if args.inventory:
        inventory_path, limit, what = Path(args.inventory), args.limit, f"{args.limit} ({args.inventory})"
    else:
        hosts = targets(args.hosts)
        the_lab = lab.Lab(LAB_NAME, SUBNET, lab_hosts(hosts))
        inventory_path, limit = STATE / "hosts.yml", ",".join(name for name, _ in hosts)
        what = (f"{len(hosts)} hosts: " + ", ".join(f"{sum(1 for _, k in hosts if k == kind)} {kind}"
                                                      for kind in ("nginx", "apache", "dns")))
        if not args.reuse:
            engine.ensure_engine()
            images.ensure_images((args.debian,))
            lab.down(LAB_NAME)
            shutil.rmtree(STATE, ignore_errors=True)
            STATE.mkdir(parents=True)
            inventory_path.write_text(json.dumps(inventory(the_lab, hosts), indent=1))
            started = time.monotonic()
            lab.up(the_lab, args.debian)
            print(f"lab up ({len(the_lab.hosts)} containers): {time.monotonic() - started:.1f}s")
            seconds, _ = run_playbook(inventory_path, "playbooks/lab_fixtures.yml")
            print(f"lab fixtures (PKI, Pebble, content): {seconds:.1f}s")
            profiled_converge(inventory_path)
    measures = [(what, limit)]
    if not args.inventory and args.counts:
        for count in sorted({int(n) for n in args.counts.split(",")} - {len(hosts)}, reverse=True):
            part = hosts[:count]
            measures.append((f"the first {count} of those hosts ({', '.join(n for n, _ in part)})",
                             ",".join(name for name, _ in part)))
    ok = True
    try:
        for text, hosts_limit in measures:
            seconds, changed = run_playbook(inventory_path, "site.yml", "--limit", hosts_limit)
            print(f"warm-up re-run of site.yml (untimed in the ratio): {seconds:.1f}s, changed={changed}")
            result = compare(inventory_path, "site.yml", args.repeat, "--limit", hosts_limit)
            ok = result.report(f"site.yml re-run on {text}", target_ratio=TARGET_RATIO) and ok
            if args.json:  # at once: a long run stopped midway keeps what it measured
                with open(args.json, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"hosts": len(hosts_limit.split(",")), "lab": args.inventory or len(hosts),
                                          "floor": result.floor, "rerun": result.role,
                                          "changed": result.changed}) + "\n")
            sys.stdout.flush()
    finally:
        if not (args.inventory or args.keep):
            lab.down(LAB_NAME)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
