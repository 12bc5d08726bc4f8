"""Unit tests for roles/apache_tls/filter_plugins/apache_tls.py."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from apache_tls import apache_module_links

AVAILABLE = ["ssl.conf", "ssl.load", "headers.load", "socache_shmcb.load", "deflate.conf", "deflate.load"]


def test_links_as_a2enmod_makes_them() -> None:
    assert apache_module_links(["ssl", "headers"], AVAILABLE, "/etc/apache2/mods-enabled") == [
        {"path": "/etc/apache2/mods-enabled/ssl.load", "src": "../mods-available/ssl.load"},
        {"path": "/etc/apache2/mods-enabled/ssl.conf", "src": "../mods-available/ssl.conf"},
        {"path": "/etc/apache2/mods-enabled/headers.load", "src": "../mods-available/headers.load"},
    ]


def test_a_module_that_is_not_installed_is_refused_by_name() -> None:
    with pytest.raises(AnsibleFilterError, match="'http2' has no http2.load"):
        apache_module_links(["ssl", "http2"], AVAILABLE, "/etc/apache2/mods-enabled")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"modules": "ssl"}, "modules must be a list of strings, got 'ssl'"),
    ({"available": None}, "available must be a list of strings, got None"),
    ({"enabled_dir": "/etc/apache2/mods-enabled\n"}, "enabled_dir must be a directory"),
    ({"modules": ["-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGCRtR9QaDwMU78dAp\n"]},
     "module a 67-character string that looks like a private key (not shown) has no .load file"),
])
def test_wrong_types_and_key_material_are_refused_without_quoting(kwargs: dict[str, object], message: str) -> None:
    arguments = {"modules": ["ssl"], "available": AVAILABLE, "enabled_dir": "/etc/apache2/mods-enabled", **kwargs}
    with pytest.raises(AnsibleFilterError) as info:
        apache_module_links(**arguments)  # type: ignore[arg-type]
    assert message in str(info.value)
