#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: check one host of the fleet from where it runs (the controller or a probe host)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_host
short_description: Check one host from outside against its declaration
description:
  - Runs every check registered for the kinds of service in O(plan) (host, firewall, https, dns, mail) with
    independent clients on the machine the module runs on (delegate it to the probe), namely nmap, sslyze
    (Python library), openssl, curl and dnspython with its own DNSSEC validation.
  - Never changes anything and never contacts the audited host other than as a client would.
  - A tool missing on the probe makes the checks that need it C(n/a) and adds one C(warn) finding that says
    so; an unreachable host or one without an address gets one C(fail) and the rest C(n/a).
version_added: "1.0.0"
author: Bulwark maintainers (@bulwark)
options:
  plan:
    description:
      - What to check on the host, as the C(audit_plan) filter builds it from the inventory
        (C(host), C(addresses), C(services)).
    type: dict
    required: true
  options:
    description:
      - Settings shared by every host (C(probe), C(trust_anchors), C(dns_servers), C(ca_pem), C(caa_identities),
        C(scan_ports), C(scan_rate), C(timeout), C(warn_days)); see the audit role's defaults.
    type: dict
    default: {}
notes:
  - Check mode is supported; the module only reads, in any mode.
"""

EXAMPLES = r"""
- name: Check this host from the controller
  audit_host:
    plan: "{{ inventory_hostname | audit_plan(hostvars, groups, __audit_context) }}"
    options: "{{ __audit_options }}"
  delegate_to: localhost
"""

RETURN = r"""
findings:
  description: One item per check and service.
  returned: always
  type: list
  elements: dict
  sample:
    - host: web-nginx
      service: www.example.org:443
      check: tls-versions
      result: pass
      evidence: "accepted TLSv1.2, TLSv1.3; intermediate profile: TLSv1.2, TLSv1.3"
tools:
  description: The independent clients found on the probe (name to version or path; null when missing).
  returned: always
  type: dict
seconds:
  description: Wall time of the checks.
  returned: always
  type: float
timings:
  description: C([service, check, seconds]) of every check, slowest first (a check that waits for shared
    evidence, such as the sslyze scan, includes that wait).
  returned: always
  type: list
  elements: list
"""

import time

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import Context, run_host
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_checks import REGISTRY
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit import Context, run_host
    from ansible.module_utils.bulwark_audit_checks import REGISTRY


def main() -> None:
    module = AnsibleModule(
        argument_spec={"plan": {"type": "dict", "required": True}, "options": {"type": "dict", "default": {}}},
        supports_check_mode=True,
    )
    plan, options = module.params["plan"], module.params["options"] or {}
    if not plan.get("host"):
        module.fail_json(msg="plan: needs 'host' (build it with the audit_plan filter)")
    started = time.monotonic()
    ctx = Context(plan, options)
    findings = [f.as_dict() for f in run_host(ctx, REGISTRY)]
    module.exit_json(changed=False, findings=findings, tools=ctx.tools, seconds=round(time.monotonic() - started, 2),
                     timings=[list(t) for t in sorted(ctx.timings, key=lambda t: -t[2])])


if __name__ == "__main__":
    main()
