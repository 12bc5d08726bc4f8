"""The firewalld module's documentation agrees with its argument spec (the role-level checks that
defaults and argument_specs agree are in test_role_interfaces.py, for every role)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "firewalld"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_module_documentation_matches_its_argument_spec() -> None:
    source = (ROLE / "library" / "bulwark_firewalld.py").read_text()
    tree = ast.parse(source)
    docs = next(node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION")
    documented = yaml.safe_load(docs)["options"]
    spec_call = next(node for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "AnsibleModule")
    spec = ast.literal_eval(spec_call.keywords[0].value)
    assert set(documented) == set(spec)
    for name, option in spec.items():
        for key in ("type", "default", "choices", "elements", "required"):
            if key in option:
                assert documented[name].get(key) == option[key], f"{name}.{key}"
