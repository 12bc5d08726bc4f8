#!/usr/bin/env python3
"""nginx_tls and apache_tls re-runs (nothing to change) against the no-op floor, on one Debian 12 host.

Both roles converge once (untimed), then each re-run is timed side by side with the floor. Usage:
    .venv/bin/python benchmarks/tls_rerun.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import BenchHost  # noqa: E402

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
TARGET_RATIO = 2.0


def main() -> int:
    with BenchHost("bench-tls", 77, debian="12") as bench:
        bench.playbook(PLAYBOOKS / "tls_setup.yml")
        bench.playbook(PLAYBOOKS / "tls_rerun.yml", "-e", "tls_bench_role=nginx_tls")
        nginx = bench.compare(PLAYBOOKS / "tls_rerun.yml", 3, "-e", "tls_bench_role=nginx_tls")
        bench.playbook(PLAYBOOKS / "tls_stop_nginx.yml")
        bench.playbook(PLAYBOOKS / "tls_rerun.yml", "-e", "tls_bench_role=apache_tls")
        apache = bench.compare(PLAYBOOKS / "tls_rerun.yml", 3, "-e", "tls_bench_role=apache_tls")
    nginx_ok = nginx.report("nginx_tls re-run, 2 sites (RSA+ECDSA, proxied)", target_ratio=TARGET_RATIO)
    apache_ok = apache.report("apache_tls re-run, 2 sites (RSA+ECDSA, proxied)", target_ratio=TARGET_RATIO)
    return 0 if nginx_ok and apache_ok else 1


if __name__ == "__main__":
    sys.exit(main())
