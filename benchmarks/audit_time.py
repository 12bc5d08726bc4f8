#!/usr/bin/env python3
"""How long the audit (playbooks/audit.yml) takes for one host and for the three hosts of the lab, and how it
grows: hosts are checked in parallel (forks), so three hosts should cost far less than three times one.

Needs a converged lab: the main lab after `./bulwark site` (the default inventory), or a molecule lab of the
default scenario (pass its inventory: --inventory ~/.ansible/tmp/molecule.*.default/inventory). Runs are
interleaved (1 host, 3 hosts, 1 host, ...) so that the machine's noise hits both alike. Usage:
    .venv/bin/python benchmarks/audit_time.py [--inventory DIR] [--repeat 3] [--one web-nginx]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulwark_lab.host import venv_env  # noqa: E402

TARGET_SECONDS = 60.0
LAB_HOSTS = "web-nginx,web-apache,ns"


def audit(inventory: str, limit: str, out: Path) -> tuple[float, dict]:
    started = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", inventory, "playbooks/audit.yml", "--limit", limit,
                           "-e", f"audit_output_dir={out}"], cwd=ROOT, env=venv_env(), capture_output=True,
                          text=True, check=False)
    seconds = time.monotonic() - started
    report = out / "audit.json"
    if not report.exists():
        sys.exit(f"audit of {limit} wrote no report (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    document = json.loads(report.read_text())
    if proc.returncode != 0:
        print(f"  note: the audit of {limit} found {document['summary']['fail']} failing check(s)")
    return seconds, document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inventory", default="inventories/lab")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", default="web-nginx", help="the host of the one-host runs")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {"1 host": [], "3 hosts": []}
    modules: dict[str, list[float]] = {"1 host": [], "3 hosts": []}
    checks: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bulwark-audit-bench-") as tmp:
        for run in range(args.repeat):
            for label, limit in (("1 host", args.one), ("3 hosts", LAB_HOSTS)):
                wall, document = audit(args.inventory, limit, Path(tmp) / f"{label}-{run}".replace(" ", "-"))
                walls[label].append(round(wall, 1))
                modules[label].append(max(h["seconds"] for h in document["hosts"]))
                checks[label] = document["summary"]["checks"]
    one, three = statistics.median(walls["1 host"]), statistics.median(walls["3 hosts"])
    print("audit of the lab (ansible-playbook playbooks/audit.yml), wall seconds, interleaved runs")
    for label in walls:
        print(f"  {label:<8} median {statistics.median(walls[label]):6.1f}s  runs {walls[label]}  "
              f"slowest host's checks {statistics.median(modules[label]):5.1f}s  ({checks[label]} checks)")
    print(f"  growth: 3 hosts take {three / one:.2f}x the time of 1 (checks of different hosts run in parallel)")
    ok = three <= TARGET_SECONDS
    print(f"  3-host audit {three:.1f}s (target < {TARGET_SECONDS:.0f}s): {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
