#!/usr/bin/python
# -*- coding: utf-8 -*-
"""The managed host's half of acme_certificates: its keys, certificates and rollover state, in one call.

Private keys are made here with the host's own openssl and never leave it: the module returns public keys'
digests and certificate signing requests only.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acme_host
short_description: Keys, certificates and DANE rollover state of acme_certificates on the managed host
description:
  - Looks at every certificate's files under O(dir)C(/<name>/) - the served key (a link C(<key type>.key) to
    C(keys/<key type>-<id>.key), where the id is the start of the SHA-256 of the key's SubjectPublicKeyInfo),
    the certificate (C(<key type>.crt), C(.chain.crt), C(.fullchain.crt)), the CA that issued it (C(.ca)),
    and the rollover state (C(<key type>.state.json)).
  - Makes a missing key (O(make_keys)), carries out rollover steps (O(ops)), builds certificate signing
    requests (O(csr)), writes and removes http-01 tokens, and keeps the local fact O(fact_path) that tells
    dns_records which staged or previous public keys to publish as TLSA records.
  - Private keys are made with the host's C(openssl), mode 0600, and never returned.
options:
  certificates:
    description: The certificates, one per key type.
    type: list
    elements: dict
    required: true
    suboptions:
      id: {description: "C(<name>/<key type>).", type: str, required: true}
      name: {description: File stem (a directory under O(dir))., type: str, required: true}
      key_type: {description: Key type., type: str, required: true, choices: [ecdsa, rsa]}
      domains: {description: Names the certificate must cover (subjectAltName)., type: list, elements: str, required: true}
      challenge: {description: The ACME challenge it is validated with (for CAA validationmethods)., type: str, default: http-01}
      tlsa:
        description: TLS services of the certificate (C(port), C(proto)); the fact lists them for dns_records.
        type: list
        elements: dict
        default: []
  dir:
    description: Directory that holds one subdirectory per certificate name.
    type: path
    default: /etc/ssl/acme
  make_keys:
    description: Make the served key of a certificate that has none yet.
    type: bool
    default: true
  ops:
    description:
      - Rollover steps, as acme_plan decided them. C(stage) makes the next key and writes its public key to
        C(<key type>.next.pub); C(published) records that every authoritative server serves its TLSA record
        (with the record's O(ops[].ttl)); C(unpublished) starts that wait again; C(switched) records that the
        server uses the next key, keeps the old public key in C(<key type>.previous.pub) and removes the old
        private key; C(withdrawn) removes the previous public key, ending the rollover.
    type: list
    elements: dict
    default: []
    suboptions:
      id: {description: Certificate id., type: str, required: true}
      op: {description: Step., type: str, required: true, choices: [stage, published, unpublished, switched, withdrawn]}
      ttl: {description: TTL in seconds of the TLSA record (C(published))., type: int, default: 0}
  csr:
    description: Certificate signing requests to build, for the served (C(current)) or the staged (C(next)) key.
    type: list
    elements: dict
    default: []
    suboptions:
      id: {description: Certificate id., type: str, required: true}
      key: {description: Which key., type: str, default: current, choices: [current, next]}
  tokens:
    description: http-01 token files to write (C(path), C(content)), readable by the web server.
    type: list
    elements: dict
    default: []
  tokens_absent:
    description: http-01 token files to remove.
    type: list
    elements: path
    default: []
  fact:
    description:
      - More data for the local fact (for example the ACME account URLs). Each key given replaces the one in
        the file; keys not given are kept.
    type: dict
    default: {}
  services:
    description:
      - Services that read the certificates. Those with a reload left pending by config_apply (a run that died
        after writing a certificate) are listed in RV(pending_reloads), so the role finishes their reload.
    type: list
    elements: str
    default: []
  apply_state_dir:
    description: config_apply's state directory (its markers are C(<service>.json)).
    type: path
    default: /var/lib/bulwark/apply
  fact_path:
    description:
      - The local fact file (JSON, schema 1), read by the tls_public_keys module for dns_records and by the C(setup)
        module as C(ansible_local.bulwark_acme). It lists every certificate (names, challenge, paths, the public
        keys of a rollover under way as C(rollover_keys)), the TLS services of those whose certificate exists (in
        the shape tls_public_keys reads), and the ACME accounts.
    type: path
    default: /etc/ansible/facts.d/bulwark_acme.fact
author: Bulwark maintainers (@bulwark)
notes:
  - Supports check mode (nothing is written; keys and requests that would be made are reported as changes).
"""

EXAMPLES = r"""
- name: Look at the host, make missing keys
  acme_host:
    certificates:
      - {id: www/ecdsa, name: www, key_type: ecdsa, domains: [www.example.org, example.org]}
  register: host

- name: Stage the next key of a rollover and build a request for it
  acme_host:
    certificates: "{{ certs }}"
    ops: [{id: www/ecdsa, op: stage}]
    csr: [{id: www/ecdsa, key: next}]
"""

RETURN = r"""
now:
  description: The host's clock (seconds since the epoch); every decision uses it.
  returned: always
  type: int
fact:
  description: The local fact's data besides the certificates (for example C(accounts)), as it is after this call.
  returned: always
  type: dict
pending_reloads:
  description: Services of O(services) with a reload left pending by config_apply.
  returned: always
  type: list
  elements: str
certificates:
  description:
    - Per certificate C(id); C(key) (C(exists), C(id), C(spki), C(created), C(path)), C(cert) (C(exists),
      C(serial), C(not_after), C(names), C(spki), C(ca), C(pem) of the leaf, C(error)), C(next) and
      C(previous) (C(id), C(spki_sha256), C(spki_sha512)), C(state), C(csr) (PEM, when asked for).
  returned: always
  type: list
  elements: dict
"""

import base64
import datetime
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule

try:  # the collection bulwark.hardening
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_acme import certificate_paths
    from ansible_collections.bulwark.hardening.plugins.module_utils.bulwark_pem import certificate_blocks
except ImportError:  # a role of the repository, or vendored: module_utils of the `shared` role
    from ansible.module_utils.bulwark_acme import certificate_paths
    from ansible.module_utils.bulwark_pem import certificate_blocks

Runner = Callable[[Sequence[str], "str | None"], "tuple[int, str, str]"]
_KEY_NAME_RE = re.compile(r"^(ecdsa|rsa)-([0-9a-f]{16})\.key$")


def pem_der(text: str) -> bytes:
    """The DER bytes of the first PEM block of ``text``."""
    match = re.search(r"-----BEGIN [A-Z ]+-----(.*?)-----END", text, re.S)
    if not match:
        raise ValueError("no PEM block")
    return base64.b64decode("".join(match.group(1).split()))


def spki_digests(public_pem: str) -> dict[str, str]:
    der = pem_der(public_pem)
    return {"spki_sha256": hashlib.sha256(der).hexdigest(), "spki_sha512": hashlib.sha512(der).hexdigest()}


def parse_x509_text(text: str) -> dict[str, Any]:
    """serial, not_after (epoch), issuer, names and the public key from ``openssl x509 -noout -serial -enddate
    -issuer -pubkey -ext subjectAltName`` output."""
    info: dict[str, Any] = {}
    serial = re.search(r"^serial=([0-9A-Fa-f]+)", text, re.M)
    info["serial"] = serial.group(1).lower() if serial else None
    end = re.search(r"^notAfter=(.+)$", text, re.M)
    if end:
        stamp = datetime.datetime.strptime(end.group(1).strip().replace("  ", " "), "%b %d %H:%M:%S %Y %Z")
        info["not_after"] = int(stamp.replace(tzinfo=datetime.timezone.utc).timestamp())
    issuer = re.search(r"^issuer=\s*(.+)$", text, re.M)
    info["issuer"] = issuer.group(1).strip() if issuer else None
    info["names"] = sorted({n.lower() for n in re.findall(r"DNS:([^,\s]+)", text)})
    key = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", text, re.S)
    info["public_pem"] = key.group(0) if key else None
    return info


class Host:
    """File operations under one certificate's directory."""

    def __init__(self, directory: str, cert: dict[str, Any], run: Runner, now: float) -> None:
        self.cert = cert
        self.run = run
        self.now = now
        self.paths = certificate_paths(directory, cert["name"], cert["key_type"])
        self.base = str(self.paths["dir"])
        self.keys = os.path.join(self.base, "keys")
        self.link = str(self.paths["key"])
        self.crt = str(self.paths["leaf"])
        self.ca = str(self.paths["ca"])
        self.state_path = str(self.paths["state"])
        self.next_pub, self.previous_pub = (str(p) for p in self.paths["rollover_keys"])

    def key_path(self, key_id: str) -> str:
        return os.path.join(self.keys, f"{self.cert['key_type']}-{key_id}.key")

    # --- reading -------------------------------------------------------------------------------------------
    def public_of(self, path: str) -> str:
        rc, out, err = self.run(["openssl", "pkey", "-in", path, "-pubout"], None)
        if rc != 0:
            raise OSError(f"openssl cannot read the key {path}: {err.strip().splitlines()[-1:] or rc}")
        return out

    def state(self) -> dict[str, Any]:
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def current_key(self) -> dict[str, Any]:
        if not os.path.lexists(self.link):
            return {"exists": False, "path": self.link}
        target = os.path.realpath(self.link)
        if not os.path.isfile(target):
            return {"exists": False, "path": self.link, "error": f"{self.link} points to a missing file"}
        digests = spki_digests(self.public_of(target))
        match = _KEY_NAME_RE.match(os.path.basename(target))
        key_id = match.group(2) if match and os.path.islink(self.link) else digests["spki_sha256"][:16]
        return {"exists": True, "path": self.link, "id": key_id, "spki": digests["spki_sha256"],
                "created": int(os.stat(target).st_mtime), "file": target}

    def staged_key(self, key_id: str | None) -> dict[str, Any] | None:
        if not key_id or not os.path.isfile(self.key_path(key_id)):
            return None
        return {"id": key_id, "path": self.key_path(key_id), **spki_digests(self.public_of(self.key_path(key_id)))}

    def served_cert(self) -> dict[str, Any]:
        if not os.path.isfile(self.crt):
            return {"exists": False}
        rc, out, err = self.run(["openssl", "x509", "-in", self.crt, "-noout", "-serial", "-enddate", "-issuer",
                                 "-pubkey", "-ext", "subjectAltName"], None)
        if rc != 0:
            return {"exists": True, "error": (err.strip().splitlines() or ["openssl x509 failed"])[-1]}
        info = parse_x509_text(out)
        public = info.pop("public_pem")
        info["spki"] = spki_digests(public)["spki_sha256"] if public else None
        with open(self.crt, encoding="utf-8") as handle:
            blocks = certificate_blocks(handle.read())
        info["pem"] = blocks[0] + "\n" if blocks else ""
        try:
            with open(self.ca, encoding="utf-8") as handle:
                info["ca"] = handle.read().split()[0]
        except (OSError, IndexError):
            info["ca"] = None
        return {"exists": True, **info}

    def inspect(self) -> dict[str, Any]:
        state = self.state()
        previous = state.get("previous")
        return {
            "id": self.cert["id"], "key": self.current_key(), "cert": self.served_cert(), "state": state,
            "next": self.staged_key(state.get("next")),
            "previous": {"id": previous, "pub": self.previous_pub} if previous else None,
            "paths": {"dir": self.base, "key": self.link, "cert": self.crt, "chain": self.paths["chain"],
                      "fullchain": self.paths["cert"], "ca": self.ca},
        }

    # --- writing -------------------------------------------------------------------------------------------
    def make_key(self) -> str:
        """A new private key in keys/, named by its id; returns the id."""
        os.makedirs(self.keys, mode=0o700, exist_ok=True)
        os.chmod(self.keys, 0o700)
        algorithm = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"] if self.cert["key_type"] == "ecdsa" \
            else ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        fd, tmp = tempfile.mkstemp(dir=self.keys, prefix=".new-", suffix=".key")
        os.close(fd)
        try:
            rc, _out, err = self.run(["openssl", "genpkey", *algorithm, "-out", tmp], None)
            if rc != 0:
                raise OSError(f"openssl genpkey failed: {err.strip()}")
            os.chmod(tmp, 0o600)
            key_id = spki_digests(self.public_of(tmp))["spki_sha256"][:16]
            _fsync(tmp)
            os.replace(tmp, self.key_path(key_id))
            _fsync_dir(self.keys)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return key_id

    def write_state(self, state: dict[str, Any]) -> None:
        _write(self.state_path, json.dumps(state, sort_keys=True) + "\n", 0o644)

    def make_current_key(self) -> None:
        key_id = self.make_key()
        tmp = self.link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.join("keys", os.path.basename(self.key_path(key_id))), tmp)
        os.replace(tmp, self.link)
        _fsync_dir(self.base)

    def remove_orphans(self, keep: Sequence[str]) -> None:
        """Keys left by a run that died between making a key and recording it."""
        for entry in os.listdir(self.keys) if os.path.isdir(self.keys) else []:
            match = _KEY_NAME_RE.match(entry)
            if (match and match.group(1) == self.cert["key_type"] and match.group(2) not in keep) \
                    or entry.startswith(".new-"):
                os.unlink(os.path.join(self.keys, entry))

    def op(self, name: str, ttl: int) -> None:
        state = self.state()
        current = self.current_key()
        if name == "stage":
            next_id = self.make_key()
            _write(self.next_pub, self.public_of(self.key_path(next_id)), 0o644)
            self.remove_orphans([current.get("id", ""), next_id])
            self.write_state({"phase": "staged", "current": current.get("id"), "next": next_id,
                              "staged_at": int(self.now)})
        elif name == "published":
            self.write_state({**state, "phase": "published", "published_since": int(self.now), "ttl": int(ttl)})
        elif name == "unpublished":
            self.write_state({k: v for k, v in {**state, "phase": "staged"}.items() if k != "published_since"})
        elif name == "switched":
            old = state.get("current")
            if old and os.path.isfile(self.key_path(old)):
                _write(self.previous_pub, self.public_of(self.key_path(old)), 0o644)
            switched_at = int(os.lstat(self.link).st_mtime) if os.path.lexists(self.link) else int(self.now)
            self.write_state({"phase": "withdrawing", "previous": old, "switched_at": min(switched_at, int(self.now)),
                              "ttl": int(state.get("ttl") or ttl)})
            if os.path.lexists(self.next_pub):
                os.unlink(self.next_pub)
            self.remove_orphans([current.get("id", "")])
        elif name == "withdrawn":
            if os.path.lexists(self.previous_pub):
                os.unlink(self.previous_pub)
            self.write_state({"phase": "none"})
        else:
            raise ValueError(f"unknown op {name!r}")

    def csr(self, which: str, state: dict[str, Any]) -> str:
        if which == "next":
            if not state.get("next"):
                raise OSError(f"{self.cert['id']}: no staged next key to build a request for")
            key = self.key_path(state["next"])
        else:
            key = self.link
        domains = self.cert["domains"]
        subject = f"/CN={domains[0]}" if len(domains[0]) <= 64 and not domains[0].startswith("*") else "/"
        san = ",".join(f"DNS:{d}" for d in domains)
        rc, out, err = self.run(["openssl", "req", "-new", "-key", key, "-subj", subject, "-addext",
                                 f"subjectAltName={san}", "-outform", "PEM"], None)
        if rc != 0:
            raise OSError(f"openssl req failed for {self.cert['id']}: {err.strip()}")
        return out


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: str) -> None:
    _fsync(directory)


def _write(path: str, content: str, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bulwark-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _load_fact(path: str) -> dict[str, Any]:
    try:
        data = json.loads(_read(path) or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if k not in ("certificates", "services", "schema")} \
        if isinstance(data, dict) else {}


FACT_SCHEMA = 1


def fact_content(hosts: Sequence[Host], extra: dict[str, Any]) -> str:
    """The local fact: every certificate's paths and names, and the TLS services of those that exist.

    Only stable data: neither an order nor a renewal changes it. The certificates and rollover keys are listed by
    path whether or not they exist (the reader takes the ones that do), so a rollover step does not change it
    either.
    """
    certificates, services = [], []
    for host in hosts:
        kt = host.cert["key_type"]
        paths = {key: host.paths[key] for key in ("cert", "key", "chain", "rollover_keys")}
        certificates.append({"name": host.cert["name"], "key_type": kt, "domains": host.cert["domains"],
                             "challenge": host.cert.get("challenge") or "http-01", **paths})
        # A wildcard has no TLSA owner of its own. A certificate not issued yet is listed too (the reader skips it),
        # so that the fact does not change when it is issued.
        names = [d for d in host.cert["domains"] if not d.startswith("*.")]
        if names:
            for owner in host.cert.get("tlsa") or []:
                services.append({"names": names, "port": int(owner["port"]), "proto": owner.get("proto") or "tcp",
                                 "certificates": [{"cert": paths["cert"], "rollover_keys": paths["rollover_keys"]}]})
    fact = {**extra, "schema": FACT_SCHEMA, "certificates": certificates, "services": services}
    return json.dumps(fact, indent=2, sort_keys=True) + "\n"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "certificates": {"type": "list", "elements": "dict", "required": True, "options": {
                "id": {"type": "str", "required": True},
                "name": {"type": "str", "required": True},
                "key_type": {"type": "str", "required": True, "choices": ["ecdsa", "rsa"]},
                "domains": {"type": "list", "elements": "str", "required": True},
                "challenge": {"type": "str", "default": "http-01"},
                "tlsa": {"type": "list", "elements": "dict", "default": []},
            }},
            "dir": {"type": "path", "default": "/etc/ssl/acme"},
            "make_keys": {"type": "bool", "default": True},
            "ops": {"type": "list", "elements": "dict", "default": [], "options": {
                "id": {"type": "str", "required": True},
                "op": {"type": "str", "required": True,
                       "choices": ["stage", "published", "unpublished", "switched", "withdrawn"]},
                "ttl": {"type": "int", "default": 0},
            }},
            "csr": {"type": "list", "elements": "dict", "default": [], "options": {
                "id": {"type": "str", "required": True},
                "key": {"type": "str", "default": "current", "choices": ["current", "next"]},
            }},
            # http-01 key authorizations are served to anyone on port 80: not secrets.
            "tokens": {"type": "list", "elements": "dict", "default": [], "no_log": False},
            "tokens_absent": {"type": "list", "elements": "path", "default": [], "no_log": False},
            "fact": {"type": "dict", "default": {}},
            "fact_path": {"type": "path", "default": "/etc/ansible/facts.d/bulwark_acme.fact"},
            "services": {"type": "list", "elements": "str", "default": []},
            "apply_state_dir": {"type": "path", "default": "/var/lib/bulwark/apply"},
        },
        supports_check_mode=True,
    )
    p = module.params
    now = time.time()

    def run(argv: Sequence[str], data: str | None) -> tuple[int, str, str]:
        return module.run_command(list(argv), data=data, environ_update={"LC_ALL": "C"}, binary_data=False)

    hosts = {c["id"]: Host(p["dir"], c, run, now) for c in p["certificates"]}
    changed: list[str] = []
    check = module.check_mode
    try:
        for cid, host in hosts.items():
            if p["make_keys"] and not host.current_key()["exists"]:
                changed.append(f"{cid}: new key")
                if not check:
                    os.makedirs(host.base, mode=0o755, exist_ok=True)
                    host.make_current_key()
        for op in p["ops"]:
            if op["id"] not in hosts:
                module.fail_json(msg=f"ops: unknown certificate {op['id']!r}")
            changed.append(f"{op['id']}: {op['op']}")
            if not check:
                hosts[op["id"]].op(op["op"], op["ttl"])
        for token in p["tokens"]:
            if _read(token["path"]) != token["content"]:
                changed.append(token["path"])
                if not check:
                    _write(token["path"], token["content"], 0o644)
        for path in p["tokens_absent"]:
            if os.path.lexists(path):
                changed.append(path)
                if not check:
                    os.unlink(path)
        inspected = {cid: host.inspect() for cid, host in hosts.items()}
        for request in p["csr"]:
            host = hosts[request["id"]]
            if inspected[request["id"]]["key"]["exists"]:
                inspected[request["id"]]["csr"] = host.csr(request["key"], inspected[request["id"]]["state"])
        fact = fact_content(list(hosts.values()), {**_load_fact(p["fact_path"]), **p["fact"]})
        if _read(p["fact_path"]) != fact:
            changed.append(p["fact_path"])
            if not check:
                _write(p["fact_path"], fact, 0o644)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"acme_host: {exc}", changed_paths=changed)
    for item in inspected.values():
        item["key"].pop("file", None)
    pending = [s for s in p["services"] if s and os.path.exists(os.path.join(p["apply_state_dir"], f"{s}.json"))]
    module.exit_json(changed=bool(changed), changes=changed, now=int(now), pending_reloads=pending,
                     fact=_load_fact(p["fact_path"]) if not check else {**_load_fact(p["fact_path"]), **p["fact"]},
                     certificates=list(inspected.values()))


if __name__ == "__main__":
    main()
