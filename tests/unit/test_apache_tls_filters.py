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
