"""The collection bulwark.hardening as a user gets it: built, installed into a fresh venv, used by full names.

Plugins and roles are found generically (in the built collection and in roles/*), so new ones are covered
without editing this file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, VENV_BIN, LabHosts, clean_env, run

from bulwark_lab import collection

CHECKS_DIR = Path(__file__).resolve().parent / "vendoring" / "tasks"
SITE = {"name": "www.vendor.test", "root": "/var/www/html",
        "certificates": [{"cert": "/etc/ssl/vendor/www.crt", "key": "/etc/ssl/vendor/www.key",
                          "chain": "/etc/ssl/vendor/www.crt"}]}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collection.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, tarball: Path) -> Path:
    """A fresh venv (ansible-core, cryptography) with the collection installed into its own collections path."""
    return collection.make_venv(tmp_path_factory.mktemp("venv") / "venv", tarball).parent.parent


@pytest.fixture(scope="module")
def installed(venv: Path) -> Path:
    found = list(venv.glob("lib/python*/site-packages/ansible_collections/bulwark/hardening"))
    assert len(found) == 1, f"the collection is not in {venv}'s site-packages"
    return found[0]


def user_env(venv: Path) -> dict[str, str]:
    """A user's shell with the fresh venv first on PATH (not the repository's .venv) and no Bulwark settings."""
    env = clean_env()
    env["PATH"] = ":".join([str(venv / "bin")] + [part for part in env["PATH"].split(":") if part != str(VENV_BIN)])
    return env


def test_the_tarball_carries_the_version(tarball: Path) -> None:
    assert tarball.name == f"bulwark-hardening-{collection.version()}.tar.gz"


def test_every_role_and_plugin_of_the_repository_is_in_the_collection(installed: Path) -> None:
    roles = {path.name for path in (REPO / "roles").iterdir() if path.is_dir()}
    assert {path.name for path in (installed / "roles").iterdir()} == roles
    for source, plugin_type in collection.PLUGIN_DIRS.items():
        wanted = {path.name for path in (REPO / "roles").glob(f"*/{source}/*") if path.is_file()}
        assert {path.name for path in (installed / "plugins" / plugin_type).glob("*") if path.is_file()} >= wanted
    for source in collection.PLUGIN_DIRS:
        assert not list((installed / "roles").glob(f"*/{source}")), f"a role kept its {source}/ in the collection"


def test_ansible_doc_shows_every_module_and_filter_by_full_name(installed: Path, venv: Path, tmp_path: Path) -> None:
    modules = sorted(path.stem for path in (installed / "plugins" / "modules").glob("*.py"))
    filters = sorted(name for path in (installed / "plugins" / "filter").glob("*.py")
                     for name in collection.filter_names(path))
    assert modules and filters
    for plugin_type, names in (("module", modules), ("filter", filters)):
        fqcns = [f"{collection.FQCN}.{name}" for name in names]
        shown = json.loads(run([venv / "bin" / "ansible-doc", "-t", plugin_type, "--json", *fqcns], tmp_path,
                               user_env(venv)).stdout)
        for fqcn in fqcns:
            assert shown.get(fqcn, {}).get("doc", {}).get("short_description"), f"ansible-doc shows nothing for {fqcn}"
        # The text view too: it renders every description (the JSON view passes some mistakes through).
        run([venv / "bin" / "ansible-doc", "-t", plugin_type, *fqcns], tmp_path, user_env(venv))


def test_the_whole_site_is_a_playbook_of_the_collection(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    somewhere:\n")
    run([venv / "bin" / "ansible-playbook", "-i", "hosts.yml", "--syntax-check", f"{collection.FQCN}.site"],
        tmp_path, user_env(venv))


def _copy_checks(project: Path) -> None:
    shutil.copytree(CHECKS_DIR, project / "checks")


# The web hosts, the role of the collection that serves each, and its site (a self-signed certificate).
WEB = {"web-nginx": ("nginx_tls", "www.vendor.test"), "web-apache": ("apache_tls", "app.vendor.test")}


def _web_play(host: str, role: str, name: str) -> dict[str, Any]:
    site = {**SITE, "name": name, "hsts": {"max_age": 86400}}
    return {"name": f"HTTPS with {collection.FQCN}.{role}", "hosts": host, "gather_facts": True,
            "vars": {"tls_sites": [site], "__vendor_hsts_max_age": 86400},
            "pre_tasks": [{"name": "Prepare", "ansible.builtin.include_tasks": "checks/self_signed_site.yml"}],
            "roles": [{"role": f"{collection.FQCN}.{role}"}],
            "post_tasks": [{"name": "Check", "ansible.builtin.include_tasks": "checks/https_request.yml"}]}


# After dns_records: the fragment holds what tlsa_record computes from each served certificate, and the other
# user-facing filters answer by their full names.
_FILTER_CHECKS = [
    {"name": "Read the served certificates", "ansible.builtin.slurp": {"src": "/etc/ssl/vendor/www.crt"},
     "delegate_to": "{{ item }}", "loop": list(WEB), "register": "served"},
    {"name": "Read the fragment", "ansible.builtin.slurp": {"src": "/var/lib/bulwark/dns/vendor.test.records"},
     "register": "fragment"},
    {"name": "Every site's TLSA record, as tlsa_record computes it, is in the fragment",
     "ansible.builtin.assert": {"that": "(item.content | b64decode | bulwark.hardening.tlsa_record("
                                        "site_of_host[item.item], ttl=3600)) in (fragment.content | b64decode)"},
     "loop": "{{ served.results }}", "loop_control": {"label": "{{ item.item }}"}},
    {"name": "caa_records, hpkp_pin, hpkp_header and tls_pem_bundle by their full names",
     "ansible.builtin.assert": {"that": [
         "'vendor.test' | bulwark.hardening.caa_records(issue=[]) == ['vendor.test. IN CAA 0 issue \";\"']",
         "(served.results | map(attribute='content') | map('b64decode') | map('bulwark.hardening.hpkp_pin') | list"
         " | bulwark.hardening.hpkp_header(max_age=60)) is match('pin-sha256=\"[^\"]{44}\"; pin-sha256=')",
         "(served.results | map(attribute='content') | map('b64decode') | bulwark.hardening.tls_pem_bundle)"
         " .count('BEGIN CERTIFICATE') == 2"]}},
]


def test_a_playbook_outside_the_repository_converges_by_full_names(venv: Path, lab_hosts: LabHosts,
                                                                  tmp_path: Path) -> None:
    assert REPO not in tmp_path.parents
    _copy_checks(tmp_path)
    plays: list[dict[str, Any]] = [_web_play(host, role, name) for host, (role, name) in WEB.items()]
    plays.append({"name": f"TLSA from what the web roles published, with {collection.FQCN}.dns_records",
                  "hosts": "ns", "gather_facts": False,
                  "vars": {"dns_records_zones": ["vendor.test"], "dns_records_tls_hosts": list(WEB),
                           "site_of_host": {host: name for host, (_role, name) in WEB.items()}},
                  "roles": [{"role": f"{collection.FQCN}.dns_records"}], "post_tasks": _FILTER_CHECKS})
    (tmp_path / "site.yml").write_text(json.dumps(plays, indent=2) + "\n")
    lab_hosts.write_inventory(tmp_path / "hosts.yml")
    run([venv / "bin" / "ansible-playbook", "-i", "hosts.yml", "site.yml"], tmp_path, user_env(venv))


def test_ansible_runner_converges_a_host_from_a_private_data_dir(tarball: Path, lab_hosts: LabHosts,
                                                                  tmp_path: Path) -> None:
    # The layout AWX uses: project/ with the playbook, the project's collections next to it, inventory/.
    project = tmp_path / "project"
    project.mkdir()
    run([VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", project / "collections", tarball],
        tmp_path, clean_env())
    plays = [{"name": "Firewall by the collection, run by ansible-runner", "hosts": "ns", "gather_facts": True,
              "roles": [{"role": "bulwark.hardening.firewalld", "vars": {"firewalld_ports": ["22/tcp", "53/tcp"]}}],
              "post_tasks": [{"name": "SSH still answers", "ansible.builtin.wait_for": {
                  "host": "{{ ansible_host }}", "port": 22, "timeout": 10}, "delegate_to": "localhost"}]}]
    (project / "site.yml").write_text(json.dumps(plays, indent=2) + "\n")
    (tmp_path / "inventory").mkdir()
    lab_hosts.write_inventory(tmp_path / "inventory" / "hosts.yml")
    proc = run([VENV_BIN / "ansible-runner", "run", tmp_path, "-p", "site.yml", "--ident", "converge"], tmp_path,
               clean_env())
    assert (tmp_path / "artifacts" / "converge" / "status").read_text().strip() == "successful"
    recap = re.search(r"ns\s*:\s*ok=\d+\s+changed=(\d+).*failed=(\d+)", proc.stdout)
    assert recap and recap.group(2) == "0", proc.stdout[-3000:]


def test_ansible_test_sanity_passes(venv: Path, tmp_path: Path) -> None:
    assert REPO not in tmp_path.parents  # inside a git checkout ansible-test would only see tracked files
    rc, tests, output = collection.sanity(venv / "bin" / "python", tmp_path)
    print(f"ansible-test sanity ran {len(tests)} tests: {', '.join(tests)}")
    assert {"validate-modules", "ansible-doc", "import", "pylint", "yamllint", "compile", "pep8"} <= set(tests)
    assert rc == 0, "\n".join(line for line in output.splitlines() if line.startswith(("ERROR", "FATAL")))[-6000:]
