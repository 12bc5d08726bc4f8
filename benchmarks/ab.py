#!/usr/bin/env python3
"""A/B timing of playbook variants against the floor, interleaved (a development aid for docs/speed.md).

    .venv/bin/python benchmarks/ab.py -i INVENTORY --limit HOSTS --repeat 3 A.yml B.yml ...
Prints each variant's median, its runs and its changed count; the no-op floor runs in every round too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import NOOP_PLAYBOOK, run_playbook  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--inventory", required=True)
    parser.add_argument("--limit", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("playbooks", nargs="+")
    args = parser.parse_args()
    variants = [str(NOOP_PLAYBOOK), *args.playbooks]
    times: dict[str, list[float]] = {v: [] for v in variants}
    changed: dict[str, int] = dict.fromkeys(variants, 0)
    for _ in range(args.repeat):
        for variant in variants:
            seconds, count = run_playbook(args.inventory, variant, "--limit", args.limit)
            times[variant].append(seconds)
            changed[variant] += count
    floor = statistics.median(times[str(NOOP_PLAYBOOK)])
    for variant in variants:
        median = statistics.median(times[variant])
        print(f"{Path(variant).name:<28} {median:6.2f}s  {median / floor:5.2f}x  changed={changed[variant]}  "
              f"{times[variant]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
