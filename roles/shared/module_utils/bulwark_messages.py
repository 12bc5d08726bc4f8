# -*- coding: utf-8 -*-
"""Error messages that describe a bad value without leaking it: one implementation for every filter and module.

A message names the argument and describes the value. It never quotes PEM text, key material or more than
a short prefix of a long value: a private key given as a host name by mistake (an easy swap in a template)
must not end up in a play's output, a log or a CI transcript.

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

# Longest text shown in full; longer values are shown as a prefix of this many characters.
SHORT = 64
# Integers with more digits are described by their size: str() of an int past 4300 digits raises
# ValueError (CVE-2020-10735 limit), and a 4000-digit number is no help in a message anyway.
MAX_SHOWN_DIGITS = 20

_PEM_MARK_RE = re.compile(r"-----\s*(?:BEGIN|END)", re.I)
_PRIVATE_RE = re.compile(r"PRIVATE\s+KEY", re.I)
# Base64 of key material: a long run of the base64 alphabet mixing upper case, lower case and digits.
_BASE64_RUN_RE = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
# Hex of key material: 128 bits or more.
_HEX_RUN_RE = re.compile(r"[0-9A-Fa-f]{32,}")
_LOG10_2 = 0.30102999566398120
# Markers are looked for in this much of a value (linear time whatever its size).
_SCAN_LIMIT = 1 << 20


def _base64_like(run: str) -> bool:
    return any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)


def _hex_like(run: str) -> bool:
    return any(c.isdigit() for c in run) and any(not c.isdigit() for c in run)


def _first_material(text: str) -> int | None:
    """Offset of the first run in ``text`` that looks like base64 or hex key material, or None."""
    starts = [m.start() for m in _HEX_RUN_RE.finditer(text) if _hex_like(m.group(0))][:1]
    starts += [m.start() for m in _BASE64_RUN_RE.finditer(text) if _base64_like(m.group(0))][:1]
    return min(starts) if starts else None


def _pem_kind(text: str) -> str | None:
    if _PRIVATE_RE.search(text):
        return "a private key"
    if _PEM_MARK_RE.search(text):
        return "PEM text"
    return None


def secret_kind(text: str) -> str | None:
    """What ``text`` looks like if it could be secret: ``a private key``, ``PEM text``, ``key material``."""
    kind = _pem_kind(text[:_SCAN_LIMIT])
    if kind is None and _first_material(text[:_SCAN_LIMIT]) is not None:
        kind = "key material"
    return kind


def format_int(number: int) -> str:
    """``number`` in decimal, or its approximate size when it has more than MAX_SHOWN_DIGITS digits."""
    if -(10**MAX_SHOWN_DIGITS) < number < 10**MAX_SHOWN_DIGITS:
        return str(number)
    digits = int(abs(number).bit_length() * _LOG10_2) + 1
    sign = "a negative" if number < 0 else "an"
    return f"{sign} integer of about {digits} digits"


def describe_text(text: str) -> str:
    """A short, safe rendering of a string: the string itself when short and harmless, else a description."""
    text = str(text)  # Ansible's tagged and unsafe strings are str subclasses with their own repr
    size = len(text)
    kind = _pem_kind(text[:_SCAN_LIMIT])
    if kind is not None:
        return f"a {size}-character string that looks like {kind} (not shown)"
    cut = min(size, SHORT)
    material = _first_material(text[: SHORT + 64])
    if material is not None:
        cut = min(cut, material)
    if cut == size:
        return repr(text)
    if cut == 0:
        return f"a {size}-character string that looks like key material (not shown)"
    return f"{text[:cut]!r}... ({size} characters)"


def describe(value: Any) -> str:
    """A short, safe rendering of any value for an error message (never a secret, never a long value)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return format_int(value)
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return describe_text(value)
    if isinstance(value, (bytes, bytearray)):
        kind = secret_kind(bytes(value[:_SCAN_LIMIT]).decode("latin-1"))
        return f"a bytes value of {len(value)} bytes" + (f" that looks like {kind} (not shown)" if kind else "")
    if isinstance(value, Mapping):
        return f"a dict with {len(value)} key" + ("" if len(value) == 1 else "s")
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} item" + ("" if len(value) == 1 else "s")
    return f"a {type(value).__name__}"


def describe_url(value: Any) -> str:
    """A URL for a message: its scheme and host only, ``/...`` for the rest (a path, query or user part may hold
    a token). Anything else as ``describe`` shows it."""
    if isinstance(value, str):
        try:
            parts = urlsplit(value[:_SCAN_LIMIT])
            host = parts.hostname
        except ValueError:  # unbalanced brackets, a bad port
            return describe(value)
        if parts.scheme and host:
            rest = bool(parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc)
            return describe_text(f"{parts.scheme}://{host}" + ("/..." if rest else ""))
    return describe(value)


def type_name(value: Any) -> str:
    """``a string``, ``a list``, ``an integer``...: the kind of ``value`` in words, for 'must be X, got Y'."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a dict"
    return f"a {type(value).__name__}"
