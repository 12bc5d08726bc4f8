# -*- coding: utf-8 -*-
"""PEM text as Bulwark reads it: one implementation for every filter and module.

Standard library only: modules import this on the managed host, filters on the controller.
"""

from __future__ import annotations

import re

_CERTIFICATE_RE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)


def certificate_blocks(text: str) -> list[str]:
    """The ``CERTIFICATE`` PEM blocks of ``text``, in order, each as written (no trailing newline)."""
    return _CERTIFICATE_RE.findall(text)
