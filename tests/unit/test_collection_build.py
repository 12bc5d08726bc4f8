"""Unit tests for bulwark_lab/collection.py: staging the roles as the collection bulwark.hardening."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bulwark_lab import collection

REPO = Path(__file__).resolve().parents[2]


def test_filter_uses_get_the_full_name_and_nothing_else_does() -> None:
    text = ("x: \"{{ a | tls_key_set | zone_fragments(z) | tls_key_sets }}\"\n"
            "y: \"{{ b |tlsa_record('w') }} {{ c | map('tlsa_record') | default(d.tlsa_record) }}\"\n"
            "z: \"{{ e | bulwark.hardening.tls_key_set }} tls_key_set\"\n")
    assert collection.qualify_filters(text, ["tls_key_set", "zone_fragments", "tlsa_record"]) == (
        "x: \"{{ a | bulwark.hardening.tls_key_set | bulwark.hardening.zone_fragments(z) | tls_key_sets }}\"\n"
        "y: \"{{ b |bulwark.hardening.tlsa_record('w') }} {{ c | map('bulwark.hardening.tlsa_record') "
        "| default(d.tlsa_record) }}\"\n"
        "z: \"{{ e | bulwark.hardening.tls_key_set }} tls_key_set\"\n")


def test_playbook_roles_get_the_full_name() -> None:
    text = "  roles:\n    - role: nginx_tls\n    - role: nginx_tls_extra\n    - role: other.ns.nginx_tls\n"
    assert collection.qualify_roles(text, ["nginx_tls"]) == (
        "  roles:\n    - role: bulwark.hardening.nginx_tls\n    - role: nginx_tls_extra\n"
        "    - role: other.ns.nginx_tls\n")


def test_module_defaults_and_task_keys_get_the_full_name() -> None:
    text = ("  module_defaults:\n    bulwark_firewalld:\n      zone: public\n"
            "- name: Plan\n  bulwark_firewalld:\n    stage: plan\n- bulwark_firewalld_extra:\n"
            "  msg: bulwark_firewalld:\n")
    assert collection.qualify_module_defaults(text, ["bulwark_firewalld"]) == (
        "  module_defaults:\n    bulwark.hardening.bulwark_firewalld:\n      zone: public\n"
        "- name: Plan\n  bulwark.hardening.bulwark_firewalld:\n    stage: plan\n- bulwark_firewalld_extra:\n"
        "  msg: bulwark_firewalld:\n")


def test_filter_names_are_read_without_importing(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_text("import not_installed\nclass FilterModule:\n    def filters(self):\n"
                    "        return {'one': one, \"two\": two}\n")
    assert collection.filter_names(path) == ["one", "two"]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collection.stage(REPO, tmp_path_factory.mktemp("stage"))


def test_every_role_is_staged_and_its_plugins_move_to_plugins(staged: Path) -> None:
    roles = sorted(path.name for path in (REPO / "roles").iterdir() if path.is_dir())
    assert sorted(path.name for path in (staged / "roles").iterdir()) == roles
    for source, plugin_type in collection.PLUGIN_DIRS.items():
        assert not list((staged / "roles").glob(f"*/{source}"))
        for path in (REPO / "roles").glob(f"*/{source}/*"):
            if path.is_file() and path.parent.name != "__pycache__":
                assert (staged / "plugins" / plugin_type / path.name).read_bytes() == path.read_bytes()


def test_staged_roles_and_playbooks_use_filters_by_full_name(staged: Path) -> None:
    assert "| bulwark.hardening.tls_site_model(" in (staged / "roles/tls_common/vars/main.yml").read_text()
    assert "| bulwark.hardening.tls_site_certificates(" in (staged / "roles/tls_common/tasks/look.yml").read_text()
    assert "name: bulwark.hardening.stamps" in (staged / "playbooks/web.yml").read_text()
    assert "import_playbook: web.yml" in (staged / "playbooks/site.yml").read_text()


def test_every_module_gets_the_license_ignore_and_the_metadata_is_there(staged: Path) -> None:
    ignores = (staged / "tests/sanity" / f"ignore-{collection.ansible_core_series()}.txt").read_text().splitlines()
    modules = sorted(path.name for path in (REPO / "roles").glob("*/library/*.py"))
    license_lines = [line.split()[0] for line in ignores if collection.LICENSE_IGNORE in line]
    assert license_lines == [f"plugins/modules/{name}" for name in modules]
    assert all(" # " in line for line in ignores), "every ignore entry says why"
    kept = (REPO / "collection/tests/sanity" / f"ignore-{collection.ansible_core_series()}.txt").read_text()
    assert set(kept.splitlines()) <= set(ignores), "the repository's own entries are kept"
    galaxy = yaml.safe_load((staged / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("bulwark", "hardening")
    assert yaml.safe_load((staged / "meta/runtime.yml").read_text())["requires_ansible"].startswith(">=")


def test_the_execution_environment_pins_what_the_suite_tests() -> None:
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    deps = ee["dependencies"]
    assert ee["version"] == 3
    assert [deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"], *deps["python"]] == \
        collection.pinned(("ansible-core", "ansible-runner", *collection.CONTROLLER_PACKAGES[1:]))
    tarball = f"bulwark-hardening-{collection.version()}.tar.gz"
    assert deps["galaxy"]["collections"][0]["name"].endswith("/" + tarball)
    assert ee["additional_build_files"][0]["src"] == f"build/dist/{tarball}"
