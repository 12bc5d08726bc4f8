# -*- coding: utf-8 -*-
"""Mail checks (kind ``mail``): registered now so the report, the schema and the plan know them, and
answered "not applicable" until the mail_tls role lands and its declaration (the hosts, names and MTA-STS
policy it publishes) is known. Each check names what it will look at; see docs/audit.md for the wiring.
"""

from __future__ import annotations

from typing import Any

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, check
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, check

PENDING = "not implemented yet: waits for the mail_tls role's declaration (docs/audit.md, 'Mail')"

MAIL_CHECKS = {
    "starttls": "SMTP on 25 offers STARTTLS with the TLS profile (openssl s_client -starttls smtp, sslyze)",
    "dane-25": "_25._tcp.MX TLSA validates and matches the certificate served after STARTTLS",
    "mta-sts": "_mta-sts TXT id and https://mta-sts.DOMAIN/.well-known/mta-sts.txt agree with the MX set",
    "tls-rpt": "_smtp._tls TXT publishes a TLS-RPT rua address",
}


def _pending(name: str) -> Any:
    def run(ctx: Context, service: dict[str, Any]) -> Any:
        return ctx.finding(service, name, "n/a", f"{PENDING}; will check: {MAIL_CHECKS[name]}")

    run.__doc__ = MAIL_CHECKS[name]
    return run


for _name in MAIL_CHECKS:
    check("mail", _name)(_pending(_name))
