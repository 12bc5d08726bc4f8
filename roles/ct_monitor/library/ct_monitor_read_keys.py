#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Read the public half of the certificates and staged keys a host holds, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ct_monitor_read_keys
short_description: Read the public half of certificates and staged keys on the host that holds them
description:
  - For each of O(files), returns public PEM text only. A certificate file (or a chain, leaf first) gives its first
    certificate; a key staged for the next rollover gives its public key, derived on the host with
    C(openssl pkey -pubout), so that a private key never leaves its host. A staged public key is returned as it is.
  - The ct_monitor role fingerprints the results on the controller (filter C(spki_sha256)). One call per host, read
    only; the TLS roles' local facts will replace it.
options:
  files:
    description: The files to read.
    type: list
    elements: dict
    required: true
    suboptions:
      path: {description: Absolute path on the host., type: path, required: true}
      next_key: {description: Whether the file is a key (staged for a rollover) rather than a certificate., type: bool,
                 default: false}
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode (it changes nothing).
"""

EXAMPLES = r"""
- name: Read the public half of a certificate and of the key staged for the next rollover
  ct_monitor_read_keys:
    files:
      - {path: /etc/ssl/mail.crt}
      - {path: /etc/ssl/mail.next.key, next_key: true}
"""

RETURN = r"""
files:
  description: The entries of O(files) in the same order, each with C(public), the public PEM text read.
  returned: always
  type: list
  elements: dict
"""

import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_pem import certificate_blocks
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils.bulwark_pem import certificate_blocks


Runner = Callable[[Sequence[str]], "tuple[int, str, str]"]


class ReadError(Exception):
    """A file is missing or holds nothing public to read; the message names it, never its content."""


def public_pem(path: str, next_key: bool, run: Runner) -> str:
    """The public PEM of ``path``: its first certificate, or the public key of a (staged) key."""
    if not os.path.isfile(path):
        raise ReadError(f"{path} does not exist")
    if not next_key:
        with open(path, encoding="ascii", errors="replace") as handle:
            blocks = certificate_blocks(handle.read())
        if not blocks:
            raise ReadError(f"{path} holds no PEM certificate")
        return blocks[0] + "\n"
    for argv in (["openssl", "pkey", "-in", path, "-pubout"], ["openssl", "pkey", "-pubin", "-in", path, "-pubout"]):
        rc, out, _err = run(argv)
        if rc == 0 and "-----BEGIN PUBLIC KEY-----" in out:
            return out
    # openssl's message could quote the file: say only that it is not a key.
    raise ReadError(f"{path} is not a private or public key openssl can read (unencrypted PEM)")


def main() -> None:
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": {
            "path": {"type": "path", "required": True},
            "next_key": {"type": "bool", "default": False},
        }}},
        supports_check_mode=True,
    )
    if shutil.which("openssl") is None and any(f["next_key"] for f in module.params["files"]):
        module.fail_json(msg="openssl is needed to read the public half of a staged key, and is not installed")

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        return module.run_command(list(argv), environ_update={"LC_ALL": "C"})

    given: list[dict[str, Any]] = module.params["files"]
    try:
        files = [dict(f, public=public_pem(f["path"], f["next_key"], run)) for f in given]
    except ReadError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, files=files)


if __name__ == "__main__":
    main()
