#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Which ACME CAs answer, and what their renewal information (ARI, RFC 9773) says, in one quick call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acme_ca_status
short_description: Ask each ACME CA once whether it answers, and its renewal information for every certificate
description:
  - Fetches each CA's ACME directory, once, with a short timeout and no retries, so a CA that is down costs
    seconds rather than the minutes community.crypto's ACME client spends retrying (20 times, 10 s apart).
  - For every certificate, asks the CA that issued it for its ACME Renewal Information (RFC 9773, the
    directory's C(renewalInfo)) and decides whether the renewal window has opened. The moment inside the
    window is fixed per certificate (from its serial), so a fleet spreads its renewals over the window as
    the RFC asks, and every run decides the same.
  - Read-only; runs on the controller (delegated to localhost).
options:
  cas:
    description: ACME directory URL by CA name (e.g. primary, backup); empty URLs are left out.
    type: dict
    required: true
  certificates:
    description: Certificates to ask about - C(id), C(ca) (the name in O(cas)) and C(certificate) (PEM, the leaf).
    type: list
    elements: dict
    default: []
  ca_bundle:
    description: CA file to trust for the CAs' HTTPS; empty uses the system's.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 10
requirements: [cryptography]
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode (it never changes anything).
"""

EXAMPLES = r"""
- name: Which CAs answer, and does ARI say renew?
  acme_ca_status:
    cas: {primary: https://acme-v02.api.letsencrypt.org/directory}
    certificates: [{id: www/ecdsa, ca: primary, certificate: "{{ pem }}"}]
  delegate_to: localhost
"""

RETURN = r"""
cas:
  description: By CA name - C(up), C(error), C(renewal_info) (the ARI endpoint, or null).
  returned: always
  type: dict
ari:
  description: By certificate id - C(should_renew), C(msg), C(window) (C(start), C(end)), C(error).
  returned: always
  type: dict
"""

import base64
import datetime
import hashlib
import json
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

try:
    from cryptography import x509
except ImportError:  # reported by main()
    x509 = None  # type: ignore[assignment]

Fetch = Callable[[str], Any]  # URL -> decoded JSON; raises on any failure


def cert_id(pem: str) -> str:
    """The ARI certificate identifier: base64url(authority key identifier) "." base64url(serial number)."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    serial = cert.serial_number
    raw = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # DER integer content: a leading 0 keeps it positive

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"{b64(aki)}.{b64(raw)}"


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def decide(window: dict[str, str], serial_key: str, now: datetime.datetime) -> tuple[bool, str]:
    """Whether to renew now: past a moment inside the suggested window, fixed by ``serial_key``."""
    start, end = _time(window["start"]), _time(window["end"])
    fraction = int(hashlib.sha256(serial_key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    moment = start + (end - start) * fraction
    if now >= moment:
        return True, f"the renewal window {window['start']} - {window['end']} has opened (this certificate's moment: " \
                     f"{moment.isoformat(timespec='seconds')})"
    return False, f"renewal window {window['start']} - {window['end']}; not yet"


def status(cas: dict[str, str], certificates: list[dict[str, Any]], fetch: Fetch,
           now: datetime.datetime) -> dict[str, Any]:
    """Pure, given ``fetch``."""
    result: dict[str, Any] = {"cas": {}, "ari": {}}
    for name, url in cas.items():
        if not url:
            continue
        try:
            directory = fetch(url)
            result["cas"][name] = {"up": True, "error": None, "renewal_info": directory.get("renewalInfo")}
        except Exception as exc:  # noqa: BLE001 - any failure means the CA does not answer now
            result["cas"][name] = {"up": False, "error": str(exc) or type(exc).__name__, "renewal_info": None}
    for cert in certificates:
        ca = result["cas"].get(cert.get("ca") or "primary") or {}
        entry: dict[str, Any] = {"should_renew": False, "msg": "", "window": None, "error": None}
        if not ca.get("up"):
            entry["error"] = f"the {cert.get('ca')} CA does not answer"
        elif not ca.get("renewal_info"):
            entry["msg"] = "the CA offers no renewal information (ARI)"
        else:
            try:
                identifier = cert_id(cert["certificate"])
                info = fetch(f"{ca['renewal_info'].rstrip('/')}/{identifier}")
                entry["window"] = info["suggestedWindow"]
                entry["should_renew"], entry["msg"] = decide(info["suggestedWindow"], identifier, now)
            except Exception as exc:  # noqa: BLE001 - no advice; the other reasons to renew still apply
                entry["error"] = str(exc) or type(exc).__name__
        result["ari"][cert["id"]] = entry
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "cas": {"type": "dict", "required": True},
            "certificates": {"type": "list", "elements": "dict", "default": []},
            "ca_bundle": {"type": "str", "default": ""},
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    if x509 is None:
        module.fail_json(msg="acme_ca_status needs the Python cryptography library on the controller")

    def fetch(url: str) -> Any:
        # One try: a CA that does not answer now is down for this run.
        with open_url(url, timeout=module.params["timeout"], ca_path=module.params["ca_bundle"] or None,
                      http_agent="bulwark-acme_certificates") as response:
            return json.loads(response.read().decode("utf-8"))

    cas = {str(k): str(v or "") for k, v in module.params["cas"].items()}
    now = datetime.datetime.now(datetime.timezone.utc)
    module.exit_json(changed=False, **status(cas, module.params["certificates"], fetch, now))


if __name__ == "__main__":
    main()
