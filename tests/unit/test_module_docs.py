"""Every module of every role documents exactly its argument spec: the options of DOCUMENTATION (what
ansible-doc shows) name the same arguments as the AnsibleModule call, with the same type, default,
choices, elements and required."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

MODULES = sorted((Path(__file__).resolve().parents[2] / "roles").glob("*/library/*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_documentation_matches_its_argument_spec(path: Path) -> None:
    tree = ast.parse(path.read_text())
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
                assert documented[name].get(key) == option[key], f"{path.stem}: {name}.{key}"
