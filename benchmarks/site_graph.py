#!/usr/bin/env python3
"""The speed graph: site.yml re-run and no-op floor (medians) against the number of hosts.

Reads the JSON lines that `benchmarks/site_rerun.py --json FILE` appends (one per run, e.g. --hosts 1, 3, 10
and 20) and writes a PNG (default docs/speed.png). Usage:
    .venv/bin/python benchmarks/site_graph.py benchmarks/results/site_rerun.jsonl [--out docs/speed.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("--out", default="docs/speed.png")
    args = parser.parse_args()
    runs: dict[int, dict] = {}
    for line in Path(args.results).read_text().splitlines():
        if line.strip():
            run = json.loads(line)
            runs[run["hosts"]] = run  # the last run of each host count
    hosts = sorted(runs)
    floor = [statistics.median(runs[n]["floor"]) for n in hosts]
    rerun = [statistics.median(runs[n]["rerun"]) for n in hosts]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(hosts, rerun, "o-", label="site.yml re-run (changed=0)")
    ax.plot(hosts, floor, "s--", label="no-op floor (facts + ping)")
    ax.plot(hosts, [1.5 * f for f in floor], ":", color="grey", label="target: 1.5x the floor")
    for n, f, r in zip(hosts, floor, rerun):
        ax.annotate(f"{r / f:.2f}x", (n, r), textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xlabel("hosts (lab containers, 2 cores)")
    ax.set_ylabel("seconds (median)")
    ax.set_xticks(hosts)
    ax.set_xlim(0, max(hosts) * 1.08)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("site.yml re-run against the no-op floor")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
