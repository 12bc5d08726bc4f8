# -*- coding: utf-8 -*-
"""DNS names as Bulwark accepts them: one implementation for every filter and module.

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 253  # presentation length without the trailing dot
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def label_problem(label: str) -> str | None:
    """Why ``label`` is not a host-name label (letters, digits, inner hyphens, 1-63 long), or None."""
    if not label:
        return "it has an empty label"
    if len(label) > 63:
        return "a label is longer than 63 characters"
    if not _LABEL_RE.fullmatch(label):
        return f"label {label!r} must be letters, digits and hyphens, not starting or ending with a hyphen"
    return None


def name_problem(name: str, wildcard: bool = False) -> str | None:
    """Why ``name`` (no trailing dot) is not a host name, or None.

    ``wildcard`` allows one leading ``*.`` label (certificate and TLS site names).
    """
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


def is_label(text: str) -> bool:
    """Whether ``text`` is one host-name label (also the shape of RFC 8657 method names like dns-01)."""
    return label_problem(text) is None
