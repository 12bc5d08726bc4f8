"""Every role works when copied alone into another project (with the roles its meta/main.yml declares).

Roles are found generically (roles/*), so a new role is covered without editing this file:
- every role: the copied project holds every filter, module and role it uses (a static check, no lab), and a
  play applying it passes ansible-playbook --syntax-check there;
- every role with a spec, tests/portable/vendoring/<role>.yml (hosts, vars, prepare and check task files):
  the copied project converges a lab host and passes the check. Specs run in their `order`; a role without
  one is reported as skipped, naming what covers it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jinja2.defaults
import pytest
import yaml
from ansible.playbook.block import Block
from ansible.playbook.task import Task
from conftest import REPO, LabHosts, clean_env, run

ROLES_DIR = REPO / "roles"
SPECS_DIR = Path(__file__).resolve().parent / "vendoring"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if path.is_dir())
SPECS = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(SPECS_DIR.glob("*.yml"))}

_JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_FILTER_RE = re.compile(r"(?<!\|)\|\s*([A-Za-z_]\w*)(?![\w.])")
# map('name') names a filter; select/reject('name') name a test (match, search, ...), not counted here.
_HIGHER_ORDER_RE = re.compile(r"\bmap\(\s*['\"]([A-Za-z_]\w*)['\"]")
_STRING_RE = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TASK_KEYWORDS = set(Task.fattributes) | set(Block.fattributes) | {"action", "local_action", "args", "vars"}


def dependencies(role: str, seen: tuple[str, ...] = ()) -> list[str]:
    """``role`` and every role its meta/main.yml declares, transitively, dependencies first."""
    meta = yaml.safe_load((ROLES_DIR / role / "meta" / "main.yml").read_text()) if \
        (ROLES_DIR / role / "meta" / "main.yml").is_file() else {}
    result: list[str] = []
    for entry in (meta or {}).get("dependencies") or []:
        name = entry if isinstance(entry, str) else entry.get("role") or entry.get("name")
        assert name not in seen, f"{role}: dependency cycle through {name}"
        assert (ROLES_DIR / name).is_dir(), f"{role}: meta/main.yml declares {name}, which is not in roles/"
        result += [dep for dep in dependencies(name, (*seen, role)) if dep not in result]
    return result + [role]


def vendor(role: str, project: Path) -> Path:
    """A fresh project with only ``role`` and its declared dependencies under roles/ (no ansible.cfg)."""
    for name in dependencies(role):
        shutil.copytree(ROLES_DIR / name, project / "roles" / name, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def _builtin_filters() -> set[str]:
    names = set(jinja2.defaults.DEFAULT_FILTERS)
    for module in ("core", "mathstuff", "urls", "urlsplit", "encryption"):
        plugin = __import__(f"ansible.plugins.filter.{module}", fromlist=["FilterModule"])
        names |= set(plugin.FilterModule().filters())
    return names


def _project_filters(project: Path) -> set[str]:
    names: set[str] = set()
    for path in project.glob("roles/*/filter_plugins/*.py"):
        names |= set(re.findall(r"['\"](\w+)['\"]\s*:", path.read_text().split("class FilterModule")[-1]))
    return names


def _tasks(data: Any) -> list[dict[str, Any]]:
    """Every task of a task file, blocks opened."""
    found = []
    for item in data or []:
        if isinstance(item, dict):
            found.append(item)
            for key in ("block", "rescue", "always"):
                found += _tasks(item.get(key))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_a_copied_role_holds_everything_it_uses(role: str, tmp_path: Path) -> None:
    project = vendor(role, tmp_path)
    texts = [p.read_text() for p in project.glob("roles/**/*") if p.is_file() and p.suffix in (".yml", ".j2")]
    used_filters = {name for text in texts for expression in _JINJA_RE.findall(text)
                    for name in _FILTER_RE.findall(_STRING_RE.sub("''", expression)) + _HIGHER_ORDER_RE.findall(expression)}
    missing = used_filters - _builtin_filters() - _project_filters(project)
    assert not missing, f"{role} copied alone uses filters it does not carry: {sorted(missing)}"

    modules = {p.stem for p in project.glob("roles/*/library/*.py")}
    roles = {p.name for p in (project / "roles").iterdir()}
    for path in project.glob("roles/*/*/*.yml"):
        if path.parent.name not in ("tasks", "handlers"):
            continue
        for task in _tasks(yaml.safe_load(path.read_text())):
            for key in set(task) - _TASK_KEYWORDS:
                if "." not in key and not key.startswith("with_"):
                    assert key in modules, f"{path.relative_to(project)}: module {key} is in no library/ of the project"
            for key in ("ansible.builtin.import_role", "ansible.builtin.include_role"):
                # A templated name is the caller's (stamps' converge runs the role of the step it is given).
                if key in task and "{{" not in task[key]["name"]:
                    assert task[key]["name"] in roles, f"{path.relative_to(project)}: role {task[key]['name']} missing"

    (project / "play.yml").write_text(f"- hosts: all\n  roles:\n    - role: {role}\n")
    (project / "hosts.yml").write_text("all:\n  hosts:\n    somewhere:\n")
    run(["ansible-playbook", "-i", "hosts.yml", "--syntax-check", "play.yml"],
        project, clean_env())


def _order(role: str) -> tuple[int, str]:
    return (int(SPECS.get(role, {}).get("order", 1000)), role)


def _coverage(role: str) -> str:
    users = [other for other in ROLES if other != role and other in SPECS and role in dependencies(other)]
    if users:
        return f"{role} has no spec of its own; it runs as a dependency of {', '.join(users)}"
    return f"no tests/portable/vendoring/{role}.yml: only the static check above covers {role}"


@pytest.mark.parametrize("role", sorted(ROLES, key=_order))
def test_a_copied_role_converges_a_lab_host(role: str, lab_hosts: LabHosts, tmp_path: Path) -> None:
    if role not in SPECS:
        pytest.skip(_coverage(role))
    spec = SPECS[role]
    project = vendor(role, tmp_path)
    shutil.copytree(SPECS_DIR / "tasks", project / "vendor_checks")
    play: dict[str, Any] = {"name": f"{role}, copied alone", "hosts": spec["hosts"], "gather_facts": True,
                            "vars": spec.get("vars", {}), "roles": [{"role": role}]}
    if spec.get("prepare"):
        play["pre_tasks"] = [{"name": "Prepare", "ansible.builtin.include_tasks": f"vendor_checks/{Path(spec['prepare']).name}"}]
    play["post_tasks"] = [{"name": "Check", "ansible.builtin.include_tasks": f"vendor_checks/{Path(spec['check']).name}"}]
    (project / "site.yml").write_text(json.dumps([play], indent=2) + "\n")
    lab_hosts.write_inventory(project / "hosts.yml")
    run(["ansible-playbook", "-i", "hosts.yml", "site.yml"], project, clean_env())
