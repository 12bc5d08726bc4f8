# -*- coding: utf-8 -*-
"""Test helper for the molecule scenarios (not shipped in a role): ``tls_config_duplicates``, the directives
set twice in the same block of ``nginx -T`` output or an Apache configuration dump.

Unit tests: tests/unit/test_config_duplicates.py.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from ansible.errors import AnsibleFilterError

# Directives that may legitimately repeat in one block (Apache names lower-cased).
_NGINX_REPEATABLE = frozenset({
    "include", "listen", "server_name", "add_header", "ssl_certificate", "ssl_certificate_key", "location",
    "if", "map", "server", "proxy_set_header", "error_page", "load_module", "ssl_conf_command", "set",
    "rewrite", "allow", "deny", "upstream", "fastcgi_param", "uwsgi_param", "scgi_param", "env", "log_format",
    "access_log", "add_trailer", "proxy_hide_header", "limit_req", "limit_conn", "ssl_stapling_file",
})
# Blocks whose entries are data (type -> extensions, key -> value), not directives.
_NGINX_DATA_BLOCKS = ("types", "map", "geo", "split_clients", "charset_map", "match")
_APACHE_REPEATABLE = frozenset({
    "<virtualhost", "<directory", "<directorymatch", "<files", "<filesmatch", "<location", "<locationmatch",
    "<ifmodule", "<ifdefine", "<ifversion", "<if", "<else", "<elseif", "<proxy", "<proxymatch", "<requireall",
    "<requireany", "<requirenone", "<limit", "<limitexcept", "loadmodule", "listen", "sslcertificatefile",
    "sslcertificatekeyfile", "header", "requestheader", "setenvif", "setenvifexpr", "setenvifnocase",
    "addtype", "addoutputfilterbytype", "addlanguage", "addcharset", "addicon", "addiconbytype",
    "addiconbyencoding", "addencoding", "addhandler", "alias", "aliasmatch", "scriptalias", "redirect",
    "redirectmatch", "rewritecond", "rewriterule", "proxypass", "proxypassreverse", "require", "browsermatch",
    "browsermatchnocase", "logformat", "customlog", "sslrandomseed", "errordocument", "serveralias", "define",
    "include", "includeoptional", "setenv", "unsetenv", "passenv", "indexignore", "indexoptions", "addalt",
    "addaltbytype", "addaltbyencoding", "action", "removeoutputfilter", "removehandler", "sslopensslconfcmd",
    "sslciphersuite", "addinputfilter", "addoutputfilter", "expiresbytype", "removetype", "removecharset",
    "removeencoding", "removelanguage", "removeinputfilter", "requestreadtimeout", "addmoduleinfo",
})


def tls_config_duplicates(text: str, dialect: str = "nginx") -> list[str]:
    """Directives set more than once in the same block, as ``"<block path>: <directive> (N times)"``.

    ``dialect`` is ``nginx`` (``nginx -T`` output: every file after a ``# configuration file PATH:`` line;
    ``include`` statements are followed into the files, so a block's directives are counted wherever they
    were written) or ``apache`` (``apachectl -t -D DUMP_CONFIG`` output: includes already inlined, one
    directive per line, ``<Section>``/``</Section>`` blocks). Directives that may repeat (listen, add_header,
    ssl_certificate, Header, SSLCipherSuite per protocol, ...) are not reported.
    """
    if dialect == "nginx":
        blocks, repeatable = _parse_nginx(str(text)), _NGINX_REPEATABLE
    elif dialect == "apache":
        blocks, repeatable = _parse_apache(str(text)), _APACHE_REPEATABLE
    else:
        raise AnsibleFilterError(f"tls_config_duplicates: dialect must be nginx or apache, got {dialect!r}")
    found: list[str] = []
    for path, directives in blocks:
        for name in sorted(set(directives)):
            count = directives.count(name)
            if count > 1 and name.lower() not in repeatable:
                found.append(f"{path or 'main'}: {name} ({count} times)")
    return found


_NGINX_TOKEN_RE = re.compile(r"""#[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};"'#][^\s{};]*""")
_NGINX_FILE_RE = re.compile(r"^# configuration file (.+):$", re.M)


def _nginx_files(text: str) -> dict[str, str]:
    """``nginx -T`` output split into ``{path: content}``, in dump order (the main file first)."""
    parts = _NGINX_FILE_RE.split(text)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _nginx_tokens(text: str) -> list[str]:
    """Tokens of nginx configuration: words, quoted strings, '{', '}', ';' (comments dropped)."""
    return [m.group(0) for m in _NGINX_TOKEN_RE.finditer(text) if not m.group(0).startswith("#")]


def _parse_nginx(text: str) -> list[tuple[str, list[str]]]:
    files = _nginx_files(text)
    if not files:
        files = {"/etc/nginx/nginx.conf": text}
    main = next(iter(files))
    prefix = main.rsplit("/", 1)[0]
    blocks: list[tuple[str, list[str]]] = [("", [])]

    def walk(tokens: list[str], stack: list[int], depth: int) -> None:
        statement: list[str] = []
        for token in tokens:
            if token == ";":
                if statement and statement[0] == "include" and len(statement) > 1 and depth < 16:
                    pattern = statement[1].strip("\"'")
                    pattern = pattern if pattern.startswith("/") else f"{prefix}/{pattern}"
                    for path in sorted(p for p in files if fnmatch.fnmatchcase(p, pattern)):
                        walk(_nginx_tokens(files[path]), stack, depth + 1)
                elif statement:
                    blocks[stack[-1]][1].append(statement[0])
                statement = []
            elif token == "{":
                name = " ".join(statement) or "?"
                parent_path, parent_directives = blocks[stack[-1]]
                if statement:
                    parent_directives.append(statement[0])
                data = bool(statement) and statement[0] in _NGINX_DATA_BLOCKS
                blocks.append((f"{parent_path} > {name}" if parent_path else name, [] if not data else ["(data)"]))
                stack.append(len(blocks) - 1)
                statement = []
            elif token == "}":
                if len(stack) > 1:
                    stack.pop()
                statement = []
            else:
                statement.append(token)

    walk(_nginx_tokens(files[main]), [0], 0)
    return [(path, directives) for path, directives in blocks if directives != ["(data)"] and "(data)" not in directives]


def _parse_apache(text: str) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = [("", [])]
    stack = [0]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            if len(stack) > 1:
                stack.pop()
            continue
        if line.startswith("<"):
            name = line.strip("<>")
            blocks[stack[-1]][1].append("<" + name.split()[0].lower())
            parent = blocks[stack[-1]][0]
            blocks.append((f"{parent} > {name}" if parent else name, []))
            stack.append(len(blocks) - 1)
            continue
        blocks[stack[-1]][1].append(line.split()[0])
    return blocks


class FilterModule:
    """Configuration checks used by the TLS scenarios' verify playbooks."""

    def filters(self) -> dict[str, Any]:
        return {"tls_config_duplicates": tls_config_duplicates}
