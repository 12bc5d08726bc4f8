# -*- coding: utf-8 -*-
"""The audit's check modules, named: each registers the checks of its service kinds when imported (see
bulwark_audit), and ``REGISTRY`` holds exactly theirs and the core's, in report order. audit_host runs these
checks and audit_report lists them; a new check module goes into CHECK_MODULES.
"""

from __future__ import annotations

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils import (
        bulwark_audit_dns, bulwark_audit_http, bulwark_audit_mail, bulwark_audit_net, bulwark_audit_tls)
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit import registry
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils import (
        bulwark_audit_dns, bulwark_audit_http, bulwark_audit_mail, bulwark_audit_net, bulwark_audit_tls)
    from ansible.module_utils.bulwark_audit import registry

CHECK_MODULES = (bulwark_audit_net, bulwark_audit_tls, bulwark_audit_http, bulwark_audit_dns, bulwark_audit_mail)
REGISTRY = registry(CHECK_MODULES)
