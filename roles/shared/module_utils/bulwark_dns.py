# -*- coding: utf-8 -*-
"""DNS names, ports and TTLs as Bulwark accepts them, and the names in https URLs and mail addresses: one
implementation for every filter and module.

Every check matches the whole value (``fullmatch``): ``'a\\n'`` is not the name ``a``, ``'443\\n'`` is not
the port 443. Problems are returned as safe text (``bulwark_messages.describe``), never quoting a long
value or anything that looks like key material.

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_messages import describe
except ImportError:  # a role of the repository (module or filter), or vendored beside this file
    try:
        from ansible.module_utils.bulwark_messages import describe
    except ImportError:
        sys.path.append(str(Path(__file__).resolve().parent))
        from bulwark_messages import describe  # type: ignore[no-redef]

MAX_NAME_LENGTH = 253  # presentation length without the trailing dot
MAX_TTL = 2**31 - 1  # RFC 2181 section 8
MIN_PORT, MAX_PORT = 1, 65535
# A decimal integer as Ansible passes it from extra vars or INI inventories; 20 digits hold every bound
# used here, and a longer string is refused before int() (whose cost grows with the square of its length).
_DECIMAL_RE = re.compile(r"[0-9]{1,20}")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# The local part of a mail address as Bulwark accepts it: RFC 5322 dot-atom characters, 1 to 64 of them.
_MAIL_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")


def label_problem(label: str) -> str | None:
    """Why ``label`` is not a host-name label (letters, digits, inner hyphens, 1-63 long), or None."""
    if not label:
        return "it has an empty label"
    if len(label) > 63:
        return "a label is longer than 63 characters"
    if not _LABEL_RE.fullmatch(label):
        return f"label {describe(label)} must be letters, digits and hyphens, not starting or ending with a hyphen"
    return None


def name_problem(name: Any, wildcard: bool = False) -> str | None:
    """Why ``name`` (no trailing dot) is not a host name, or None.

    ``wildcard`` allows one leading ``*.`` label (certificate and TLS site names).
    """
    if not isinstance(name, str):
        return "it is not a string"
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    labels = name.split(".")
    if wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    for label in labels:
        if label == "*":
            return "wildcards are not allowed" if not wildcard else "a wildcard is only allowed as the first label"
        problem = label_problem(label)
        if problem:
            return problem
    return None


def host_name(value: Any, wildcard: bool = False) -> str:
    """``value`` as a host name: lower case, without its trailing dot (an absolute name is accepted).

    Raises ValueError saying why it is not one, with the value described safely (``describe``), for the caller
    to prefix with the argument's name.
    """
    if not isinstance(value, str):
        raise ValueError(f"{describe(value)} is not a DNS name (it is not a string)")
    name = value[:-1] if value.endswith(".") else value
    problem = name_problem(name, wildcard=wildcard)
    if problem:
        raise ValueError(f"{describe(value)} is not a DNS name ({problem})")
    return name.lower()


def is_host(text: str) -> bool:
    """Whether ``text`` is a host name (one trailing dot allowed) or an IP address literal."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return name_problem(text[:-1] if text.endswith(".") else text) is None


def https_url_problem(value: Any) -> str | None:
    """Why ``value`` is not an absolute ``https://`` URL of a host name or IP address (printable ASCII, no
    spaces, a port from 1 to 65535 if any), or None. The problem never quotes the value."""
    if not isinstance(value, str):
        return "it is not a string"
    if not value or any(not 0x21 <= ord(char) <= 0x7E for char in value):
        return "it must be printable ASCII without spaces"
    try:
        parts = urlsplit(value)
        port_number = parts.port
    except ValueError:  # "Invalid IPv6 URL" for unbalanced brackets, a port out of range...
        return "it is not a URL (brackets or port)"
    if parts.scheme.lower() != "https":
        return "it is not https://"
    if not parts.hostname or not is_host(parts.hostname):
        return "its host is not a DNS name or an IP address"
    if port_number == 0:
        return "its port is 0"
    return None


def mail_address_problem(value: Any) -> str | None:
    """Why ``value`` is not a mail address ``local@domain`` (dot-atom local part, host-name domain), or None."""
    if not isinstance(value, str):
        return "it is not a string"
    local, at, domain = value.rpartition("@")
    if not at or not _MAIL_LOCAL_RE.fullmatch(local):
        return "it is not local-part@domain (1 to 64 letters, digits and .!#$%&'*+/=?^_`{|}~- before the @)"
    problem = name_problem(domain)
    return f"its domain is not a DNS name ({problem})" if problem else None


def is_label(text: Any) -> bool:
    """Whether ``text`` is one host-name label (also the shape of RFC 8657 method names like dns-01)."""
    return isinstance(text, str) and label_problem(text) is None


def to_int(value: Any) -> int | None:
    """``value`` as an int if it is an int or a string of 1 to 20 decimal digits, else None.

    Booleans, floats, signs and surrounding whitespace give None. Strings are accepted because Ansible
    variables (``-e port=443``, INI inventories) are strings.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        return int(value)
    return None


def int_in_range(value: Any, low: int, high: int) -> int | None:
    """``to_int(value)`` when it lies from ``low`` to ``high``, else None."""
    number = to_int(value)
    if number is None or not low <= number <= high:
        return None
    return number


def port(value: Any) -> int | None:
    """A TCP/UDP port (1 to 65535) from an int or decimal string, else None."""
    return int_in_range(value, MIN_PORT, MAX_PORT)


def ttl(value: Any) -> int | None:
    """A DNS TTL (0 to 2147483647, RFC 2181) from an int or decimal string, else None."""
    return int_in_range(value, 0, MAX_TTL)
