"""Every filter of every role has an ansible-doc sidecar that documents exactly its arguments."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
FILTER_FILES = sorted(ROLES.glob("*/filter_plugins/*.py"))
FILTERS = [(path, name) for path in FILTER_FILES
           for name in importlib.import_module(path.stem).FilterModule().filters()]


@pytest.mark.parametrize(("path", "name"), FILTERS, ids=[name for _path, name in FILTERS])
def test_sidecar_documents_the_signature(path: Path, name: str) -> None:
    func: Any = importlib.import_module(path.stem).FilterModule().filters()[name]
    doc = yaml.safe_load(path.with_name(f"{name}.yml").read_text())
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"} and doc["DOCUMENTATION"]["name"] == name
    parameters = inspect.signature(func).parameters
    options = doc["DOCUMENTATION"]["options"]
    assert set(options) == {"_input", *list(parameters)[1:]}
    for option, spec in options.items():
        if option != "_input" and "default" in spec and parameters[option].default is not None:
            assert spec["default"] == parameters[option].default, option
    assert name in doc["EXAMPLES"]
    assert (ROLES.parent / "filter_plugins" / f"{name}.yml").resolve() == path.with_name(f"{name}.yml").resolve()
