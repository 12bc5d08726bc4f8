"""`./bulwark`: one entry point for set-up, the lab, the main job, its audit and the test suite."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import ROOT, collection, engine, host, images, lab, suite
from .errors import StepError


def _prepare(versions: tuple[str, ...]) -> None:
    host.setup_host()
    engine.ensure_engine()
    images.ensure_images(versions)


def cmd_setup(args: argparse.Namespace) -> int:
    _prepare(tuple(args.debian))
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    engine.ensure_engine()
    images.ensure_images(tuple(args.debian))
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    if args.action == "up":
        engine.ensure_engine()
        images.ensure_images((args.debian,))
        for item in lab.up(lab.MAIN_LAB, args.debian):
            print(f"{item['instance']:<12} {item['address']:<15} {item['address6']}")
    elif args.action == "down":
        lab.down(lab.MAIN_LAB.name)
    elif args.action == "status":
        print(lab.status(lab.MAIN_LAB.name), end="")
    elif args.action == "molecule-up":
        platforms = json.loads(args.platforms or "[]")
        print(json.dumps(lab.up(lab.molecule_lab(platforms), args.debian)))
    elif args.action == "molecule-down":
        lab.down(lab.molecule_lab_name()[0])
    return 0


def _playbook(playbook: str, extra: list[str] | None = None) -> int:
    argv = ["ansible-playbook", "-i", "inventories/lab", playbook, *(extra or [])]
    print(f"bulwark: running {' '.join(argv)}", file=sys.stderr, flush=True)
    # PWD as a shell would set it: the audit resolves a relative audit_output_dir against it.
    env = {**host.venv_env(), "PWD": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


def cmd_site(args: argparse.Namespace) -> int:
    _prepare((args.debian,))
    lab.up(lab.MAIN_LAB, args.debian)
    # After site.yml: the parent zone takes lab.test's DS (the lab's registrar) and the scanner's resolver trusts
    # the parent's key.
    for playbook in ("playbooks/lab_fixtures.yml", "site.yml", "playbooks/lab_registrar.yml",
                     "molecule/_shared/lab_resolver.yml"):
        if _playbook(playbook, args.ansible_args if playbook == "site.yml" else None) != 0:
            return 1
    # The lab, checked from outside against its declaration: audit/audit.html and audit/audit.json.
    return 0 if _playbook("playbooks/audit.yml") == 0 else 1


def cmd_audit(args: argparse.Namespace) -> int:
    host.setup_host()
    return 0 if _playbook("playbooks/audit.yml", args.ansible_args) == 0 else 1


def cmd_collection(args: argparse.Namespace) -> int:
    host.ensure_venv()
    if args.action == "build":
        print(collection.build(Path(args.output).resolve() if args.output else collection.DIST_DIR))
    elif args.action == "stage":
        print(collection.stage())
    elif args.action == "sanity":
        venv = ROOT / ".cache" / "collection-venv"
        python = venv / "bin" / "python"
        if not (venv / "bin" / "ansible-test").exists():
            collection.make_venv(venv)
        with tempfile.TemporaryDirectory(prefix="bulwark-sanity-") as work:
            rc, tests, output = collection.sanity(python, Path(work))
        print(output)
        print(f"bulwark: ansible-test sanity ran {len(tests)} tests: {', '.join(tests)}")
        return rc
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    known = [*suite.scenarios(), suite.FAULTS, suite.PORTABLE]
    unknown = [name for name in args.scenario if name not in known]
    if unknown:
        raise StepError("test", f"unknown scenario(s) {', '.join(map(repr, unknown))}: choose from {', '.join(known)}")
    versions = ("13", "12") if args.debian12 else ("13",)
    _prepare(versions)
    steps = suite.plan(args.scenario or None, lint=not args.no_lint, unit=not args.no_unit, debian12=args.debian12)
    slots = args.slots.split(",") if args.slots else None
    lanes = args.lanes
    if slots is None and os.environ.get("BULWARK_LAB_SLOT"):
        # A caller that picked its lab slot (a second lab beside another) gets exactly that one: one lane.
        slots, lanes = [os.environ["BULWARK_LAB_SLOT"]], 1
    if slots and len(slots) < lanes:
        raise StepError("test", f"--slots names {len(slots)} lab slot(s) for {lanes} lanes: give one per lane")
    return suite.run_steps(steps, lanes=lanes, slots=slots)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bulwark", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("setup", help="install host packages, the Python venv, Docker engine and lab images")
    s.add_argument("--debian", nargs="+", default=["13", "12"], choices=sorted(images.SUITES))
    s.set_defaults(func=cmd_setup)

    s = sub.add_parser("images", help="build the lab images (a no-op while their recipes are unchanged)")
    s.add_argument("--debian", nargs="+", default=["13", "12"], choices=sorted(images.SUITES))
    s.set_defaults(func=cmd_images)

    s = sub.add_parser("lab", help="start, stop or list the lab hosts")
    s.add_argument("action", choices=["up", "down", "status", "molecule-up", "molecule-down"])
    s.add_argument("--debian", default=os.environ.get("BULWARK_DEBIAN", "13"), choices=sorted(images.SUITES))
    s.add_argument("--platforms", help="molecule-up: the scenario's platforms as JSON")
    s.set_defaults(func=cmd_lab)

    s = sub.add_parser("site", help="bring the lab up and run site.yml against it (the main job)")
    s.add_argument("--debian", default=os.environ.get("BULWARK_DEBIAN", "13"), choices=sorted(images.SUITES))
    s.add_argument("ansible_args", nargs=argparse.REMAINDER, help="extra ansible-playbook arguments")
    s.set_defaults(func=cmd_site)

    s = sub.add_parser("audit", help="check the lab from outside against its declaration; writes audit/audit.html "
                                     "and audit/audit.json, exits non-zero when a check fails")
    s.add_argument("ansible_args", nargs=argparse.REMAINDER,
                   help="extra ansible-playbook arguments, e.g. -e audit_probe_host=scanner or --limit web-nginx")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("collection", help="stage the roles as the collection bulwark.hardening and build its tarball")
    s.add_argument("action", choices=["build", "stage", "sanity"],
                   help="build: bulwark-hardening-<version>.tar.gz (build/dist/); stage: only the staged tree "
                        "(build/collection/); sanity: ansible-test sanity on it (venv in .cache/collection-venv)")
    s.add_argument("--output", help="build: directory for the tarball (default build/dist)")
    s.set_defaults(func=cmd_collection)

    s = sub.add_parser("test", help="the whole test suite: lint, unit tests, every molecule scenario, fault injection")
    s.add_argument("scenario", nargs="*", help="only these molecule scenarios (`faults`: the fault-injection test)")
    s.add_argument("--no-lint", action="store_true")
    s.add_argument("--no-unit", action="store_true")
    s.add_argument("--debian12", action=argparse.BooleanOptionalAction,
                   default=suite.env_flag("BULWARK_TEST_DEBIAN12", True),
                   help=f"also run {', '.join(suite.DEBIAN12_SCENARIOS)} on Debian 12 (default on)")
    s.add_argument("--lanes", type=int, default=int(os.environ.get("BULWARK_TEST_LANES", suite.DEFAULT_LANES)),
                   help=f"lab steps run side by side, each on its own lab network (default {suite.DEFAULT_LANES})")
    s.add_argument("--slots", default=os.environ.get("BULWARK_TEST_SLOTS", ""),
                   help="comma-separated lab slots (0-9) for the lanes, one per lane (default 0,1,...; with "
                        "BULWARK_LAB_SLOT set, that slot and one lane)")
    s.set_defaults(func=cmd_test)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    # `./bulwark audit -e audit_probe_host=scanner`: argparse's REMAINDER does not take a leading option, so the
    # options it does not know go to ansible-playbook for the commands that pass arguments on.
    args, unknown = p.parse_known_args(argv)
    if unknown:
        if not hasattr(args, "ansible_args"):
            p.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.ansible_args = unknown + list(args.ansible_args)
    try:
        return args.func(args)
    except StepError as exc:
        print(f"bulwark: step '{exc.step}' failed: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
