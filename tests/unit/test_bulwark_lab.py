"""Unit tests of the lab's pure parts: addresses, slots, image recipes, the suite's plan."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from bulwark_lab import engine, images, lab, suite
from bulwark_lab.errors import StepError


def test_molecule_platforms_get_fixed_addresses_by_kind_and_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BULWARK_LAB_SLOT", raising=False)
    molecule = lab.molecule_lab([{"name": "a"}, {"name": "s", "kind": "scanner"}, {"name": "b"}])
    assert molecule.name == "molecule"
    assert [(h.name, molecule.ipv4(h), molecule.ipv6(h)) for h in molecule.hosts] == [
        ("a", "172.30.81.11", "fd42:b0:81::11"),
        ("s", "172.30.81.20", "fd42:b0:81::20"),
        ("b", "172.30.81.12", "fd42:b0:81::12"),
    ]
    assert molecule.container(molecule.hosts[0]) == "bulwark-molecule-a"


def test_a_slot_moves_the_molecule_lab_to_its_own_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULWARK_LAB_SLOT", "3")
    molecule = lab.molecule_lab([{"name": "a"}])
    assert (molecule.name, molecule.network, molecule.ipv4(molecule.hosts[0])) == (
        "molecule3", "bulwark-molecule3", "172.30.84.11")


@pytest.mark.parametrize("slot", ["10", "x", "-1"])
def test_a_bad_slot_is_named(monkeypatch: pytest.MonkeyPatch, slot: str) -> None:
    monkeypatch.setenv("BULWARK_LAB_SLOT", slot)
    with pytest.raises(StepError, match=f"BULWARK_LAB_SLOT.*{slot!r}"):
        lab.molecule_lab_name()


def test_a_bad_platform_kind_is_named() -> None:
    with pytest.raises(StepError, match="platform p: kind must be target or scanner, got 'vm'"):
        lab.molecule_lab([{"name": "p", "kind": "vm"}])


def test_main_lab_matches_the_lab_inventory() -> None:
    inventory = (Path(lab.ROOT) / "inventories" / "lab" / "hosts.yml").read_text()
    for host in lab.MAIN_LAB.hosts:
        assert f"{host.name}:\n              ansible_host: {lab.MAIN_LAB.ipv4(host)}" in inventory


def test_image_recipes_are_stable_and_change_with_their_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert images.base_image("13").digest == images.base_image("13").digest
    assert images.base_image("13").digest != images.base_image("12").digest
    monkeypatch.setattr(images, "BASE_PACKAGES", images.BASE_PACKAGES + ("vim",))
    assert images.base_image("13").digest != images.Image("x", "").digest
    changed = images.base_image("13").digest
    monkeypatch.undo()
    assert changed != images.base_image("13").digest


def test_suite_runs_lint_then_unit_then_scenarios_with_the_whole_site_last() -> None:
    names = [step.name for step in suite.plan(None, lint=True, unit=True, debian12=True)]
    assert names[:5] == ["yamllint", "ansible-lint", "pytest unit", "pytest faults (Debian 13)",
                         "portable: vendored roles and the collection (Debian 13)"]
    assert names[-1] == "molecule default (Debian 13)"
    for scenario in suite.DEBIAN12_SCENARIOS:
        assert f"molecule {scenario} (Debian 12)" in names


def test_suite_can_run_a_single_scenario_without_lint() -> None:
    steps = suite.plan(["firewalld"], lint=False, unit=False, debian12=False)
    assert [(s.name, s.extra_env, s.lab) for s in steps] == [
        ("molecule firewalld (Debian 13)", {"BULWARK_DEBIAN": "13"}, True)]


def test_the_fault_injection_suite_runs_alone_by_its_name() -> None:
    steps = suite.plan(["faults"], lint=False, unit=False, debian12=True)
    assert [(s.name, s.lab) for s in steps] == [("pytest faults (Debian 13)", True)]
    assert steps[0].argv[-1] == "tests/faults"


def test_lanes_run_lab_steps_side_by_side_each_on_its_own_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "LOG_DIR", tmp_path)
    monkeypatch.setattr(suite, "venv_env", lambda: dict(os.environ))
    record = tmp_path / "record"
    script = f"echo $BULWARK_LAB_SLOT $(date +%s.%N) >> {record}; sleep 0.5"
    steps = [suite.Step("lint", ["true"], {}),
             *(suite.Step(f"lab {n}", ["sh", "-c", script], {}, lab=True) for n in range(4)),
             suite.Step("broken", ["sh", "-c", "echo it broke; exit 3"], {}, lab=True)]
    started = time.monotonic()
    assert suite.run_steps(steps, lanes=2, slots=["7", "9"]) == 1
    assert time.monotonic() - started < 2.5  # 4 x 0.5 s in two lanes, not one after the other
    assert sorted({line.split()[0] for line in record.read_text().splitlines()}) == ["7", "9"]
    assert [s.passed for s in steps] == [True, True, True, True, True, False]
    assert "it broke" in Path(steps[-1].log).read_text()


def test_suite_can_run_the_portable_tests_alone_as_a_lab_step() -> None:
    [step] = suite.plan(["portable"], lint=False, unit=False, debian12=True)
    assert step.argv[-1] == "tests/portable" and step.extra_env == {"BULWARK_DEBIAN": "13"} and step.lab


def test_audit_passes_its_options_on_to_ansible_playbook(monkeypatch: pytest.MonkeyPatch) -> None:
    from bulwark_lab import cli

    seen = []
    monkeypatch.setattr(cli, "cmd_audit", lambda args: seen.append(args.ansible_args) or 0)
    assert cli.main(["audit", "-e", "audit_probe_host=scanner", "--limit", "web-nginx"]) == 0
    assert seen == [["-e", "audit_probe_host=scanner", "--limit", "web-nginx"]]
    with pytest.raises(SystemExit):
        cli.main(["lab", "up", "--nonsense"])


def test_an_unknown_scenario_is_named_before_anything_starts(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from bulwark_lab import cli

    monkeypatch.setattr(cli, "_prepare", lambda versions: pytest.fail("prepared the lab for an unknown scenario"))
    assert cli.main(["test", "--no-lint", "dns_zone", "dnszone"]) != 0
    err = capsys.readouterr().err
    assert "unknown scenario(s) 'dnszone'" in err and "dns_zone" in err.split("choose from", 1)[1]


def test_inotify_instances_are_raised_never_lowered(tmp_path: Path) -> None:
    limit = tmp_path / "max_user_instances"
    limit.write_text("128\n")
    engine.ensure_inotify_instances(limit, 1024)
    assert limit.read_text() == "1024\n"
    limit.write_text("8192\n")
    engine.ensure_inotify_instances(limit, 1024)
    assert limit.read_text() == "8192\n"
    # Unreadable or not a number: said, not raised (the lab may still boot).
    limit.write_text("many\n")
    engine.ensure_inotify_instances(limit, 1024)
    engine.ensure_inotify_instances(tmp_path / "missing", 1024)
