# -*- coding: utf-8 -*-
"""Filters of the apache_tls role.

* ``apache_module_links`` - the links ``a2enmod`` would make for a list of modules, so that enabling them is
  part of the same tested, durable configuration change as the sites (roles/shared's config_apply).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible.errors import AnsibleFilterError


def apache_module_links(modules: Iterable[str], available: Iterable[str], enabled_dir: str,
                        available_dir: str = "../mods-available") -> list[dict[str, str]]:
    """``[{path, src}]`` for each module's ``.load`` file and, when it has one, its ``.conf`` file.

    ``available`` lists the file names in the modules directory (``ls mods-available``). A module without a
    ``.load`` file is refused by name: the server would not start with it.
    """
    names = {str(name).strip() for name in available if str(name).strip()}
    links: list[dict[str, str]] = []
    for module in modules:
        if not isinstance(module, str) or f"{module}.load" not in names:
            raise AnsibleFilterError(f"apache_module_links: module {module!r} has no {module}.load in "
                                     f"{available_dir}; install the package that provides it")
        for suffix in (".load", ".conf"):
            if f"{module}{suffix}" in names:
                links.append({"path": f"{enabled_dir}/{module}{suffix}", "src": f"{available_dir}/{module}{suffix}"})
    return links


class FilterModule:
    """apache_tls filters."""

    def filters(self) -> dict[str, Any]:
        return {"apache_module_links": apache_module_links}
