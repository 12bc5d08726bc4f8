"""Unit tests for molecule/_shared/filter_plugins/config_duplicates.py, the verify helper that finds
directives set twice in one block of an nginx or Apache configuration dump."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from config_duplicates import tls_config_duplicates

NGINX_DUMP = """\
# configuration file /etc/nginx/nginx.conf:
events { worker_connections 768; }
http {
    ssl_protocols TLSv1.2 TLSv1.3; # comment; with { braces }
    include /etc/nginx/mime.types;
    include /etc/nginx/conf.d/*.conf;
}

# configuration file /etc/nginx/mime.types:
types { text/html html; text/html htm; }

# configuration file /etc/nginx/conf.d/a.conf:
map $host $x { default 1; default 2; }
server {
    listen 443 ssl; listen [::]:443 ssl;
    include snippets/tls.conf;
    add_header A "1; 2" always; add_header B 2 always;
    location / { if ($x) { gzip off; } }
}

# configuration file /etc/nginx/snippets/tls.conf:
ssl_protocols TLSv1.2 TLSv1.3;
ssl_session_timeout 1d;
"""


class TestConfigDuplicates:
    def test_nginx_includes_are_followed_into_their_context(self) -> None:
        assert tls_config_duplicates(NGINX_DUMP) == []

    def test_nginx_duplicate_in_one_server_is_found(self) -> None:
        dump = NGINX_DUMP.replace("ssl_session_timeout 1d;", "ssl_session_timeout 1d;\nssl_protocols TLSv1.3;")
        assert tls_config_duplicates(dump) == ["http > server: ssl_protocols (2 times)"]

    def test_nginx_duplicate_through_an_include_at_http_level(self) -> None:
        dump = NGINX_DUMP.replace("include /etc/nginx/mime.types;", "include /etc/nginx/snippets/tls.conf;")
        assert tls_config_duplicates(dump) == ["http: ssl_protocols (2 times)"]

    def test_apache_dump(self) -> None:
        dump = """\
# In file: /etc/apache2/apache2.conf
ServerTokens Prod
<VirtualHost *:443>
  SSLCertificateFile /a
  SSLCertificateFile /b
  Header always set A 1
  Header always set B 2
  SSLProtocol -all +TLSv1.2
</VirtualHost>
<VirtualHost *:443>
  SSLProtocol -all +TLSv1.3
</VirtualHost>
"""
        assert tls_config_duplicates(dump, "apache") == []
        assert tls_config_duplicates(dump + "ServerTokens OS\n", "apache") == ["main: ServerTokens (2 times)"]

    def test_unknown_dialect(self) -> None:
        with pytest.raises(AnsibleFilterError, match="dialect"):
            tls_config_duplicates("", "caddy")
