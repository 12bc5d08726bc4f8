#!/usr/bin/env python3
"""How much a site.yml re-run with nothing to do costs against the no-op floor on the same hosts.

Needs the converged built-in lab (`./bulwark site`). Floor (facts + ping) and `ansible-playbook site.yml`
runs are interleaved so the machine's noise hits both alike; the re-runs must report changed=0. Usage:
    .venv/bin/python benchmarks/site_rerun.py [--inventory inventories/lab] [--repeat 5] [--limit HOSTS]

The floor and the re-run cover the same hosts: the lab's targets (`--limit`, default every host of site.yml:
web-nginx, web-apache and ns). The scanner and the parent zone's server (a lab fixture, playbooks/lab_registrar.yml)
run no play of site.yml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import compare, run_playbook  # noqa: E402

TARGET_RATIO = 1.5
LAB_TARGETS = "web_servers,dns_servers"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", default=LAB_TARGETS, help="the hosts of both plays (default: the lab's targets)")
    args = parser.parse_args()
    limit = ("--limit", args.limit)
    seconds, changed = run_playbook(args.inventory, "site.yml", *limit)
    print(f"warm-up re-run of site.yml (untimed in the ratio): {seconds:.1f}s, changed={changed}")
    result = compare(args.inventory, "site.yml", args.repeat, *limit)
    ok = result.report(f"site.yml re-run on {args.limit} ({args.inventory})", target_ratio=TARGET_RATIO)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
