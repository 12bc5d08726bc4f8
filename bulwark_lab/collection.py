"""The collection bulwark.hardening, staged from the repository and built with `ansible-galaxy collection build`.

In the repository each role carries its own plugins (roles/<role>/library, filter_plugins, module_utils), so
that a role copied alone into another project works. In a collection, plugins live in plugins/<type>/ and
roles find them through the collection. Staging (`stage`) therefore copies every role (roles/*, found
generically, so new roles are included without edits) and moves its plugin directories into plugins/:

    roles/<role>/library/*.py         -> plugins/modules/
    roles/<role>/filter_plugins/*     -> plugins/filter/      (filters and their .yml doc sidecars)
    roles/<role>/module_utils/*.py    -> plugins/module_utils/
    roles/<role>/<type>_plugins/*     -> plugins/<type>/      (lookup, test, action, callback, ...)

Modules still find modules by their short names from a collection role, filters do not: Jinja looks filters up
by full name only. So every use of one of the collection's filters in the staged roles and playbooks
(`| tls_site_model`, `map('tlsa_record')`) is rewritten to its full name (`| bulwark.hardening.tls_site_model`),
and role names in the staged playbooks are made full (`bulwark.hardening.nginx_tls`). The repository's files
are never changed. Also staged: everything in collection/ (galaxy.yml, meta/runtime.yml, CHANGELOG.md, the
ansible-test ignore file), README.md, docs/,
LICENSE (when there is one), site.yml and the playbooks it imports (as playbooks/, runnable as
`ansible-playbook bulwark.hardening.site`).

Standard library only (like the rest of bulwark_lab); `ansible-galaxy` comes from .venv.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

from . import ROOT
from .errors import StepError
from .host import venv_env

NAMESPACE = "bulwark"
NAME = "hardening"
FQCN = f"{NAMESPACE}.{NAME}"
BUILD_DIR = ROOT / "build"
STAGE_ROOT = BUILD_DIR / "collection"
DIST_DIR = BUILD_DIR / "dist"

# Role directory -> collection plugin directory.
PLUGIN_DIRS = {
    "library": "modules",
    "module_utils": "module_utils",
    "filter_plugins": "filter",
    "lookup_plugins": "lookup",
    "test_plugins": "test",
    "action_plugins": "action",
    "callback_plugins": "callback",
    "inventory_plugins": "inventory",
}
_TEXT_SUFFIXES = (".yml", ".yaml", ".j2")
# What the collection needs on the controller besides ansible-core: the pinning filters parse certificates and
# keys (cryptography), dns_records checks every zone line it writes (dnspython).
CONTROLLER_PACKAGES = ("ansible-core", "cryptography", "dnspython")
# The collections galaxy.yml depends on (acme_certificates orders through community.crypto).
DEPENDENCIES = ("community.crypto",)
# validate-modules knows GPLv3 headers only; Bulwark is MIT-licensed (collection/galaxy.yml), so every module
# gets this one ignore entry, with its reason (ansible-test wants one per file).
LICENSE_IGNORE = "validate-modules:missing-gplv3-license # Bulwark is MIT-licensed (galaxy.yml), not GPLv3"
_JINJA_HIGHER_ORDER = r"(?:map|select|reject|selectattr|rejectattr)"


def version(root: Path = ROOT) -> str:
    """The collection's version, from collection/galaxy.yml (a flat `version: x.y.z` line)."""
    match = re.search(r"^version:\s*['\"]?([0-9][^'\"\s]*)", (root / "collection" / "galaxy.yml").read_text(), re.M)
    if not match:
        raise StepError("collection", "collection/galaxy.yml has no version line")
    return match.group(1)


def filter_names(path: Path) -> list[str]:
    """The filter names a filter plugin file defines: the keys of the dict its FilterModule.filters returns."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "FilterModule":
            for item in ast.walk(node):
                if isinstance(item, ast.Return) and isinstance(item.value, ast.Dict):
                    names += [key.value for key in item.value.keys
                              if isinstance(key, ast.Constant) and isinstance(key.value, str)]
    return names


def qualify_filters(text: str, names: list[str]) -> str:
    """``text`` with every use of the filters ``names`` written with the collection's full name."""
    if not names:
        return text
    alternatives = "|".join(sorted((re.escape(name) for name in names), key=len, reverse=True))
    text = re.sub(rf"(\|\s*)({alternatives})\b(?!\.)", rf"\1{FQCN}.\2", text)
    return re.sub(rf"({_JINJA_HIGHER_ORDER}\(\s*['\"])({alternatives})(['\"])", rf"\1{FQCN}.\2\3", text)


def qualify_roles(text: str, roles: list[str]) -> str:
    """``text`` (a playbook) with `role: <name>` / `name: <name>` of the collection's roles made full."""
    alternatives = "|".join(re.escape(role) for role in sorted(roles, key=len, reverse=True))
    return re.sub(rf"^(\s*-?\s*(?:role|name):\s*)({alternatives})\s*$", rf"\1{FQCN}.\2", text, flags=re.M)


def qualify_module_defaults(text: str, modules: list[str]) -> str:
    """``text`` with the collection's modules named in full where a task or ``module_defaults`` names them as
    a mapping key (``bulwark_firewalld:`` on a line of its own). A module's short name still works in a task
    of a collection role, but ``module_defaults`` resolves it as ``ansible.legacy.<name>``, which the
    collection does not have."""
    if not modules:
        return text
    alternatives = "|".join(re.escape(name) for name in sorted(modules, key=len, reverse=True))
    return re.sub(rf"^(\s*(?:-\s+)?)({alternatives}):[ \t]*$", rf"\1{FQCN}.\2:", text, flags=re.M)


def _copy_role(role: Path, dest: Path, plugins: Path) -> list[Path]:
    """Copy one role without its plugin directories; move those into ``plugins``. Returns the moved files."""
    moved: list[Path] = []
    shutil.copytree(role, dest / role.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *PLUGIN_DIRS))
    for source_dir, plugin_type in PLUGIN_DIRS.items():
        for path in sorted((role / source_dir).glob("*")) if (role / source_dir).is_dir() else []:
            if path.name == "__pycache__" or path.is_dir():
                continue
            target = plugins / plugin_type / path.name
            if target.exists():
                raise StepError("collection", f"{path.relative_to(ROOT)}: a plugin file {target.name} already "
                                              f"came from another role (plugins/{plugin_type}/)")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path.resolve(), target)
            moved.append(target)
    return moved


def ansible_core_series(root: Path = ROOT) -> str:
    """The ansible-core release series the suite pins (requirements.txt), e.g. ``2.19``."""
    match = re.search(r"^ansible-core==(\d+\.\d+)\.", (root / "requirements.txt").read_text(), re.M)
    if not match:
        raise StepError("collection", "requirements.txt pins no ansible-core==X.Y.Z")
    return match.group(1)


def _write_sanity_ignores(dest: Path, modules: list[Path], root: Path) -> None:
    ignore = dest / "tests" / "sanity" / f"ignore-{ansible_core_series(root)}.txt"
    ignore.parent.mkdir(parents=True, exist_ok=True)
    kept = ignore.read_text().splitlines() if ignore.is_file() else []  # from collection/tests/sanity/
    lines = kept + [f"{module.relative_to(dest)} {LICENSE_IGNORE}" for module in sorted(modules)]
    ignore.write_text("".join(f"{line}\n" for line in lines))


def _site_playbooks(root: Path) -> list[Path]:
    """site.yml and the playbooks it imports (playbooks/<name>.yml)."""
    site = root / "site.yml"
    imported = re.findall(r"import_playbook:\s*playbooks/([\w.-]+\.ya?ml)", site.read_text())
    return [site] + [root / "playbooks" / name for name in imported]


def stage(root: Path = ROOT, stage_root: Path = STAGE_ROOT) -> Path:
    """Stage the collection under ``stage_root``/ansible_collections/bulwark/hardening and return that path."""
    dest = stage_root / "ansible_collections" / NAMESPACE / NAME
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copytree(root / "collection", dest, dirs_exist_ok=True)  # galaxy.yml, meta/, CHANGELOG.md, tests/
    for name in ("README.md", "LICENSE", "COPYING"):
        if (root / name).is_file():
            shutil.copyfile(root / name, dest / name)
    shutil.copytree(root / "docs", dest / "docs")

    roles = sorted(path for path in (root / "roles").iterdir() if path.is_dir())
    plugins = dest / "plugins"
    moved: list[Path] = []
    for role in roles:
        moved += _copy_role(role, dest / "roles", plugins)
    filters = [name for path in moved if path.parent.name == "filter" and path.suffix == ".py"
               for name in filter_names(path)]
    modules = [path.stem for path in moved if path.parent.name == "modules" and path.suffix == ".py"]
    _write_sanity_ignores(dest, [path for path in moved if path.parent.name == "modules"], root)

    (dest / "playbooks").mkdir()
    for playbook in _site_playbooks(root):
        text = qualify_roles(playbook.read_text(), [role.name for role in roles])
        text = re.sub(r"(import_playbook:\s*)playbooks/", r"\1", text)
        (dest / "playbooks" / playbook.name).write_text(text)
    for path in sorted(dest.rglob("*")):
        if path.is_file() and path.suffix in _TEXT_SUFFIXES and ("roles" in path.parts or "playbooks" in path.parts):
            text = path.read_text()
            qualified = qualify_module_defaults(qualify_filters(text, filters), modules)
            if qualified != text:
                path.write_text(qualified)
    return dest


def build(output_dir: Path = DIST_DIR, root: Path = ROOT) -> Path:
    """Stage and build; returns bulwark-hardening-<version>.tar.gz."""
    staged = stage(root)
    output_dir.mkdir(parents=True, exist_ok=True)
    tarball = output_dir / f"{NAMESPACE}-{NAME}-{version(root)}.tar.gz"
    tarball.unlink(missing_ok=True)
    proc = subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(output_dir),
                           str(staged)], env=venv_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not tarball.is_file():
        raise StepError("collection", f"ansible-galaxy collection build failed: {(proc.stderr or proc.stdout).strip()}")
    return tarball


# ansible-test makes one venv per sanity test and bootstraps pip into each with a get-pip script it downloads
# from ci-files.testing.ansible.com, which these machines cannot reach (docs/collection.md). This stand-in,
# saved where ansible-test caches that script, installs the pip that ships with Python and then runs
# `pip install` with the same arguments, so the venvs are made from PyPI as usual.
GET_PIP_STAND_IN = '''"""Stand-in for get-pip.py (written by Bulwark's bulwark_lab/collection.py): ensurepip, then pip install."""
import ensurepip
import os
import runpy
import sys

environ = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip turns pip's configuration off in this process; the install below needs it (index, certificates).
os.environ.clear()
os.environ.update(environ)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
extra = [name for name, flag in (("setuptools", "--no-setuptools"), ("wheel", "--no-wheel")) if flag not in sys.argv]
sys.argv = ["pip", "install", "--upgrade", *args, *extra]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
'''


def ensure_get_pip(python: Path) -> Path:
    """Save the stand-in where ansible-test (of ``python``) looks for its pip bootstrap script, unless one is there."""
    proc = subprocess.run([str(python), "-c", "import ansible_test, os; print(os.path.dirname(ansible_test.__file__))"],
                          capture_output=True, text=True, check=False)
    source = Path(proc.stdout.strip()) / "_internal" / "python_requirements.py"
    match = re.search(r"pip='([0-9.]+)'", source.read_text()) if source.is_file() else None
    if not match:
        raise StepError("collection", f"cannot tell which pip {python}'s ansible-test bootstraps")
    path = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{match.group(1).replace('.', '_')}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GET_PIP_STAND_IN)
    return path


def sanity(python: Path, work: Path, root: Path = ROOT) -> tuple[int, list[str], str]:
    """Run `ansible-test sanity` with ``python`` (which has ansible-core) on the collection staged under ``work``.

    ``work`` must be outside any git checkout: there ansible-test lists the files git tracks, and the staged
    tree is none. Returns the exit status, the tests that ran, and the output.
    """
    staged = stage(root, stage_root=work)
    ensure_get_pip(python)
    version_match = re.match(r"(\d+\.\d+)", subprocess.run(
        [str(python), "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True, text=True, check=False).stdout)
    py = version_match.group(1) if version_match else "3"
    proc = subprocess.run([str(python.parent / "ansible-test"), "sanity", "--local", "--requirements", "--python", py,
                           "--color", "no"], cwd=staged, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    return proc.returncode, re.findall(r'Running sanity test "([^"]+)"', output), output


def pinned(names: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """The requirements.txt pins (``name==version``) of ``names``."""
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (root / "requirements.txt").read_text(), re.M))
    missing = [name for name in names if name not in pins]
    if missing:
        raise StepError("collection", f"requirements.txt pins none of {', '.join(missing)}")
    return [f"{name}=={pins[name]}" for name in names]


def bundled_collection(name: str, root: Path = ROOT) -> Path:
    """Where the repository's .venv (the `ansible` package of requirements.txt) has the collection ``name``."""
    namespace, collection_name = name.split(".")
    pattern = f"lib/python*/site-packages/ansible_collections/{namespace}/{collection_name}"
    found = sorted((root / ".venv").glob(pattern))
    if not found:
        raise StepError("collection", f"{root / '.venv'} has no collection {name} (the `ansible` package carries it)")
    return found[0]


def make_venv(path: Path, tarball: Path | None = None, root: Path = ROOT) -> Path:
    """A new venv at ``path`` with what a user of the collection installs: ansible-core, cryptography (the
    pinning filters) and dnspython (dns_records' zone-line checks), pinned as the suite pins them; with
    ``tarball``, the collection installed
    into the venv's own collections path (site-packages/ansible_collections). Returns its python."""
    subprocess.run(["python3", "-m", "venv", str(path)], check=True, capture_output=True)
    python = path / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", *pinned(CONTROLLER_PACKAGES, root)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StepError("collection", f"pip install into {path} failed: {proc.stderr.strip()[-2000:]}")
    if tarball is not None:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        # The collection's dependencies (galaxy.yml), where a user gets them from Galaxy: from the `ansible`
        # package the suite pins (.venv), so the install stays offline.
        for name in DEPENDENCIES:
            namespace, collection_name = name.split(".")
            shutil.copytree(bundled_collection(name, root),
                            Path(site) / "ansible_collections" / namespace / collection_name, dirs_exist_ok=True)
        proc = subprocess.run([str(path / "bin" / "ansible-galaxy"), "collection", "install", "--offline", "-p", site,
                               str(tarball)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise StepError("collection", f"ansible-galaxy collection install failed: {proc.stderr.strip()}")
    return python
