"""The kill windows of the fault-injection test, and the hosts they are tried on.

A window is a moment, read from the target's own state, at which the controller dies: the test runs site.yml
against one host, waits until the host shows the moment, then SIGKILLs ansible-playbook's process group and its
SSH ControlMaster. It then checks what must hold after any kill (tests/faults/test_kill_windows.py): SSH on the
custom port answers right away, one repair run makes the served configuration the declared one, a second run
changes nothing, nothing of ours is left over, and all of that survives a reboot.

Adding a daemon role's window (docs/reliability.md): give it a host in HOSTS (its inventory groups, what it
declares in each phase, and a check of what it serves), then a Window line naming the moment as a shell test on
the host. "fresh" windows run on a new host (packages being installed), "change" windows on a converged host
whose declaration changes (phase "change" of its vars), "revert" windows when it changes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SSH_PORT = 2222
# The declaration that changes between the phases, so that "on disk but not loaded" is visible from outside.
HSTS_BEFORE, HSTS_AFTER = 63072000, 31536000


@dataclass(frozen=True)
class Window:
    name: str
    host: str
    phase: str  # "fresh", "change" or "revert"
    moment: str  # POSIX shell condition on the host; true once the moment has come
    # Run on the host by the watcher the moment it sees it, just before the controller is killed: for what a dead
    # controller alone does not do, such as the module call dying too (an OOM kill, an sshd that ends the
    # session's processes).
    on_host: str = ""


def _kill_apply(service: str) -> str:
    """Shell: SIGKILL the config_apply call for ``service`` (its lock file names the process holding it)."""
    return f"kill -9 $(cat /var/lib/bulwark/apply/{service}.lock)"


@dataclass(frozen=True)
class LabHost:
    octet: int
    groups: tuple[str, ...]
    # Host variables per phase; "fresh" is also what the host carries before its first run.
    vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    certificates: tuple[dict[str, Any], ...] = ()


def _sites(server: str, names: list[str], hsts: int) -> list[dict[str, Any]]:
    return [{"name": name,
             "certificates": [{"cert": f"/etc/ssl/bulwark-lab/{name}.crt", "key": f"/etc/ssl/bulwark-lab/{name}.key",
                               "chain": f"/etc/ssl/bulwark-lab/{name}.chain.crt"}],
             "root": "/var/www/html", "hsts": {"max_age": hsts}} for name in names]


def _web_host(octet: int, group: str, server: str, first: str, added: str) -> LabHost:
    return LabHost(
        octet, (group, "web_servers", "firewalld_servers"),
        vars={"fresh": {"tls_sites": _sites(server, [first], HSTS_BEFORE)},
              # A changed header and a new site: both must be served after the repair run.
              "change": {"tls_sites": _sites(server, [first, added], HSTS_AFTER)},
              # And back, to kill the module on the host in the middle of its apply.
              "revert": {"tls_sites": _sites(server, [first], HSTS_BEFORE)}},
        certificates=tuple({"name": name, "names": [name], "key_type": "ecdsa", "ocsp": False}
                           for name in (first, added)),
    )


HOSTS: dict[str, LabHost] = {
    "web-nginx": _web_host(11, "nginx_servers", "nginx", "www.lab.test", "static.lab.test"),
    "web-apache": _web_host(12, "apache_servers", "apache", "app.lab.test", "shop.lab.test"),
}

# dpkg's status of firewalld while apt installs it: "half-installed"/"unpacked" while unpacking, "half-configured"
# while its maintainer script runs (apt unpacks everything first, then configures).
_FIREWALLD_STATUS = "dpkg-query -W -f='${Status}\\n' firewalld python3-firewall 2>/dev/null"
WINDOWS: tuple[Window, ...] = (
    Window("firewalld: dpkg unpacking firewalld", "web-nginx", "fresh",
           f"{_FIREWALLD_STATUS} | grep -Eq 'half-installed|unpacked'"),
    Window("firewalld: dpkg configuring firewalld", "web-apache", "fresh",
           f"{_FIREWALLD_STATUS} | grep -q 'half-configured'"),
    Window("nginx_tls: config on disk changed, not yet loaded", "web-nginx", "change",
           f"grep -rqs 'max-age={HSTS_AFTER}' /etc/nginx/"),
    Window("apache_tls: config on disk changed, not yet loaded", "web-apache", "change",
           f"grep -rqs 'max-age={HSTS_AFTER}' /etc/apache2/"),
    # The module dies too, between its journal and the reload: the marker and the journal must do their work.
    Window("nginx_tls: apply under way, module killed on the host too", "web-nginx", "revert",
           "test -e /var/lib/bulwark/apply/nginx.json", _kill_apply("nginx")),
    Window("apache_tls: apply under way, module killed on the host too", "web-apache", "revert",
           "test -e /var/lib/bulwark/apply/apache2.json", _kill_apply("apache2")),
)

# Group variables of the lab: SSH only on the custom port, as the CentOS guide sets it up.
GROUP_VARS: dict[str, dict[str, Any]] = {
    "firewalld_servers": {"firewalld_ports": [f"{SSH_PORT}/tcp", "80/tcp", "443/tcp"]},
}

# Shell tests that must all print nothing after a repair run: what an interrupted run of ours could leave.
LEFT_OVERS = (
    "test -e /usr/sbin/policy-rc.d && echo /usr/sbin/policy-rc.d",
    "dpkg --audit",
    "ls /var/lib/bulwark/apply/*.json /var/lib/bulwark/apply/*.saved 2>/dev/null",
    "find /etc /var/lib/bulwark /run -name '.bulwark-*.tmp' 2>/dev/null",
    "ls /run/bulwark/firewalld-start /run/bulwark-firewalld-rollback.sh 2>/dev/null",
    "systemctl is-active --quiet bulwark-firewalld-rollback.timer && echo rollback timer armed",
)
