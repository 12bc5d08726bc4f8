#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Read the public half of every key a host serves or has staged, in one call; private keys stay on the host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_public_keys
short_description: Read the certificates and public keys a host serves or has staged, in one call
description:
  - Returns, for every TLS service of the host, the leaf certificate (PEM) and its public key, and for every
    key staged for the next rollover (C(next_key)) its public key, each with the SHA-256 of its
    SubjectPublicKeyInfo (the TLSA C(3 1 1) value, certspotter's C(PUBKEY_SHA256)).
  - The public keys are derived on the host with its own C(openssl); a private key never leaves the host and
    nothing secret is returned.
  - The services come from the local fact the web roles publish (O(fact_path), C(ansible_local.bulwark_tls)),
    read on the host so that it is never stale. Only when the host has no such fact are O(fallback) services
    read instead (for example the inventory's C(tls_sites) of a host no Bulwark web role manages). O(services)
    are always read.
  - What acme_certificates keeps on the host is read from its local fact (O(acme_fact_path)) - the public keys
    of a key rollover in progress (C(rollover_keys)), the services of certificates no web role serves (a mail
    server's), and the ACME accounts and names that dns_records publishes CAA C(accounturi) records for
    (RV(acme)).
  - This is the one reader of Bulwark's key set; dns_records uses it, and ct_monitor can too (docs/dns_records.md).
options:
  services:
    description: TLS services that are always read.
    type: list
    elements: dict
    default: []
    suboptions: &service_options
      names:
        description: The DNS names the service answers for.
        type: list
        elements: str
        required: true
      port:
        description: Its port.
        type: int
        required: true
      proto:
        description: Its transport protocol.
        type: str
        default: tcp
        choices: [tcp, udp, sctp]
      certificates:
        description: Its certificates.
        type: list
        elements: dict
        required: true
        suboptions:
          cert:
            description: The certificate file (leaf first; intermediates may follow).
            type: path
            required: true
          next_key:
            description: The key staged for the next rollover, private or public (PEM). Its public key is returned.
            type: path
          rollover_keys:
            description:
              - Public keys of a rollover in progress (acme_certificates' C(<type>.next.pub) and
                C(<type>.previous.pub)). Each one that exists is read (kind V(rollover)); one that does not is
                skipped, since they exist only during a rollover.
            type: list
            elements: path
            default: []
  fallback:
    description: Services read only when the host has no published fact at O(fact_path).
    type: list
    elements: dict
    default: []
    suboptions: *service_options
  fact_path:
    description: The published fact (JSON, schema 1, C(sites) in the shape of O(services)). Empty reads none.
    type: path
    default: /etc/ansible/facts.d/bulwark_tls.fact
  acme_fact_path:
    description:
      - The local fact of acme_certificates (JSON, schema 1). Its C(services) are read like O(services), except
        certificates already read through the published fact and certificates not issued yet; its C(accounts) and
        certificate names are returned in RV(acme). Empty or missing reads none.
    type: path
    default: /etc/ansible/facts.d/bulwark_acme.fact
  openssl:
    description: The openssl program.
    type: str
    default: openssl
author: Bulwark maintainers (@bulwark)
notes:
  - Read-only; supports check mode.
"""

EXAMPLES = r"""
- name: Read the key set of every TLS host, one call per host
  tls_public_keys:
    fallback: "{{ hostvars[item].tls_sites | default([]) | tls_key_services }}"
  delegate_to: "{{ item }}"
  loop: "{{ groups['web_servers'] }}"
  register: key_reads
"""

RETURN = r"""
published:
  description: Whether the host has the published fact (then its sites were read, not O(fallback)).
  returned: always
  type: bool
services:
  description: Every service read, with what was found.
  returned: always
  type: list
  elements: dict
  contains:
    names: {description: The DNS names., type: list, elements: str}
    port: {description: The port., type: int}
    proto: {description: The protocol., type: str}
    source: {description: "Where it came from: V(published), V(services), V(fallback) or V(acme).", type: str}
    keys:
      description: One entry per certificate and one per staged next key.
      type: list
      elements: dict
      contains:
        kind:
          description: V(current) (a served certificate), V(next) (a staged key) or V(rollover) (a key of a rollover in progress).
          type: str
        path: {description: The file read on the host., type: str}
        certificate: {description: The leaf certificate (PEM); null for a next key., type: str}
        public_key: {description: "The public key (SubjectPublicKeyInfo, PEM).", type: str}
        spki_sha256: {description: SHA-256 of the DER SubjectPublicKeyInfo (hex)., type: str}
acme:
  description:
    - What acme_certificates' fact says besides its services, for CAA C(accounturi) records; empty lists without one.
  returned: always
  type: dict
  contains:
    accounts: {description: "C(ca), C(directory), C(account_uri), C(caa_identity) of each ACME account.", type: list, elements: dict}
    certificates: {description: "C(domains) and C(challenge) of each certificate.", type: list, elements: dict}
"""

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_pem import PemError, certificate_blocks
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils.bulwark_pem import PemError, certificate_blocks


FACT_SCHEMA = 1
ACME_FACT_SCHEMA = 1
Runner = Callable[[Sequence[str], "bytes | None"], "tuple[int, bytes, bytes]"]


class ReadError(Exception):
    """A file that cannot be read as what it should be; the message names the file, never its content."""


def _openssl(run: Runner, argv: Sequence[str], data: bytes | None, what: str) -> bytes:
    rc, out, err = run(argv, data)
    if rc != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise ReadError(f"{what}: {lines[-1] if lines else 'openssl failed'}")
    return out


def public_key(run: Runner, openssl: str, pem_public_key: bytes, what: str) -> tuple[str, str]:
    """The canonical PEM and the hex SHA-256 of the DER SubjectPublicKeyInfo of a public key."""
    der = _openssl(run, [openssl, "pkey", "-pubin", "-outform", "DER"], pem_public_key, what)
    pem = _openssl(run, [openssl, "pkey", "-pubin", "-pubout"], pem_public_key, what)
    return pem.decode("ascii"), hashlib.sha256(der).hexdigest()


def read_certificate(run: Runner, openssl: str, path: str) -> dict[str, Any]:
    """The leaf of a certificate file and its public key."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            blocks = certificate_blocks(handle.read())
    except OSError as exc:
        raise ReadError(f"cert {path}: {exc.strerror or exc}") from None
    except PemError as exc:  # its message describes the block, never quotes it
        raise ReadError(f"cert {path}: {exc}") from None
    if not blocks:
        raise ReadError(f"cert {path}: no PEM certificate in the file")
    leaf = (blocks[0] + "\n").encode("ascii")
    certificate = _openssl(run, [openssl, "x509", "-outform", "PEM"], leaf, f"cert {path}").decode("ascii")
    spki_pem = _openssl(run, [openssl, "x509", "-noout", "-pubkey"], leaf, f"cert {path}")
    key_pem, digest = public_key(run, openssl, spki_pem, f"cert {path}")
    return {"kind": "current", "path": path, "certificate": certificate, "public_key": key_pem,
            "spki_sha256": digest}


def read_next_key(run: Runner, openssl: str, path: str, kind: str = "next") -> dict[str, Any]:
    """The public key of a staged key file (private or public); openssl reads the file, we never do."""
    if not os.path.isfile(path):
        raise ReadError(f"next_key {path}: no such file")
    try:
        spki_pem = _openssl(run, [openssl, "pkey", "-in", path, "-pubout"], None, f"next_key {path}")
    except ReadError:  # not a private key: a public one needs -pubin
        spki_pem = _openssl(run, [openssl, "pkey", "-pubin", "-in", path, "-pubout"], None,
                            f"next_key {path} (neither a private nor a public key)")
    key_pem, digest = public_key(run, openssl, spki_pem, f"next_key {path}")
    return {"kind": kind, "path": path, "certificate": None, "public_key": key_pem, "spki_sha256": digest}


def read_json(path: str, label: str) -> Any:
    """The JSON document at ``path``, or None when there is no such file; ``label`` names it in errors."""
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ReadError(f"{label} {path}: not readable as JSON ({exc})") from None
    if document is None:  # None means "no file" to the callers
        raise ReadError(f"{label} {path}: holds JSON null")
    return document


def read_fact(path: str) -> list[dict[str, Any]] | None:
    """The sites of the published fact, or None when the host has none."""
    fact = read_json(path, "fact")
    if fact is None:
        return None
    if not isinstance(fact, Mapping) or fact.get("schema") != FACT_SCHEMA or not isinstance(fact.get("sites"), list):
        raise ReadError(f"fact {path}: not a schema {FACT_SCHEMA} Bulwark TLS fact (a 'sites' list)")
    return [dict(site) for site in fact["sites"]]


def _rollover_key(run: Runner, openssl: str, path: str) -> dict[str, Any]:
    return read_next_key(run, openssl, path, kind="rollover")


def read_services(services: Sequence[Mapping[str, Any]], source: str, run: Runner, openssl: str,
                  cache: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Each service with its keys; a file listed twice is read once."""
    result = []
    for service in services:
        keys = []
        for entry in service.get("certificates") or []:
            # Rollover keys exist only while a rollover is under way: the ones that exist are read.
            rollover = [("rollover", path, _rollover_key) for path in entry.get("rollover_keys") or []
                        if os.path.isfile(str(path))]
            for kind, path, reader in (("current", entry.get("cert"), read_certificate),
                                       ("next", entry.get("next_key"), read_next_key), *rollover):
                if not path:
                    continue
                if (kind, path) not in cache:
                    cache[(kind, path)] = reader(run, openssl, str(path))
                keys.append(cache[(kind, path)])
        result.append({"names": [str(name) for name in service.get("names") or []], "port": int(service["port"]),
                       "proto": str(service.get("proto") or "tcp"), "source": source, "keys": keys})
    return result


def read_acme_fact(path: str) -> dict[str, Any]:
    """acme_certificates' fact: ``{services, accounts, certificates}`` (empty lists when the host has none)."""
    empty: dict[str, Any] = {"services": [], "accounts": [], "certificates": []}
    fact = read_json(path, "acme fact")
    if fact is None:
        return empty
    if not isinstance(fact, Mapping) or fact.get("schema") != ACME_FACT_SCHEMA:
        raise ReadError(f"acme fact {path}: not a schema {ACME_FACT_SCHEMA} acme_certificates fact")
    lists = {key: fact.get(key) or [] for key in empty}
    if not all(isinstance(value, list) and all(isinstance(item, Mapping) for item in value) for value in lists.values()):
        raise ReadError(f"acme fact {path}: services, accounts and certificates must be lists of mappings")
    return {
        "services": [dict(service) for service in lists["services"]],
        "accounts": [{key: str(account.get(key) or "") for key in ("ca", "directory", "account_uri", "caa_identity")}
                     for account in lists["accounts"]],
        "certificates": [{"domains": [str(name) for name in cert.get("domains") or []],
                          "challenge": str(cert.get("challenge") or "")} for cert in lists["certificates"]],
    }


def read_all(services: Sequence[Mapping[str, Any]], fallback: Sequence[Mapping[str, Any]], fact_path: str,
             run: Runner, openssl: str, acme_fact_path: str = "") -> dict[str, Any]:
    """The module's result."""
    published = read_fact(fact_path)
    acme = read_acme_fact(acme_fact_path)
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    result = read_services(services, "services", run, openssl, cache)
    if published is not None:
        result += read_services(published, "published", run, openssl, cache)
    else:
        result += read_services(fallback, "fallback", run, openssl, cache)
    # acme_certificates' own services: certificates no web role publishes (a web site's are read above), and only
    # those issued (the fact lists a certificate before its first order).
    read_paths = {path for kind, path in cache if kind == "current"}
    acme_services = [{**service, "certificates": [c for c in service.get("certificates") or []
                                                  if isinstance(c, Mapping) and c.get("cert") not in read_paths
                                                  and os.path.isfile(str(c.get("cert")))]}
                     for service in acme["services"]]
    result += read_services([s for s in acme_services if s["certificates"]], "acme", run, openssl, cache)
    return {"published": published is not None, "services": result,
            "acme": {"accounts": acme["accounts"], "certificates": acme["certificates"]}}


def main() -> None:
    service_options = {
        "names": {"type": "list", "elements": "str", "required": True},
        "port": {"type": "int", "required": True},
        "proto": {"type": "str", "default": "tcp", "choices": ["tcp", "udp", "sctp"]},
        "certificates": {"type": "list", "elements": "dict", "required": True, "options": {
            "cert": {"type": "path", "required": True},
            "next_key": {"type": "path", "no_log": False},
            "rollover_keys": {"type": "list", "elements": "path", "default": [], "no_log": False},
        }},
    }
    module = AnsibleModule(
        argument_spec={
            "services": {"type": "list", "elements": "dict", "default": [], "options": service_options},
            "fallback": {"type": "list", "elements": "dict", "default": [], "options": service_options},
            "fact_path": {"type": "path", "default": "/etc/ansible/facts.d/bulwark_tls.fact"},
            "acme_fact_path": {"type": "path", "default": "/etc/ansible/facts.d/bulwark_acme.fact"},
            "openssl": {"type": "str", "default": "openssl"},
        },
        supports_check_mode=True,
    )
    openssl = module.get_bin_path(module.params["openssl"])
    if openssl is None:
        module.fail_json(msg=f"openssl: {module.params['openssl']} is not installed on the host (it derives the "
                             "public keys)")

    def run(argv: Sequence[str], data: bytes | None) -> tuple[int, bytes, bytes]:
        return module.run_command(list(argv), data=data, binary_data=True, encoding=None,
                                  environ_update={"LC_ALL": "C"})

    try:
        result = read_all(module.params["services"], module.params["fallback"], module.params["fact_path"] or "",
                          run, openssl, module.params["acme_fact_path"] or "")
    except ReadError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
