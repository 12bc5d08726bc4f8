"""Lab hosts: systemd containers on a private Docker network with fixed addresses, reached over SSH.

`up` is idempotent (running hosts with the current image are kept), `down` removes exactly the
containers and the network labelled with the lab's name.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field

from . import ROOT, STATE_DIR
from .errors import StepError
from .images import image_name
from .shell import run, say

LABEL = "bulwark.lab"
SSH_KEY = STATE_DIR / "ssh" / "id_ed25519"
# systemd as PID 1 without --privileged (one capability is not grantable here): see docs/lab.md.
SYSTEMD_RUN_OPTIONS = (
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
)
BOOT_TIMEOUT = 90.0


@dataclass(frozen=True)
class Host:
    name: str
    kind: str  # "target" (Debian base image) or "scanner"
    octet: int


@dataclass(frozen=True)
class Lab:
    name: str
    subnet_index: int  # 172.30.<index>.0/24 and fd42:b0:<index>::/64
    hosts: tuple[Host, ...] = field(default_factory=tuple)

    @property
    def network(self) -> str:
        return f"bulwark-{self.name}"

    def ipv4(self, host: Host) -> str:
        return f"172.30.{self.subnet_index}.{host.octet}"

    def ipv6(self, host: Host) -> str:
        return f"fd42:b0:{self.subnet_index}::{host.octet}"

    def container(self, host: Host) -> str:
        return f"bulwark-{self.name}-{host.name}"


# The built-in lab that `./bulwark site` converges; inventories/lab/hosts.yml names the same addresses.
MAIN_LAB = Lab("lab", 80, (
    Host("web-nginx", "target", 11),
    Host("web-apache", "target", 12),
    Host("ns", "target", 13),
    Host("ns-parent", "target", 14),
    Host("mx", "target", 15),
    Host("scanner", "scanner", 20),
    Host("ca", "scanner", 21),
))


def molecule_lab_name() -> tuple[str, int]:
    """Name and subnet of the molecule lab; BULWARK_LAB_SLOT=N (1-9) runs a second one beside it."""
    slot = os.environ.get("BULWARK_LAB_SLOT", "0")
    if not slot.isdigit() or not 0 <= int(slot) <= 9:
        raise StepError("molecule-lab", f"BULWARK_LAB_SLOT must be a digit 0-9, got {slot!r}")
    return ("molecule" if slot == "0" else f"molecule{slot}"), 81 + int(slot)


def molecule_lab(platforms: list[dict[str, str]]) -> Lab:
    """A lab for one molecule scenario: targets from .11 up, scanners from .20 up, in platform order."""
    hosts, next_target, next_scanner = [], 11, 20
    for platform in platforms:
        kind = platform.get("kind", "target")
        if kind not in ("target", "scanner"):
            raise StepError("molecule-platforms", f"platform {platform['name']}: kind must be target or scanner, "
                                                  f"got {kind!r}")
        if kind == "scanner":
            hosts.append(Host(platform["name"], kind, next_scanner))
            next_scanner += 1
        else:
            hosts.append(Host(platform["name"], kind, next_target))
            next_target += 1
    name, subnet_index = molecule_lab_name()
    return Lab(name, subnet_index, tuple(hosts))


def ensure_ssh_key() -> None:
    if SSH_KEY.exists():
        return
    SSH_KEY.parent.mkdir(parents=True, exist_ok=True)
    run("lab-ssh-key", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bulwark-lab", "-f", str(SSH_KEY)])


def _docker(step: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(step, ["docker", *args], check=check)


def _inspect(container: str) -> dict | None:
    proc = _docker("lab-inspect", "container", "inspect", container, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def _image_id(image: str) -> str:
    proc = _docker(f"lab image {image}", "image", "inspect", "--format", "{{.Id}}", image, check=False)
    if proc.returncode != 0:
        raise StepError(f"lab image {image}", "image not built (run `./bulwark images`)")
    return proc.stdout.strip()


def _ensure_network(lab: Lab) -> None:
    if _docker("lab-network", "network", "inspect", lab.network, check=False).returncode == 0:
        return
    _docker("lab-network", "network", "create", "--label", f"{LABEL}={lab.name}", "--ipv6",
            "--subnet", f"172.30.{lab.subnet_index}.0/24", "--subnet", f"fd42:b0:{lab.subnet_index}::/64",
            lab.network)


def _start_host(lab: Lab, host: Host, image: str) -> bool:
    """Start the host's container unless it already runs the current image. True when it was (re)made."""
    container = lab.container(host)
    current = _inspect(container)
    if current and current["State"]["Running"] and current["Image"] == _image_id(image):
        return False
    if current:
        _docker("lab-host", "rm", "-f", container)
    say(f"starting {container} ({image}) at {lab.ipv4(host)}")
    _docker(f"lab host {host.name}", "run", "-d", "--name", container, "--hostname", host.name,
            "--network", lab.network, "--ip", lab.ipv4(host), "--ip6", lab.ipv6(host),
            "--label", f"{LABEL}={lab.name}", *SYSTEMD_RUN_OPTIONS, image, "/lib/systemd/systemd")
    return True


def _authorize_key(lab: Lab, host: Host) -> None:
    pub = SSH_KEY.with_suffix(".pub").read_text()
    run(f"lab host {host.name}", ["docker", "exec", "-i", lab.container(host), "sh", "-c",
                                  "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"],
        input_text=pub)


def _wait_for_ssh(lab: Lab, host: Host) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((lab.ipv4(host), 22), timeout=2) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise StepError(f"lab host {host.name}", f"no SSH banner from {lab.ipv4(host)}:22 after {BOOT_TIMEOUT:.0f}s "
                                             f"(`docker logs {lab.container(host)}`)")


def up(lab: Lab, version: str) -> list[dict[str, object]]:
    """Start every host of ``lab``; return molecule-style instance configs (address, user, port, key)."""
    ensure_ssh_key()
    _ensure_network(lab)
    for host in lab.hosts:
        _start_host(lab, host, image_name(version, host.kind))
    for host in lab.hosts:
        _authorize_key(lab, host)
        _wait_for_ssh(lab, host)
    return [
        {"instance": host.name, "address": lab.ipv4(host), "address6": lab.ipv6(host), "user": "root",
         "port": 22, "identity_file": str(SSH_KEY), "container": lab.container(host)}
        for host in lab.hosts
    ]


def down(lab_name: str) -> None:
    """Remove the containers and the network labelled with ``lab_name``, and nothing else."""
    label = f"label={LABEL}={lab_name}"
    ids = _docker("lab-down", "ps", "-aq", "--filter", label).stdout.split()
    if ids:
        _docker("lab-down", "rm", "-f", "-v", *ids)
    nets = _docker("lab-down", "network", "ls", "-q", "--filter", label).stdout.split()
    if nets:
        _docker("lab-down", "network", "rm", *nets)


def status(lab_name: str) -> str:
    return _docker("lab-status", "ps", "-a", "--filter", f"label={LABEL}={lab_name}",
                   "--format", "{{.Names}}\t{{.Status}}\t{{.Image}}").stdout


def relative_key_path() -> str:
    return str(SSH_KEY.relative_to(ROOT))
