"""Every module and filter of every role has documentation that ansible-doc shows, and it says what the code does.

Found generically (roles/*/library/*.py, the filters of roles/*/filter_plugins/*.py), so a new role's plugins
are checked without editing this file:
- ansible-doc renders each one (one ansible-doc call per plugin type, for speed);
- a module's documented options equal its argument_spec (names, types, defaults, choices, required, elements,
  suboptions), captured by running its main() with a stand-in AnsibleModule;
- a filter's documented options equal its Python signature (names, required-ness, defaults), its sidecar has
  DOCUMENTATION, EXAMPLES (using it) and RETURN and is linked from filter_plugins/, and no sidecar documents a
  filter that does not exist.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")

MODULES = sorted(path for path in ROLES.glob("*/library/*.py"))
FILTER_FILES = sorted(path for path in ROLES.glob("*/filter_plugins/*.py"))


def _filters() -> dict[str, Any]:
    found = {}
    for path in FILTER_FILES:
        for name, function in importlib.import_module(path.stem).FilterModule().filters().items():
            assert name not in found, f"filter {name} is defined twice"
            found[name] = function
    return found


FILTERS = _filters()


def _ansible_doc(plugin_type: str, names: list[str]) -> dict[str, Any]:
    env = {**{k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}, "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LIBRARY": ":".join(sorted({str(p.parent) for p in MODULES})),
           "ANSIBLE_FILTER_PLUGINS": ":".join(sorted({str(p.parent) for p in FILTER_FILES}))}
    proc = subprocess.run([str(ANSIBLE_DOC), "-t", plugin_type, "--json", *names], capture_output=True, text=True,
                          env=env, cwd=REPO / "tests", check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def module_docs() -> dict[str, Any]:
    return _ansible_doc("module", [path.stem for path in MODULES])


@pytest.fixture(scope="module")
def filter_docs() -> dict[str, Any]:
    return _ansible_doc("filter", sorted(FILTERS))


class _Captured(Exception):
    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__("argument_spec captured")
        self.spec = spec


class _SpecCatcher:
    def __init__(self, argument_spec: dict[str, Any], **_: Any) -> None:
        raise _Captured(argument_spec)


def _argument_spec(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    module = importlib.import_module(name)
    monkeypatch.setattr(module, "AnsibleModule", _SpecCatcher)
    with pytest.raises(_Captured) as captured:
        module.main()
    return captured.value.spec


def _normalise(options: dict[str, Any], nested: str) -> dict[str, Any]:
    """What an argument spec (``nested="options"``) or its documentation (``"suboptions"``) says of each option."""
    return {name: {"type": option.get("type", "str"), "required": bool(option.get("required", False)),
                   "default": option.get("default"), "choices": option.get("choices"),
                   "elements": option.get("elements"),
                   "options": _normalise(option[nested], nested) if option.get(nested) else None}
            for name, option in options.items()}


# The keys ansible-doc and ansible-test's validate-modules know; anything else is usually a YAML slip, such as
# a flow mapping whose description contains a comma ({description: a, b}) and so grows a key named "b".
OPTION_KEYS = {"description", "type", "required", "default", "choices", "elements", "suboptions", "aliases",
               "version_added", "no_log"}
RETURN_KEYS = {"description", "returned", "type", "elements", "contains", "sample", "version_added"}


def _unknown_keys(entries: dict[str, Any], allowed: set[str], nested: str, where: str = "") -> list[str]:
    unknown = []
    for name, entry in (entries or {}).items():
        unknown += [f"{where}{name}.{key}" for key in set(entry) - allowed]
        unknown += _unknown_keys(entry.get(nested) or {}, allowed, nested, f"{where}{name}.")
    return unknown


def _bad_descriptions(doc: Any, where: str = "") -> list[str]:
    """Descriptions that are not text: a plain YAML scalar with ': ' in it becomes a mapping, which --json
    shows but the text view of ansible-doc (and ansible-test) cannot render."""
    bad = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("description", "short_description"):
                items = value if isinstance(value, list) else [value]
                bad += [f"{where}{key}" for item in items if not isinstance(item, str)]
            else:
                bad += _bad_descriptions(value, f"{where}{key}.")
    elif isinstance(doc, list):
        for item in doc:
            bad += _bad_descriptions(item, where)
    return bad


def test_every_role_plugin_is_found() -> None:
    assert {"tls_inspect", "tls_public_keys", "config_apply", "bulwark_firewalld"} <= {p.stem for p in MODULES}
    assert {"tlsa_record", "tls_site_model", "zone_fragments", "tls_key_set"} <= set(FILTERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_documentation_renders_and_matches_the_argument_spec(
        path: Path, module_docs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    entry = module_docs.get(path.stem)
    assert entry and entry.get("doc"), f"ansible-doc shows nothing for module {path.stem}"
    doc = entry["doc"]
    assert doc.get("short_description") and doc.get("description")
    assert yaml.safe_load(entry.get("examples") or "") is not None, "EXAMPLES is empty or not YAML"
    assert entry.get("return") is not None, "RETURN is missing"
    assert _unknown_keys(doc.get("options") or {}, OPTION_KEYS, "suboptions") == []
    assert _unknown_keys(entry["return"] or {}, RETURN_KEYS, "contains") == []
    assert _bad_descriptions(doc) + _bad_descriptions(entry["return"]) == []
    assert _normalise(doc.get("options") or {}, "suboptions") == \
        _normalise(_argument_spec(path.stem, monkeypatch), "options")


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_documentation_renders_and_matches_the_signature(name: str, filter_docs: dict[str, Any]) -> None:
    entry = filter_docs.get(name)
    assert entry and entry.get("doc"), f"ansible-doc shows nothing for filter {name} (a {name}.yml sidecar)"
    doc = entry["doc"]
    assert doc.get("short_description") and doc.get("description")
    assert entry.get("examples"), "EXAMPLES is missing"
    assert _unknown_keys(doc.get("options") or {}, OPTION_KEYS, "suboptions") == []
    assert _bad_descriptions(doc) + _bad_descriptions(entry.get("return")) == []
    assert name in entry["examples"], "EXAMPLES does not use the filter"
    sidecar = next(ROLES.glob(f"*/filter_plugins/{name}.yml"))
    assert set(yaml.safe_load(sidecar.read_text())) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert (REPO / "filter_plugins" / f"{name}.yml").resolve() == sidecar.resolve(), \
        f"filter_plugins/{name}.yml does not link to {sidecar.relative_to(REPO)}"
    options = dict(doc.get("options") or {})
    assert "_input" in options, "the input of the filter is not documented (_input)"
    del options["_input"]
    parameters = list(inspect.signature(FILTERS[name]).parameters.values())[1:]
    assert sorted(options) == sorted(p.name for p in parameters), "documented options differ from the signature"
    for parameter in parameters:
        option = options[parameter.name]
        has_default = parameter.default is not inspect.Parameter.empty
        # A None default the filter refuses may be documented as required.
        refused_none = parameter.default is None and bool(option.get("required"))
        assert bool(option.get("required")) == (not has_default) or refused_none, f"{parameter.name}: required differs"
        if has_default and parameter.default not in (None, ()) and "default" in option:
            assert option["default"] == parameter.default, f"{parameter.name}: default differs"


def test_no_sidecar_documents_a_filter_that_does_not_exist() -> None:
    for path in ROLES.glob("*/filter_plugins/*.yml"):
        name = yaml.safe_load(path.read_text())["DOCUMENTATION"]["name"]
        assert name == path.stem and name in FILTERS, f"{path.relative_to(REPO)} documents {name}"
