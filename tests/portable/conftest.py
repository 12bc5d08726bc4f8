"""Bulwark taken the ways other projects take it, on one lab shared by the whole pytest session.

- test_vendoring.py: each role copied alone (with the roles its meta/main.yml declares) into a fresh project,
  without Bulwark's ansible.cfg or environment, converges a lab host and passes a short check.
- test_collection.py: the built collection installed into a fresh venv: ansible-doc of every plugin by its full
  name, a playbook outside the repository using only full names, ansible-runner on a private data dir (as AWX
  runs content), and ansible-test sanity.

The lab: three Debian targets (web-nginx, web-apache, ns) in the slot of BULWARK_LAB_SLOT, the Debian release of
BULWARK_DEBIAN (13 by default), started once and removed at the end (BULWARK_KEEP_LAB=1 keeps it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bulwark_lab import lab  # noqa: E402

PLATFORMS = [{"name": "web-nginx", "groups": ["web_servers"]}, {"name": "web-apache", "groups": ["web_servers"]},
             {"name": "ns", "groups": ["dns_servers"]}]
VENV_BIN = REPO / ".venv" / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no ANSIBLE_* settings, no Bulwark ansible.cfg; the tools on PATH."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "MOLECULE_", "BULWARK_")) and key != "VIRTUAL_ENV"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["ANSIBLE_NOCOLOR"] = "1"  # readable failure output; changes nothing else
    env.update(extra)
    return env


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run a command; on failure show its output (the assertion message is what a CI log shows)."""
    started = time.monotonic()
    proc = subprocess.run([str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    print(f"$ {' '.join(str(arg) for arg in argv)}  ({time.monotonic() - started:.0f}s, rc {proc.returncode})")
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed in {cwd}:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return proc


class LabHosts:
    """The session's lab hosts and an inventory for them, as a user would write it."""

    def __init__(self, hosts: list[dict[str, Any]]) -> None:
        self.hosts = {str(host["instance"]): host for host in hosts}

    def address(self, name: str) -> str:
        return str(self.hosts[name]["address"])

    def inventory(self) -> dict[str, Any]:
        hosts = {name: {"ansible_host": host["address"], "ansible_user": "root",
                        "ansible_ssh_private_key_file": host["identity_file"],
                        "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"}
                 for name, host in self.hosts.items()}
        groups: dict[str, Any] = {}
        for platform in PLATFORMS:
            for group in platform["groups"]:
                groups.setdefault(group, {"hosts": {}})["hosts"][platform["name"]] = {}
        return {"all": {"hosts": hosts, "children": groups}}

    def write_inventory(self, path: Path) -> Path:
        path.write_text(json.dumps(self.inventory(), indent=2) + "\n")  # JSON is YAML
        return path


@pytest.fixture(scope="session")
def lab_hosts() -> Iterator[LabHosts]:
    the_lab = lab.molecule_lab(PLATFORMS)
    lab.down(the_lab.name)
    hosts = lab.up(the_lab, os.environ.get("BULWARK_DEBIAN", "13"))
    for host in hosts:  # as molecule/_shared/prepare.yml: systemd settled before anything runs
        subprocess.run(["ssh", "-i", str(host["identity_file"]), "-o", "UserKnownHostsFile=/dev/null",
                        "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR", f"root@{host['address']}",
                        "systemctl", "is-system-running", "--wait"], capture_output=True, timeout=180, check=False)
    yield LabHosts(hosts)
    if os.environ.get("BULWARK_KEEP_LAB") != "1":
        lab.down(the_lab.name)
