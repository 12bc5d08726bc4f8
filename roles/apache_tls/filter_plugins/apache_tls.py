# -*- coding: utf-8 -*-
"""Filters of the apache_tls role.

* ``apache_module_links`` - the links ``a2enmod`` would make for a list of modules, so that enabling them is
  part of the same tested, durable configuration change as the sites (roles/shared's config_apply).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_messages import describe, secret_kind
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    sys.path.append(str(Path(__file__).resolve().parents[2] / "shared" / "module_utils"))
    from bulwark_messages import describe, secret_kind  # type: ignore[no-redef]


# A link path or target: plain path characters only, the whole value (no line break, no space), and
# nothing that looks like key material (a swapped argument).
_DIRECTORY_RE = re.compile(r"[A-Za-z0-9./_+-]{1,4095}")


def _strings(value: Any, arg: str) -> list[str]:
    """``value`` if it is a list of strings, else an error naming ``arg`` (a string is not a list of names)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise AnsibleFilterError(f"apache_module_links: {arg} must be a list of strings, got {describe(value)}")
    return list(value)


def apache_module_links(modules: Any, available: Any, enabled_dir: Any,
                        available_dir: Any = "../mods-available") -> list[dict[str, str]]:
    """``[{path, src}]`` for each module's ``.load`` file and, when it has one, its ``.conf`` file.

    ``available`` lists the file names in the modules directory (``ls mods-available``). A module without a
    ``.load`` file is refused by name: the server would not start with it.
    """
    for arg, directory in (("enabled_dir", enabled_dir), ("available_dir", available_dir)):
        if not isinstance(directory, str) or not _DIRECTORY_RE.fullmatch(directory) or secret_kind(directory):
            raise AnsibleFilterError(f"apache_module_links: {arg} must be a directory (letters, digits and ./_+-), "
                                     f"got {describe(directory)}")
    names = {name.strip() for name in _strings(available, "available") if name.strip()}
    links: list[dict[str, str]] = []
    for module in _strings(modules, "modules"):
        if f"{module}.load" not in names:
            shown = describe(module)
            load = f"{module}.load" if shown == repr(module) else ".load file"
            raise AnsibleFilterError(f"apache_module_links: module {shown} has no {load} in "
                                     f"{available_dir}; install the package that provides it")
        for suffix in (".load", ".conf"):
            if f"{module}{suffix}" in names:
                links.append({"path": f"{enabled_dir}/{module}{suffix}", "src": f"{available_dir}/{module}{suffix}"})
    return links


class FilterModule:
    """apache_tls filters."""

    def filters(self) -> dict[str, Any]:
        return {"apache_module_links": apache_module_links}
