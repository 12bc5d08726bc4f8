# -*- coding: utf-8 -*-
"""Verify helpers for the audit's reports (molecule only): which checks failed, against what a test expects.

* ``audit_failures(document)`` - "host|service|check" of every failed finding of an audit.json document.
* ``audit_unmatched(items, patterns)`` - the items that no regular expression of ``patterns`` matches;
  ``audit_unmatched(patterns, items)`` with ``patterns`` as items needs the other direction, so
  ``audit_unmatched_patterns(items, patterns)`` gives the patterns that match no item.
"""

from __future__ import annotations

import re
from typing import Any


def audit_failures(document: dict[str, Any]) -> list[str]:
    return sorted(f"{f['host']}|{f['service']}|{f['check']}" for f in document.get("findings", [])
                  if f.get("result") == "fail")


def audit_unmatched(items: list[str], patterns: list[str]) -> list[str]:
    return [item for item in items if not any(re.search(p, item) for p in patterns)]


def audit_unmatched_patterns(items: list[str], patterns: list[str]) -> list[str]:
    return [p for p in patterns if not any(re.search(p, item) for item in items)]


class FilterModule:
    """Audit report helpers for the molecule verify playbooks."""

    def filters(self) -> dict[str, Any]:
        return {"audit_failures": audit_failures, "audit_unmatched": audit_unmatched,
                "audit_unmatched_patterns": audit_unmatched_patterns}
