"""One way for every test to import the code it tests, as Ansible would find it.

- Every role's ``library/`` (modules) and ``filter_plugins/`` (filters) is on ``sys.path``, so a test
  imports ``tls_inspect`` or ``pinning`` by its file name.
- Every role's ``module_utils/`` is added to the ``ansible.module_utils`` package, as Ansible does for a
  module it ships to a host, so ``from ansible.module_utils.bulwark_pem import ...`` works in tests too.
- Scripts a role installs on its hosts (``roles/*/files/*.py``, e.g. the ct_monitor alert hook) import
  by file name too.
- The molecule scenarios' own filters (``molecule/_shared/filter_plugins``), the lab's CT log fixture
  (``molecule/_shared/ct_log``), the lab harness (``bulwark_lab``) and the test helpers beside this file
  are importable as well.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ansible.module_utils

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ROLES = REPO / "roles"

_paths = [HERE, REPO, REPO / "molecule" / "_shared" / "filter_plugins", REPO / "molecule" / "_shared" / "ct_log"]
for _role in sorted(ROLES.iterdir()):
    _paths += [_role / "library", _role / "filter_plugins", _role / "files"]
    if (_role / "module_utils").is_dir() and str(_role / "module_utils") not in ansible.module_utils.__path__:
        ansible.module_utils.__path__.append(str(_role / "module_utils"))
for _path in _paths:
    if _path.is_dir() and str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
