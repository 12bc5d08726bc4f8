#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Inspect TLS certificates, keys and chains on the managed host with its own openssl tool."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_inspect
short_description: Inspect certificates, keys, chains and the web server's state on the managed host, in one call
description:
  - Reads each certificate, key and chain with the host's own C(openssl) command (the library the web
    servers link against) and reports what a TLS server needs to know before it loads them.
  - Also runs the few read-only commands a server role needs (O(probes), e.g. C(nginx -v),
    C(systemctl is-active nginx)) and says which required commands are missing, so that a re-run of a
    server role needs one call to look at the host instead of one per question.
  - Never changes anything and never returns key material; a key is only used to derive its public key,
    which is compared with the certificate's.
  - Also reports the host's OpenSSL library version, so the caller can leave out what it does not support
    (for example the X25519MLKEM768 group before OpenSSL 3.5).
options:
  certificates:
    description:
      - Certificate entries as in C(tls_sites[].certificates). Each is inspected once, however often it is listed.
    type: list
    elements: dict
    required: true
    suboptions:
      cert:
        description: Certificate file, the leaf first; intermediates may follow (C(fullchain.pem)).
        type: path
        required: true
      key:
        description: Private key of the leaf certificate (unencrypted PEM).
        type: path
        required: true
      chain:
        description: CA certificates that issue O(certificates[].cert) (C(chain.pem)).
        type: path
        required: true
  ciphers:
    description:
      - OpenSSL cipher names for TLS 1.2 to check, as the servers would get them (joined with C(:)). The host's
        OpenSSL must accept the list, or the server would fail to start with it. Empty skips the check.
    type: list
    elements: str
    default: []
  ciphersuites:
    description: TLS 1.3 cipher suites to check in the same way. Empty skips the check.
    type: list
    elements: str
    default: []
  probes:
    description:
      - Read-only commands to run, by name, e.g. name C(version) with the command C([nginx, -v]). A command
        whose program is not installed is not run (its C(rc) is null).
    type: dict
    default: {}
  require:
    description: Programs the caller needs; those not found on the PATH are listed in RV(missing).
    type: list
    elements: str
    default: []
  openssl:
    description: The openssl command to use. When it is missing, certificates are not inspected.
    type: str
    default: openssl
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode; it only reads.
"""

EXAMPLES = r"""
- name: Inspect the certificates of every site
  tls_inspect:
    certificates:
      - cert: /etc/letsencrypt/live/www.example.org/fullchain.pem
        key: /etc/letsencrypt/live/www.example.org/privkey.pem
        chain: /etc/letsencrypt/live/www.example.org/chain.pem
  register: inspection
"""

RETURN = r"""
missing:
  description: Programs of O(require) (and openssl) that are not installed.
  returned: always
  type: list
  elements: str
probes:
  description: For each probe, C(rc) (null when its program is missing), C(stdout) and C(stderr), stripped.
  returned: always
  type: dict
cipher_errors:
  description: What the host's OpenSSL says about O(ciphers) and O(ciphersuites); empty when it accepts both.
  returned: always
  type: list
  elements: str
openssl_version:
  description: Version of the OpenSSL library on the host (the C(Library:) part of C(openssl version)).
  returned: always
  type: str
  sample: 3.5.1
certificates:
  description: One entry per distinct certificate entry, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    cert: {description: The certificate path given., type: str}
    key: {description: The key path given., type: str}
    chain: {description: The chain path given., type: str}
    errors: {description: What is wrong; empty when the entry is usable., type: list, elements: str}
    key_type: {description: "V(rsa), V(ecdsa), V(ed25519) or V(unknown).", type: str}
    names: {description: DNS names of the subjectAltName extension., type: list, elements: str}
    not_after: {description: "Expiry as ISO 8601 UTC, or null when unreadable.", type: str}
    expired: {description: Whether the certificate has expired., type: bool}
    ocsp_uri: {description: "OCSP responder URL of the AIA extension, or null.", type: str}
    chain_pem: {description: The CERTIFICATE blocks of the chain file (public); empty when unreadable., type: str}
    cert_pem: {description: The CERTIFICATE blocks of the certificate file (public); empty when unreadable., type: str}
"""

import base64
import binascii
import datetime
import os
import re
import stat
from collections.abc import Callable, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_pem import (
        MAX_PEM_CHARS, PemError, certificate_blocks)
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils.bulwark_pem import MAX_PEM_CHARS, PemError, certificate_blocks


Runner = Callable[[Sequence[str], "str | None"], "tuple[int, str, str]"]

# DER of the AlgorithmIdentifier OIDs of a SubjectPublicKeyInfo.
_KEY_TYPE_OIDS = (
    ("rsa", bytes.fromhex("06092a864886f70d010101")),  # rsaEncryption
    ("ecdsa", bytes.fromhex("06072a8648ce3d0201")),  # id-ecPublicKey
    ("ed25519", bytes.fromhex("06032b6570")),
)
_VERSION_RE = re.compile(r"OpenSSL (\d+\.\d+\.\d+)")
_LIBRARY_RE = re.compile(r"Library: OpenSSL (\d+\.\d+\.\d+)")
_DNS_RE = re.compile(r"DNS:([^,\s]+)")
_PUBLIC_KEY_RE = re.compile(r"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", re.S)
# -ocsp_uri prints each responder URL alone on a line; subjectAltName lines are indented.
_URI_LINE_RE = re.compile(r"^(?:https?|ldap)://\S+\s*$")


def parse_openssl_version(text: str) -> str | None:
    """The library version from ``openssl version`` output, e.g. ``3.0.19``; None when unrecognised."""
    match = _LIBRARY_RE.search(text) or _VERSION_RE.search(text)
    return match.group(1) if match else None


def parse_enddate(text: str) -> datetime.datetime | None:
    """``notAfter=Jan  2 03:04:05 2027 GMT`` as an aware UTC datetime; None when unrecognised."""
    value = text.strip().partition("=")[2].strip()
    try:
        parsed = datetime.datetime.strptime(" ".join(value.split()), "%b %d %H:%M:%S %Y GMT")
    except ValueError:
        return None
    return parsed.replace(tzinfo=datetime.timezone.utc)


def parse_san_names(text: str) -> list[str]:
    """DNS names from ``openssl x509 -ext subjectAltName`` output, lower-cased, in order."""
    return [name.lower() for name in _DNS_RE.findall(text)]


def pem_body(text: str) -> bytes:
    """The decoded body of the first PEM block in ``text`` (b'' when there is none)."""
    match = re.search(r"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", text, re.S)
    if not match:
        return b""
    try:
        return base64.b64decode("".join(match.group(1).split()))
    except (binascii.Error, ValueError):
        return b""


def spki_key_type(public_key_pem: str) -> str:
    """``rsa``, ``ecdsa``, ``ed25519`` or ``unknown`` for a PEM SubjectPublicKeyInfo."""
    head = pem_body(public_key_pem)[:24]
    for name, oid in _KEY_TYPE_OIDS:
        if oid in head:
            return name
    return "unknown"


def _readable_file(path: str, what: str) -> str | None:
    """An error message when ``path`` is not a readable regular file, else None."""
    if not os.path.exists(path):
        return f"{what} {path} does not exist"
    if not os.path.isfile(path):
        return f"{what} {path} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"{what} {path} is not readable"
    return None


def inspect_entry(entry: dict[str, str], run: Runner, openssl: str = "openssl") -> dict[str, Any]:
    """Everything a server role needs to know about one ``{cert, key, chain}`` entry."""
    cert, key, chain = entry["cert"], entry["key"], entry["chain"]
    result: dict[str, Any] = {
        "cert": cert, "key": key, "chain": chain, "errors": [], "key_type": "unknown", "names": [],
        "not_after": None, "expired": False, "ocsp_uri": None, "chain_pem": "", "cert_pem": "",
    }
    errors: list[str] = result["errors"]
    missing = {what: _readable_file(path, what) for what, path in (("cert", cert), ("key", key), ("chain", chain))}
    errors.extend(msg for msg in missing.values() if msg)

    cert_public = None
    if not missing["cert"]:
        # One openssl call for key, expiry and responder; each part is recognised by its shape, not by its
        # position. The names need a call of their own: with -ext, OpenSSL 3.0 prints no -ocsp_uri.
        rc, out, _err = run([openssl, "x509", "-in", cert, "-noout", "-pubkey", "-enddate", "-ocsp_uri"], None)
        public = _PUBLIC_KEY_RE.search(out) if rc == 0 else None
        if public is None:
            errors.append(f"cert {cert} is not a PEM certificate")
        else:
            cert_public = public.group(0).strip()
            rest = out.replace(public.group(0), "")
            result["key_type"] = spki_key_type(cert_public)
            end_line = next((line for line in rest.splitlines() if line.startswith("notAfter=")), "")
            not_after = parse_enddate(end_line)
            if not_after:
                result["not_after"] = not_after.isoformat()
                if not_after <= datetime.datetime.now(datetime.timezone.utc):
                    result["expired"] = True
                    errors.append(f"cert {cert} expired on {not_after:%Y-%m-%d %H:%M} UTC")
            uris = [line.strip() for line in rest.splitlines() if _URI_LINE_RE.match(line)]
            result["ocsp_uri"] = uris[0] if uris else None
            rc, out, _err = run([openssl, "x509", "-in", cert, "-noout", "-ext", "subjectAltName"], None)
            result["names"] = parse_san_names(out) if rc == 0 else []

    if not missing["key"]:
        mode = stat.S_IMODE(os.stat(key).st_mode)
        if mode & stat.S_IROTH:
            errors.append(f"key {key} is readable by every user (mode {mode:04o}); make it 0600")
        # -passin with an empty password: an encrypted key fails instead of prompting.
        rc, out, _err = run([openssl, "pkey", "-in", key, "-pubout", "-passin", "pass:"], None)
        if rc != 0 or "BEGIN PUBLIC KEY" not in out:
            errors.append(f"key {key} is not an unencrypted PEM private key")
        elif cert_public is not None and out.strip() != cert_public:
            errors.append(f"key {key} does not match cert {cert}")

    # Only the CERTIFICATE blocks: a key given as cert or chain by mistake must not end up in the result.
    for what, path in (("cert", cert), ("chain", chain)):
        if missing[what]:
            continue
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(MAX_PEM_CHARS + 1)  # one more: a longer file is refused, not cut
        try:
            result[f"{what}_pem"] = "".join(block + "\n" for block in certificate_blocks(text))
        except PemError as exc:
            errors.append(f"{what} {path}: {exc}")
    if cert_public is not None and not missing["chain"]:
        # -partial_chain: an intermediate in the chain file is enough as anchor; expiry is reported above.
        rc, out, err = run([openssl, "verify", "-partial_chain", "-no_check_time", "-CAfile", chain, cert], None)
        if rc != 0:
            reason = (err or out).strip().splitlines()
            errors.append(f"chain {chain} does not verify cert {cert}: {reason[-1] if reason else 'openssl verify failed'}")
    return result


def check_ciphers(ciphers: Sequence[str], ciphersuites: Sequence[str], run: Runner,
                  openssl: str = "openssl") -> list[str]:
    """What the host's OpenSSL rejects of a TLS 1.2 cipher list and TLS 1.3 suites, as the servers load them."""
    errors = []
    if ciphers:
        text = ":".join(ciphers)
        rc, _out, err = run([openssl, "ciphers", "-s", "-tls1_2", text], None)
        if rc != 0:
            errors.append(f"ciphers: the host's OpenSSL rejects {text!r} ({_reason(err)})")
    if ciphersuites:
        text = ":".join(ciphersuites)
        rc, _out, err = run([openssl, "ciphers", "-s", "-tls1_3", "-ciphersuites", text], None)
        if rc != 0:
            errors.append(f"ciphersuites: the host's OpenSSL rejects {text!r} ({_reason(err)})")
    return errors


def _reason(err: str) -> str:
    """The last ``routines:...:reason`` part of an OpenSSL error, e.g. ``no cipher match``."""
    for line in reversed(err.strip().splitlines()):
        parts = line.split(":")
        if len(parts) >= 6:
            return parts[5]
    return err.strip().splitlines()[-1] if err.strip() else "rejected"


def inspect_all(entries: Sequence[dict[str, str]], run: Runner, openssl: str = "openssl",
                ciphers: Sequence[str] = (), ciphersuites: Sequence[str] = ()) -> dict[str, Any]:
    """The module's result: the OpenSSL version, one inspection per distinct entry, the cipher check."""
    rc, out, err = run([openssl, "version"], None)
    version = parse_openssl_version(out) if rc == 0 else None
    seen: set[tuple[str, str, str]] = set()
    certificates = []
    for entry in entries:
        ident = (entry["cert"], entry["key"], entry["chain"])
        if ident in seen:
            continue
        seen.add(ident)
        certificates.append(inspect_entry(entry, run, openssl))
    return {"openssl_version": version, "certificates": certificates,
            "cipher_errors": check_ciphers(ciphers, ciphersuites, run, openssl)}


def run_probes(probes: dict[str, Sequence[str]], run: Runner,
               which: Callable[[str], "str | None"]) -> dict[str, dict[str, Any]]:
    """Run each read-only probe whose program exists; ``rc`` is None for the others."""
    results: dict[str, dict[str, Any]] = {}
    for name, argv in probes.items():
        if not argv or which(str(argv[0])) is None:
            results[name] = {"rc": None, "stdout": "", "stderr": ""}
            continue
        rc, out, err = run([str(arg) for arg in argv], None)
        results[name] = {"rc": rc, "stdout": out.strip(), "stderr": err.strip()}
    return results


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "certificates": {
                "type": "list", "elements": "dict", "required": True,
                "options": {
                    "cert": {"type": "path", "required": True},
                    "key": {"type": "path", "required": True, "no_log": False},
                    "chain": {"type": "path", "required": True},
                },
            },
            "ciphers": {"type": "list", "elements": "str", "default": []},
            "ciphersuites": {"type": "list", "elements": "str", "default": []},
            "probes": {"type": "dict", "default": {}},
            "require": {"type": "list", "elements": "str", "default": []},
            "openssl": {"type": "str", "default": "openssl"},
        },
        supports_check_mode=True,
    )
    params = module.params

    def which(program: str) -> str | None:
        return module.get_bin_path(program)

    def run(argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
        return module.run_command(list(argv), data=data, environ_update={"LC_ALL": "C"})

    missing = [program for program in params["require"] if which(program) is None]
    openssl = which(params["openssl"])
    result: dict[str, Any] = {"openssl_version": None, "certificates": [], "cipher_errors": []}
    if openssl is None:
        missing.append(params["openssl"])
    else:
        result = inspect_all(params["certificates"], run, openssl, params["ciphers"], params["ciphersuites"])
    module.exit_json(changed=False, missing=sorted(set(missing)), probes=run_probes(params["probes"], run, which),
                     **result)


if __name__ == "__main__":
    main()
