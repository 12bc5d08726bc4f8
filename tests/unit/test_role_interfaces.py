"""Every role's declared interface agrees with itself: defaults/main.yml and meta/argument_specs.yml
name the same variables with the same defaults, public names carry the role's prefix, and internal
variables (vars/) carry a double underscore."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE_DIRS = sorted(p for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").exists())
# tls_common holds the variables both web roles share, so their prefix is the shared one.
# acme_certificates uses the short acme_ prefix its interface was specified with (acme_directory, acme_renew_days).
PUBLIC_PREFIX = {"tls_common": "tls_", "acme_certificates": "acme_"}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def test_every_role_has_an_argument_spec() -> None:
    assert {p.name for p in ROLE_DIRS} == {p.name for p in ROLES.iterdir() if p.is_dir()}


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_argument_specs_and_defaults_agree(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml")
    options = _load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"].get("options", {})
    assert sorted(defaults) == sorted(options), "defaults/main.yml and argument_specs name different variables"
    for name, option in options.items():
        assert option.get("default") == defaults[name], f"{role.name}: {name} has two different defaults"
        assert option.get("description"), f"{role.name}: {name} is not documented in argument_specs"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_public_variables_carry_the_role_prefix(role: Path) -> None:
    prefix = PUBLIC_PREFIX.get(role.name, role.name + "_")
    for name in _load(role / "defaults" / "main.yml"):
        assert name.startswith(prefix), f"{role.name}: {name} does not start with {prefix}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_internal_variables_start_with_a_double_underscore(role: Path) -> None:
    for path in (role / "vars").glob("*.yml"):
        for name in _load(path):
            assert name.startswith("__"), f"{role.name}/vars/{path.name}: {name}"
