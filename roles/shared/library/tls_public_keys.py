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
    SubjectPublicKeyInfo (the TLSA C(3 1 1) value, certspotter's C(PUBKEY_SHA256)). For a service with
    O(services[].issuer), also the certificate of the CA that issued each served certificate (the C(2 1 1)
    DANE-TA value of RFC 7671 section 5.2), found in the certificate file after the leaf or in its C(chain) file;
    the host's C(openssl verify) checks that it really signed the leaf, not only that the names match.
  - The public keys are derived on the host with its own C(openssl); a private key never leaves the host and
    nothing secret is returned.
  - The services come from the local facts the roles publish (O(fact_paths), the web roles'
    C(ansible_local.bulwark_tls), mail_tls's C(ansible_local.bulwark_mail)), read on the host so that they are
    never stale. Only when the host has none of them are O(fallback) services read instead (for example the
    inventory's C(tls_sites) of a host no Bulwark web role manages). O(services) are always read.
  - A published fact may also carry a C(mail) section (mail_tls's mail domain, MTA-STS policy and TLS-RPT
    addresses); it is returned as it is in RV(mail), for dns_records to publish their records.
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
      issuer:
        description: Also return the certificate that issued each served certificate (a key of kind V(issuer)).
        type: bool
        default: false
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
          chain:
            description: CA certificates that issue O(services[].certificates[].cert); searched for its issuer after
              the certificates that follow the leaf in the cert file.
            type: path
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
    description: Services read only when the host has none of the published facts of O(fact_paths).
    type: list
    elements: dict
    default: []
    suboptions: *service_options
  fact_paths:
    description:
      - The published facts (JSON, schema 1, C(sites) in the shape of O(services)), each read when it exists.
        Empty reads none.
      - The alias O(fact_path) takes one path, as the first release did.
    type: list
    elements: path
    aliases: [fact_path]
    default: [/etc/ansible/facts.d/bulwark_tls.fact, /etc/ansible/facts.d/bulwark_mail.fact]
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
  description: Whether the host has a published fact (then its sites were read, not O(fallback)).
  returned: always
  type: bool
mail:
  description: The C(mail) sections of the published facts (mail_tls's C(domain), C(mta_sts_policy), C(tls_rpt)).
  returned: always
  type: list
  elements: dict
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
          description: V(current) (a served certificate), V(next) (a staged key), V(rollover) (a key of a rollover
            in progress) or V(issuer) (the CA certificate that issued a served one).
          type: str
        path: {description: The file read on the host., type: str}
        certificate: {description: The leaf certificate (the issuer's for V(issuer); PEM); null for a next key., type: str}
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
import tempfile
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


def _certificate_key(run: Runner, openssl: str, block: str, kind: str, path: str, what: str) -> dict[str, Any]:
    """One PEM certificate as a key entry: the certificate, its public key and the key's digest."""
    pem = (block + "\n").encode("ascii")
    certificate = _openssl(run, [openssl, "x509", "-outform", "PEM"], pem, what).decode("ascii")
    spki_pem = _openssl(run, [openssl, "x509", "-noout", "-pubkey"], pem, what)
    key_pem, digest = public_key(run, openssl, spki_pem, what)
    return {"kind": kind, "path": path, "certificate": certificate, "public_key": key_pem, "spki_sha256": digest}


def read_certificate(run: Runner, openssl: str, path: str) -> dict[str, Any]:
    """The leaf of a certificate file and its public key."""
    return _certificate_key(run, openssl, _blocks(path, "cert")[0], "current", path, f"cert {path}")


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


def read_issuer(run: Runner, openssl: str, path: str, chain: str | None) -> dict[str, Any]:
    """The certificate that issued the leaf of ``path``: after the leaf in the file, else in ``chain``.

    The host's ``openssl verify`` decides, with the candidate as the only trusted certificate: the candidate's
    name, its CA status and its signature over the leaf must all hold; validity dates are not checked (a DANE-TA
    record pins the issuer's key, whatever its certificate's dates).
    """
    leaf, *after = _blocks(path, "cert")
    candidates = [(block, path) for block in after]
    if chain and os.path.exists(chain):
        candidates += [(block, chain) for block in _blocks(chain, "chain")]
    leaf_pem = (leaf + "\n").encode("ascii")
    for block, where in candidates:
        if block.strip() == leaf.strip():
            continue
        handle = tempfile.NamedTemporaryFile("w", prefix="bulwark-issuer-", suffix=".pem", delete=False)
        try:
            with handle:
                handle.write(block + "\n")
            rc, _out, _err = run([openssl, "verify", "-no_check_time", "-partial_chain", "-no-CAfile", "-no-CApath",
                                  "-no-CAstore", "-trusted", handle.name], leaf_pem)
        finally:
            os.unlink(handle.name)
        if rc == 0:
            return _certificate_key(run, openssl, block, "issuer", where, f"issuer in {where}")
    raise ReadError(f"cert {path}: the certificate that issued it is neither in the file after it nor in "
                    f"{'chain ' + chain if chain else 'a chain file (none given)'}; a 2 1 1 (issuer) record needs it")


def _blocks(path: str, what: str) -> list[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            blocks = certificate_blocks(handle.read())
    except OSError as exc:
        raise ReadError(f"{what} {path}: {exc.strerror or exc}") from None
    except PemError as exc:  # its message describes the block, never quotes it
        raise ReadError(f"{what} {path}: {exc}") from None
    if not blocks:
        raise ReadError(f"{what} {path}: no PEM certificate in the file")
    return blocks


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


def read_fact(path: str) -> dict[str, Any] | None:
    """The published fact (checked: schema and a sites list), or None when the host has none."""
    fact = read_json(path, "fact")
    if fact is None:
        return None
    if not isinstance(fact, Mapping) or fact.get("schema") != FACT_SCHEMA or not isinstance(fact.get("sites"), list):
        raise ReadError(f"fact {path}: not a schema {FACT_SCHEMA} Bulwark TLS fact (a 'sites' list)")
    if fact.get("mail") is not None and not isinstance(fact["mail"], Mapping):
        raise ReadError(f"fact {path}: its 'mail' section is not a mapping")
    return dict(fact)


def read_services(services: Sequence[Mapping[str, Any]], source: str, run: Runner, openssl: str,
                  cache: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Each service with its keys; a file listed twice is read once."""
    result = []
    for service in services:
        keys = []
        for entry in service.get("certificates") or []:
            readers: list[tuple[str, Any, Callable[[], dict[str, Any]]]] = [
                ("current", entry.get("cert"), lambda e=entry: read_certificate(run, openssl, str(e["cert"]))),
                ("next", entry.get("next_key"), lambda e=entry: read_next_key(run, openssl, str(e["next_key"]))),
            ]
            if service.get("issuer"):
                readers.append(("issuer", entry.get("cert"),
                                lambda e=entry: read_issuer(run, openssl, str(e["cert"]), e.get("chain"))))
            # Rollover keys exist only while a rollover is under way: the ones that exist are read.
            readers += [("rollover", path, lambda path=path: read_next_key(run, openssl, str(path), kind="rollover"))
                        for path in entry.get("rollover_keys") or [] if os.path.isfile(str(path))]
            for kind, path, reader in readers:
                if not path:
                    continue
                if (kind, path) not in cache:
                    cache[(kind, path)] = reader()
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


def read_all(services: Sequence[Mapping[str, Any]], fallback: Sequence[Mapping[str, Any]],
             fact_paths: str | Sequence[str], run: Runner, openssl: str, acme_fact_path: str = "") -> dict[str, Any]:
    """The module's result. ``fact_paths``: the published facts to read (one path, as before, or several)."""
    paths = [fact_paths] if isinstance(fact_paths, str) else list(fact_paths)
    facts = [fact for fact in (read_fact(path) for path in paths if path) if fact is not None]
    acme = read_acme_fact(acme_fact_path)
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    result = read_services(services, "services", run, openssl, cache)
    for fact in facts:
        result += read_services(fact["sites"], "published", run, openssl, cache)
    if not facts:
        result += read_services(fallback, "fallback", run, openssl, cache)
    # acme_certificates' own services: certificates no web role publishes (a web site's are read above), and only
    # those issued (the fact lists a certificate before its first order).
    read_paths = {path for kind, path in cache if kind == "current"}
    acme_services = [{**service, "certificates": [c for c in service.get("certificates") or []
                                                  if isinstance(c, Mapping) and c.get("cert") not in read_paths
                                                  and os.path.isfile(str(c.get("cert")))]}
                     for service in acme["services"]]
    result += read_services([s for s in acme_services if s["certificates"]], "acme", run, openssl, cache)
    return {"published": bool(facts), "services": result,
            "mail": [dict(fact["mail"]) for fact in facts if fact.get("mail")],
            "acme": {"accounts": acme["accounts"], "certificates": acme["certificates"]}}


def main() -> None:
    service_options = {
        "names": {"type": "list", "elements": "str", "required": True},
        "port": {"type": "int", "required": True},
        "proto": {"type": "str", "default": "tcp", "choices": ["tcp", "udp", "sctp"]},
        "issuer": {"type": "bool", "default": False},
        "certificates": {"type": "list", "elements": "dict", "required": True, "options": {
            "cert": {"type": "path", "required": True},
            "chain": {"type": "path"},
            "next_key": {"type": "path", "no_log": False},
            "rollover_keys": {"type": "list", "elements": "path", "default": [], "no_log": False},
        }},
    }
    module = AnsibleModule(
        argument_spec={
            "services": {"type": "list", "elements": "dict", "default": [], "options": service_options},
            "fallback": {"type": "list", "elements": "dict", "default": [], "options": service_options},
            "fact_paths": {"type": "list", "elements": "path", "aliases": ["fact_path"],
                           "default": ["/etc/ansible/facts.d/bulwark_tls.fact", "/etc/ansible/facts.d/bulwark_mail.fact"]},
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
        result = read_all(module.params["services"], module.params["fallback"], module.params["fact_paths"] or [],
                          run, openssl, module.params["acme_fact_path"] or "")
    except ReadError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
