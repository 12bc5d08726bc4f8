#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: write the audit's JSON and HTML reports and return the terminal summary."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: audit_report
short_description: Write the audit's audit.json and audit.html
description:
  - Merges the results of M(bulwark.hardening.audit_host) for every host into one document, validates it
    against the JSON Schema when the C(jsonschema) library is there, and writes C(audit.json) and C(audit.html)
    (one self-contained page, no JavaScript) into O(output_dir).
  - Returns a short summary for the terminal and the counts, so the play can fail when a check failed.
version_added: "1.0.0"
author: Bulwark maintainers (@bulwark)
options:
  results:
    description:
      - One item per audited host, C(host), C(addresses), and either C(findings), C(tools) and C(seconds)
        (the M(bulwark.hardening.audit_host) result) or C(error) (why the checks could not run).
    type: list
    elements: dict
    required: true
  meta:
    description:
      - The run, C(started), C(probe), C(inventory), C(options), C(not_audited).
    type: dict
    default: {}
  output_dir:
    description: Directory for C(audit.json) and C(audit.html); created when missing.
    type: path
    required: true
  schema:
    description: JSON Schema file to validate the document against; empty skips validation.
    type: path
    default: ""
notes:
  - In check mode nothing is written; the summary is still returned.
"""

EXAMPLES = r"""
- name: Write the reports
  audit_report:
    results: "{{ __audit_results }}"
    meta: {started: "2026-01-01T00:00:00Z", probe: localhost}
    output_dir: audit
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
summary:
  description: The document's totals, C(hosts), C(checks), C(pass), C(fail), C(warn), C(n/a).
  returned: always
  type: dict
lines:
  description: The terminal summary, one line per host and one per failed or warned check.
  returned: always
  type: list
  elements: str
paths:
  description: The files written.
  returned: always
  type: list
  elements: str
"""

import datetime
import json
import os

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_checks import REGISTRY
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_audit_report import (
        build_document, render_html, summary_lines)
except ImportError:  # a role of the repository: module_utils of the `audit` role
    from ansible.module_utils.bulwark_audit_checks import REGISTRY
    from ansible.module_utils.bulwark_audit_report import build_document, render_html, summary_lines


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(started: str, finished: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        return (datetime.datetime.strptime(finished, fmt) - datetime.datetime.strptime(started, fmt)).total_seconds()
    except ValueError:
        return 0.0


def main() -> None:
    module = AnsibleModule(
        argument_spec={"results": {"type": "list", "elements": "dict", "required": True},
                       "meta": {"type": "dict", "default": {}},
                       "output_dir": {"type": "path", "required": True},
                       "schema": {"type": "path", "default": ""}},
        supports_check_mode=True,
    )
    meta = dict(module.params["meta"] or {})
    meta.setdefault("started", _now())
    meta["finished"] = _now()
    meta["seconds"] = _seconds(meta["started"], meta["finished"])
    meta["checks"] = {kind: [c.name for c in checks] for kind, checks in REGISTRY.items()}
    tools: dict = {}
    for result in module.params["results"]:
        tools.update({k: v for k, v in (result.get("tools") or {}).items() if v or k not in tools})
    meta.setdefault("tools", tools)
    document = build_document(module.params["results"], meta)
    schema_path = module.params["schema"]
    if schema_path:
        try:
            import jsonschema
        except ImportError:
            jsonschema = None
        if jsonschema is not None:
            with open(schema_path, encoding="utf-8") as handle:
                errors = sorted(jsonschema.Draft202012Validator(json.load(handle)).iter_errors(document), key=str)
            if errors:
                module.fail_json(msg=f"audit.json does not match {schema_path}: {errors[0].message} at "
                                     f"{'/'.join(map(str, errors[0].absolute_path))}")
    output_dir = module.params["output_dir"]
    paths = [os.path.join(output_dir, "audit.json"), os.path.join(output_dir, "audit.html")]
    if not module.check_mode:
        os.makedirs(output_dir, exist_ok=True)
        for path, text in zip(paths, (json.dumps(document, indent=2, sort_keys=False) + "\n", render_html(document))):
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
    module.exit_json(changed=False, summary=document["summary"], lines=summary_lines(document, paths),
                     paths=paths, hosts=document["hosts"])


if __name__ == "__main__":
    main()
