"""The fault lab: systemd containers (bulwark_lab.lab) with sshd on a custom port, a controller that can be
killed at a moment read from a host, and the checks that must hold afterwards.

The roles and site.yml under test come from BULWARK_FAULTS_ROOT (default: this repository), so the same test can
be pointed at an older checkout to show that it fails there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bulwark_lab import ROOT, STATE_DIR, lab
from bulwark_lab.host import venv_env

from windows import GROUP_VARS, HOSTS, LEFT_OVERS, SSH_PORT, Window

ROLES_ROOT = Path(os.environ.get("BULWARK_FAULTS_ROOT", ROOT)).resolve()
PLAYBOOK_TIMEOUT = 600.0
MOMENT_TIMEOUT = 420.0


def fault_lab() -> lab.Lab:
    """Its own network beside the molecule labs: 172.30.(91+slot).0/24."""
    _name, index = lab.molecule_lab_name()
    slot = index - 81
    return lab.Lab(f"faults{slot}", 91 + slot,
                   tuple(lab.Host(name, "target", host.octet) for name, host in HOSTS.items()))


@dataclass
class Run:
    rc: int
    output: str
    seconds: float
    killed: bool = False

    @property
    def changed(self) -> int:
        """Sum of changed= over the PLAY RECAP lines."""
        return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", self.output.split("PLAY RECAP")[-1]))

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


@dataclass
class FaultLab:
    lab: lab.Lab
    workdir: Path
    version: str
    phases: dict[str, str] = field(default_factory=dict)
    converged: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    # -- set-up ----------------------------------------------------------------------------------------------

    def address(self, name: str) -> str:
        return self.lab.ipv4(self._host(name))

    def _host(self, name: str) -> lab.Host:
        return next(h for h in self.lab.hosts if h.name == name)

    def container(self, name: str) -> str:
        return self.lab.container(self._host(name))

    def up(self) -> None:
        lab.down(self.lab.name)
        lab.up(self.lab, self.version)
        for name in HOSTS:
            # SSH only on the custom port, as the CentOS guide sets it up: nothing listens on 22 any more.
            self.sh(name, f"printf 'Port {SSH_PORT}\\n' > /etc/ssh/sshd_config.d/bulwark-port.conf"
                          " && systemctl restart ssh.service")
            assert self.wait_for_ssh(name, 30), f"{name}: sshd did not come up on {SSH_PORT}"
        self.write_inventory()
        run = self.playbook(str(Path(__file__).with_name("prepare.yml")), roles_root=ROOT)
        assert run.rc == 0, f"preparing the fault lab failed:\n{run.tail()}"

    def down(self) -> None:
        lab.down(self.lab.name)

    def write_inventory(self) -> None:
        inventory = self.workdir / "inventory"
        (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
        groups: dict[str, Any] = {}
        for name, host in HOSTS.items():
            for group in host.groups:
                groups.setdefault(group, {"hosts": {}})["hosts"][name] = {"ansible_host": self.address(name)}
        (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {
            "vars": {"ansible_user": "root", "ansible_port": SSH_PORT,
                     "ansible_ssh_private_key_file": str(lab.SSH_KEY),
                     "ansible_ssh_common_args": "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no",
                     "lab_pki_dir": str(self.workdir / "pki")},
            "children": groups,
        }}))
        (inventory / "group_vars").mkdir(exist_ok=True)
        for group, values in GROUP_VARS.items():
            (inventory / "group_vars" / f"{group}.yml").write_text(yaml.safe_dump(values))
        for name in HOSTS:
            self.set_phase(name, "fresh")

    def set_phase(self, host: str, phase: str) -> None:
        """Write the host's declaration for ``phase`` ("fresh" or "change")."""
        self.phases[host] = phase
        values = {**HOSTS[host].vars[phase], "lab_pki_certificates": list(HOSTS[host].certificates)}
        (self.workdir / "inventory" / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(values))

    # -- the controller --------------------------------------------------------------------------------------

    def _env(self, host: str) -> dict[str, str]:
        env = venv_env()
        env.update({
            "ANSIBLE_CONFIG": str(ROLES_ROOT / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROLES_ROOT / "roles"),
            "ANSIBLE_FILTER_PLUGINS": str(ROLES_ROOT / "filter_plugins"),
            # One ControlMaster per controller, in a directory of its own: killing it kills exactly that one.
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.workdir / f"cp-{host}"),
            "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
        })
        return env

    def _start(self, playbook: str, limit: str, roles_root: Path) -> subprocess.Popen[str]:
        argv = ["ansible-playbook", "-i", str(self.workdir / "inventory"), playbook]
        if limit:
            argv += ["--limit", limit]
        env = self._env(limit or "all")
        if roles_root != ROLES_ROOT:
            env.update(ANSIBLE_CONFIG=str(roles_root / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(roles_root / "roles"),
                       ANSIBLE_FILTER_PLUGINS=str(roles_root / "filter_plugins"))
        return subprocess.Popen(argv, cwd=roles_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)

    def playbook(self, playbook: str, limit: str = "", roles_root: Path = ROLES_ROOT) -> Run:
        started = time.monotonic()
        proc = self._start(playbook, limit, roles_root)
        try:
            out, _ = proc.communicate(timeout=PLAYBOOK_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill(proc, limit)
            out, _ = proc.communicate()
            return Run(124, out + f"\n(timed out after {PLAYBOOK_TIMEOUT:.0f}s)", time.monotonic() - started)
        return Run(proc.returncode, out, time.monotonic() - started)

    def site(self, host: str) -> Run:
        return self.playbook(str(ROLES_ROOT / "site.yml"), host)

    def kill(self, proc: subprocess.Popen[str], host: str) -> None:
        """SIGKILL the controller: ansible-playbook's process group and its SSH ControlMaster."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        marker = str(self.workdir / f"cp-{host or 'all'}")
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and cmdline.startswith("ssh"):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def site_killed_at(self, window: Window) -> Run:
        """Run site.yml against the window's host and kill the controller when the host shows the moment."""
        started = time.monotonic()
        watcher = subprocess.Popen(
            ["docker", "exec", self.container(window.host), "sh", "-c",
             f"end=$(($(date +%s)+{int(MOMENT_TIMEOUT)})); "
             # A window that also kills on the host is short (a marker lives for a reload): look every 5 ms.
             f"until {window.moment}; do [ $(date +%s) -ge $end ] && exit 1; "
             f"sleep {0.005 if window.on_host else 0.05}; done; "
             f"{window.on_host or ':'}; echo moment"],
            stdout=subprocess.PIPE, text=True)
        proc = self._start(str(ROLES_ROOT / "site.yml"), window.host, ROLES_ROOT)
        killed = False
        while True:
            if watcher.poll() is not None:
                if watcher.returncode == 0 and proc.poll() is None:
                    self.kill(proc, window.host)
                    killed = True
                break
            if proc.poll() is not None:
                watcher.kill()
                break
            time.sleep(0.02)
        out, _ = proc.communicate()
        watcher.wait()
        return Run(proc.returncode, out, time.monotonic() - started, killed)

    # -- what must hold --------------------------------------------------------------------------------------

    def sh(self, host: str, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", self.container(host), "sh", "-c", command],
                              capture_output=True, text=True, check=False)

    def wait_for_ssh(self, host: str, timeout: float) -> bool:
        """An SSH banner from the custom port within ``timeout`` seconds, over a new connection."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.address(host), SSH_PORT), timeout=2) as sock:
                    sock.settimeout(3)
                    if sock.recv(4).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    def served_problems(self, host: str) -> list[str]:
        """What the host serves over HTTPS (and HTTP) that differs from its declaration in this phase."""
        problems = []
        context = ssl.create_default_context(cafile=str(self.workdir / "pki" / "ca.crt"))
        for site in HOSTS[host].vars[self.phases[host]]["tls_sites"]:
            name, want = site["name"], f"max-age={site['hsts']['max_age']}"
            try:
                status, headers = _get(self.address(host), 443, name, context)
            except (OSError, ssl.SSLError) as exc:
                problems.append(f"https://{name}/ on {host}: {exc}")
                continue
            hsts = headers.get("strict-transport-security", "")
            if status != 200 or not hsts.startswith(want):
                problems.append(f"https://{name}/ on {host}: status {status}, HSTS {hsts!r}, declared {want}")
            try:
                status, headers = _get(self.address(host), 80, name, None)
                if status not in (301, 308) or not headers.get("location", "").startswith(f"https://{name}/"):
                    problems.append(f"http://{name}/ on {host}: status {status}, not the redirect to https")
            except OSError as exc:
                problems.append(f"http://{name}/ on {host}: {exc}")
        return problems

    def left_overs(self, host: str) -> list[str]:
        found = []
        for check in LEFT_OVERS:
            out = self.sh(host, check).stdout.strip()
            if out:
                found.append(out)
        return found

    def reboot(self) -> None:
        """Restart every container (systemd boots again; /run is empty, /etc and /var are kept)."""
        subprocess.run(["docker", "restart", "-t", "5", *(self.container(n) for n in HOSTS)], check=True,
                       capture_output=True)

    def record(self, line: str) -> None:
        self.log.append(line)
        print(line, flush=True)

    def save_log(self) -> Path:
        path = STATE_DIR / f"faults-{self.lab.name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"roles": str(ROLES_ROOT), "debian": self.version, "log": self.log}, indent=1))
        return path


def _get(address: str, port: int, name: str, context: ssl.SSLContext | None) -> tuple[int, dict[str, str]]:
    """One GET / for ``name`` (SNI and Host); the status and the response headers (lower-case names)."""
    with socket.create_connection((address, port), timeout=10) as raw:
        sock = context.wrap_socket(raw, server_hostname=name) if context else raw
        sock.settimeout(10)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    status = int(head[0].split()[1]) if head and len(head[0].split()) > 1 else 0
    headers = {}
    for line in head[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers
