"""Shared benchmark harness: time a role's re-run against the no-op floor on the same host, in one run.

Machines here are noisy, so a benchmark prints ratios measured side by side (floor and role runs
interleaved), never absolute targets; it is a script, not a timed test.

Usage from a benchmark script::

    with BenchHost("bench-firewalld", 78, debian="12") as bench:
        bench.playbook("benchmarks/playbooks/firewalld_20_ports.yml")        # first converge, untimed
        result = bench.compare("benchmarks/playbooks/firewalld_20_ports.yml", repeat=3)
    result.report("firewalld re-run, 20 ports", target_ratio=1.5)
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulwark_lab import engine, images, lab  # noqa: E402
from bulwark_lab.host import venv_env  # noqa: E402

NOOP_PLAYBOOK = ROOT / "benchmarks" / "playbooks" / "noop.yml"
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)", re.M)


@dataclass
class Comparison:
    floor: list[float]
    role: list[float]
    changed: int

    def report(self, what: str, target_ratio: float) -> bool:
        floor, role = statistics.median(self.floor), statistics.median(self.role)
        ratio = role / floor
        ok = ratio <= target_ratio and self.changed == 0
        print(f"{what}")
        print(f"  no-op floor (facts + ping), median of {len(self.floor)}: {floor:6.2f}s  {self.floor}")
        print(f"  re-run, median of {len(self.role)}:                       {role:6.2f}s  {self.role}")
        print(f"  changed on re-run: {self.changed}")
        print(f"  ratio {ratio:.2f}x (target <= {target_ratio}x, changed=0): {'MET' if ok else 'NOT MET'}")
        return ok


class BenchHost:
    """One systemd container of the lab image, reached over the docker connection plugin."""

    def __init__(self, name: str, subnet_index: int, debian: str = "12") -> None:
        """``name`` and ``subnet_index`` (172.30.<n>.0/24, 70-79) keep benchmarks apart from each other."""
        self.debian = debian
        self.lab = lab.Lab(name, subnet_index, (lab.Host("bench", "target", 11),))
        self._tmp = tempfile.TemporaryDirectory(prefix="bulwark-bench-")
        self.inventory = Path(self._tmp.name) / "hosts.yml"

    def __enter__(self) -> "BenchHost":
        engine.ensure_engine()
        images.ensure_images((self.debian,))
        lab.down(self.lab.name)
        lab.up(self.lab, self.debian)
        container = self.lab.container(self.lab.hosts[0])
        self.inventory.write_text(
            "all:\n  hosts:\n    bench:\n"
            f"      ansible_connection: community.docker.docker\n      ansible_host: {container}\n"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        lab.down(self.lab.name)
        self._tmp.cleanup()

    def playbook(self, playbook: str | Path, *extra: str) -> tuple[float, int]:
        """Run ``playbook`` once; return wall seconds and the recap's changed count. Fails loudly."""
        return run_playbook(self.inventory, playbook, *extra)

    def compare(self, playbook: str | Path, repeat: int = 3, *extra: str) -> Comparison:
        """Alternate floor and role runs ``repeat`` times, so both see the same machine load."""
        return compare(self.inventory, playbook, repeat, *extra)


def run_playbook(inventory: str | Path, playbook: str | Path, *extra: str) -> tuple[float, int]:
    """Run ``playbook`` once against ``inventory``; return wall seconds and the recap's changed count."""
    cmd = ["ansible-playbook", "-i", str(inventory), str(playbook), *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=venv_env(), capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"benchmark: {' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    changed = sum(int(m["changed"]) for m in RECAP.finditer(proc.stdout))
    return round(seconds, 2), changed


def compare(inventory: str | Path, playbook: str | Path, repeat: int = 3, *extra: str) -> Comparison:
    """Alternate no-op floor and ``playbook`` runs ``repeat`` times, so both see the same machine load."""
    floor, role, changed = [], [], 0
    for _ in range(repeat):
        floor.append(run_playbook(inventory, NOOP_PLAYBOOK, *extra)[0])
        seconds, run_changed = run_playbook(inventory, playbook, *extra)
        role.append(seconds)
        changed += run_changed
    return Comparison(floor, role, changed)


PLAYBOOKS = ROOT / "benchmarks" / "playbooks"


def rerun_benchmark(what: str, name: str, subnet_index: int, debian: str, setup: str, rerun: str,
                    repeat: int = 5, target_ratio: float = 1.5) -> int:
    """The usual role benchmark on one fresh host: ``setup`` and a first ``rerun`` converge it (untimed, the
    first converge's time printed), then ``rerun`` against the floor, interleaved. Exit status 0 when met."""
    with BenchHost(name, subnet_index, debian=debian) as bench:
        bench.playbook(PLAYBOOKS / setup)
        seconds, changed = bench.playbook(PLAYBOOKS / rerun)
        print(f"first converge: {seconds:.2f}s, changed={changed}")
        result = bench.compare(PLAYBOOKS / rerun, repeat)
    return 0 if result.report(what, target_ratio) else 1
