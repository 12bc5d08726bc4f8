#!/usr/bin/env python3
"""A small RFC 6962 Certificate Transparency log: a TEST FIXTURE of the Bulwark lab, never a role.

No public CT log is reachable from the lab, so the lab runs this one (molecule/_shared/ct_log.yml
starts it on a scanner-kind host) and points certspotter at it through a log list in the v3 schema.
It keeps a real Merkle tree (RFC 6962 section 2.1) and signs tree heads and SCTs with its own ECDSA
P-256 key, so a monitor that checks signatures and recomputes the tree (certspotter does both)
accepts it, and a wrong tree would be caught. It is not a production log: no maximum merge delay
(entries are in the tree at once), no rate limits, no precertificate signing certificates, one
process, state in two files.

Endpoints (RFC 6962 section 4): get-sth, get-sth-consistency, get-proof-by-hash, get-entries,
get-roots, add-chain, add-pre-chain; and, outside the RFC, /log-list.json, the log list a monitor
needs (the log's key, ID and URL).

    ct_log.py serve --dir /srv/lab-ct --port 8020 --url http://172.30.80.21:8020/ --roots roots.pem
    ct_log.py submit http://172.30.80.21:8020/ leaf.pem [chain.pem ...] [--precert] [--log-list FILE]
    ct_log.py submit-all http://172.30.80.21:8020/ '[{"pem": ["leaf.pem", "ca.pem"], "precert": false}]' [--log-list FILE]

Standard library and python3-cryptography only (both in the scanner image).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import struct
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# --------------------------------------------------------------------------------------------------
# Merkle tree (RFC 6962 section 2.1). Leaves are given as their leaf hashes.
# --------------------------------------------------------------------------------------------------

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes ``leaves``; the empty tree's hash is SHA-256 of nothing."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def audit_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the inclusion proof of leaf ``m``, nearest sibling first."""
    n = len(leaves)
    if not 0 <= m < n:
        raise ValueError(f"leaf index {m} is not in a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return audit_path(m, leaves[:k]) + [root(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [root(leaves[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first ``m`` leaves is a prefix of this one.

    Empty for m == 0 and m == n (RFC 6962 leaves the empty tree open; RFC 9162 makes both empty).
    """
    n = len(leaves)
    if not 0 <= m <= n:
        raise ValueError(f"tree size {m} is not between 0 and {n}")
    if m in (0, n):
        return []
    return _subproof(m, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


# --------------------------------------------------------------------------------------------------
# TLS presentation-language structures (RFC 6962 section 3)
# --------------------------------------------------------------------------------------------------

X509_ENTRY = 0
PRECERT_ENTRY = 1
_SCT_VERSION_V1 = 0
_SIGNATURE_CERTIFICATE_TIMESTAMP = 0
_SIGNATURE_TREE_HASH = 1
_HASH_SHA256 = 4
_SIGNATURE_ECDSA = 3


def opaque24(data: bytes) -> bytes:
    """``opaque <0..2^24-1>``: a 3-byte length, then the bytes."""
    if len(data) >= 1 << 24:
        raise ValueError("too long for a 24-bit length")
    return len(data).to_bytes(3, "big") + data


def signed_entry(entry_type: int, der: bytes, issuer_key_hash: bytes = b"") -> bytes:
    """The ``signed_entry`` of an SCT and a leaf: an ASN.1Cert, or a PreCert (issuer key hash, TBS)."""
    if entry_type == X509_ENTRY:
        return opaque24(der)
    return issuer_key_hash + opaque24(der)


def merkle_tree_leaf(timestamp: int, entry_type: int, entry: bytes) -> bytes:
    """MerkleTreeLeaf: v1, timestamped_entry, timestamp, entry type, signed entry, no extensions."""
    return struct.pack(">BBQH", _SCT_VERSION_V1, 0, timestamp, entry_type) + entry + b"\x00\x00"


def sct_signature_input(timestamp: int, entry_type: int, entry: bytes) -> bytes:
    """What an SCT's signature covers (RFC 6962 section 3.2), with no extensions."""
    return struct.pack(">BBQH", _SCT_VERSION_V1, _SIGNATURE_CERTIFICATE_TIMESTAMP, timestamp,
                       entry_type) + entry + b"\x00\x00"


def sth_signature_input(timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    """What a tree head's signature covers (RFC 6962 section 3.5)."""
    return struct.pack(">BBQQ", _SCT_VERSION_V1, _SIGNATURE_TREE_HASH, timestamp, tree_size) + root_hash


def digitally_signed(signature: bytes) -> bytes:
    """A DigitallySigned struct for an ECDSA/SHA-256 signature (RFC 5246 section 4.7)."""
    return struct.pack(">BBH", _HASH_SHA256, _SIGNATURE_ECDSA, len(signature)) + signature


def parse_digitally_signed(blob: bytes) -> bytes:
    """The signature inside a DigitallySigned struct; only ECDSA/SHA-256 is expected here."""
    hash_alg, sig_alg, length = struct.unpack(">BBH", blob[:4])
    if (hash_alg, sig_alg) != (_HASH_SHA256, _SIGNATURE_ECDSA) or len(blob) != 4 + length:
        raise ValueError("not an ECDSA/SHA-256 DigitallySigned struct")
    return blob[4:]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------------
# DER: just enough to take the poison extension out of a precertificate's TBSCertificate
# --------------------------------------------------------------------------------------------------

_POISON_OID_DER = bytes.fromhex("060a2b06010401d679020403")  # 1.3.6.1.4.1.11129.2.4.3


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_children(data: bytes) -> list[bytes]:
    """The TLVs inside the constructed value ``data`` (one whole TLV), as raw bytes."""
    def header(offset: int) -> tuple[int, int]:
        first = data[offset + 1]
        if first < 0x80:
            return offset + 2, first
        count = first & 0x7F
        return offset + 2 + count, int.from_bytes(data[offset + 2:offset + 2 + count], "big")

    start, length = header(0)
    children, offset = [], start
    while offset < start + length:
        content, size = header(offset)
        children.append(data[offset:content + size])
        offset = content + size
    return children


def precert_tbs(tbs: bytes) -> bytes:
    """The TBSCertificate a precertificate entry logs: the precertificate's, without the poison extension.

    (cryptography's ``tbs_precertificate_bytes`` strips the SCT list of a final certificate instead.)
    """
    fields = _der_children(tbs)
    out = []
    for field in fields:
        if field[0] == 0xA3:  # [3] EXPLICIT Extensions
            extensions = [ext for ext in _der_children(_der_children(field)[0])
                          if not _der_children(ext)[0] == _POISON_OID_DER]
            if not extensions:
                continue
            body = b"".join(extensions)
            sequence = b"\x30" + _der_length(len(body)) + body
            field = b"\xa3" + _der_length(len(sequence)) + sequence
        out.append(field)
    body = b"".join(out)
    return b"\x30" + _der_length(len(body)) + body


# --------------------------------------------------------------------------------------------------
# The log
# --------------------------------------------------------------------------------------------------


class Rejected(Exception):
    """A submission or query the log refuses (HTTP 400 with this message)."""


@dataclass(frozen=True)
class Entry:
    """One log entry as get-entries returns it, plus what re-submission needs."""

    leaf_input: bytes
    extra_data: bytes
    timestamp: int
    entry_type: int
    fingerprint: str  # SHA-256 of the submitted leaf (certificate or precertificate) DER


class Log:
    """An append-only log with its key and its entries, kept in ``directory``."""

    def __init__(self, directory: Path, roots: Sequence[x509.Certificate], url: str) -> None:
        self.directory = directory
        self.url = url if url.endswith("/") else url + "/"
        self.roots = list(roots)
        self._lock = threading.Lock()
        self.key = self._load_or_make_key(directory / "log-key.pem")
        self.spki = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(self.spki).digest()
        self._entries_file = directory / "entries.jsonl"
        self.entries: list[Entry] = []
        self.leaf_hashes: list[bytes] = []
        if self._entries_file.exists():
            for line in self._entries_file.read_text().splitlines():
                record = json.loads(line)
                self._append(Entry(base64.b64decode(record["leaf_input"]), base64.b64decode(record["extra_data"]),
                                   record["timestamp"], record["entry_type"], record["fingerprint"]))

    @staticmethod
    def _load_or_make_key(path: Path) -> ec.EllipticCurvePrivateKey:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise SystemExit(f"{path}: the log key must be an ECDSA P-256 key")
            return key
        key = ec.generate_private_key(ec.SECP256R1())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return key

    def _sign(self, data: bytes) -> bytes:
        return digitally_signed(self.key.sign(data, ec.ECDSA(hashes.SHA256())))

    def _append(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.leaf_hashes.append(leaf_hash(entry.leaf_input))

    # ---- submissions -------------------------------------------------------------------------

    def _complete_chain(self, ders: Sequence[bytes]) -> list[x509.Certificate]:
        """Parse the submitted chain and check every link up to one of the log's roots."""
        if not ders:
            raise Rejected("chain is empty")
        try:
            chain = [x509.load_der_x509_certificate(der) for der in ders]
        except ValueError:
            raise Rejected("chain holds something that is not a DER certificate") from None
        for child, parent in zip(chain, chain[1:]):
            self._check_issued(child, parent)
        last = chain[-1]
        if any(last == anchor for anchor in self.roots):
            return chain
        for anchor in self.roots:
            try:
                self._check_issued(last, anchor)
            except Rejected:
                continue
            return chain + [anchor]
        raise Rejected(f"chain does not end at an accepted root ({last.issuer.rfc4514_string()})")

    @staticmethod
    def _check_issued(child: x509.Certificate, parent: x509.Certificate) -> None:
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise Rejected(f"{child.subject.rfc4514_string()} is not signed by "
                           f"{parent.subject.rfc4514_string()}") from None

    def add_chain(self, ders: Sequence[bytes], precert: bool) -> dict[str, Any]:
        """Add a certificate (or precertificate) chain; return its SCT as add-(pre-)chain does."""
        chain = self._complete_chain(ders)
        leaf = chain[0]
        poisoned = any(ext.oid == x509.ExtensionOID.PRECERT_POISON for ext in leaf.extensions)
        if precert != poisoned:
            raise Rejected("add-pre-chain takes precertificates (with the poison extension) and add-chain takes "
                           "certificates (without it)")
        if precert:
            if len(chain) < 2:
                raise Rejected("a precertificate needs its issuer in the chain")
            issuer = chain[1]
            eku = [ext for ext in issuer.extensions if ext.oid == x509.ExtensionOID.EXTENDED_KEY_USAGE]
            if eku and x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4") in eku[0].value:
                raise Rejected("precertificate signing certificates are not supported by this fixture")
            issuer_spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
            entry_type = PRECERT_ENTRY
            entry = signed_entry(PRECERT_ENTRY, precert_tbs(leaf.tbs_certificate_bytes), hashlib.sha256(issuer_spki).digest())
            extra = opaque24(ders[0]) + opaque24(b"".join(opaque24(c.public_bytes(serialization.Encoding.DER))
                                                           for c in chain[1:]))
        else:
            entry_type = X509_ENTRY
            entry = signed_entry(X509_ENTRY, ders[0])
            extra = opaque24(b"".join(opaque24(c.public_bytes(serialization.Encoding.DER)) for c in chain[1:]))
        fingerprint = hashlib.sha256(ders[0]).hexdigest()
        with self._lock:
            known = [e for e in self.entries if e.fingerprint == fingerprint]
            if known:  # a re-submission gets the SCT of the entry already in the log, as real logs do
                timestamp = known[0].timestamp
            else:
                timestamp = max([int(time.time() * 1000)] + [e.timestamp + 1 for e in self.entries[-1:]])
                record = Entry(merkle_tree_leaf(timestamp, entry_type, entry), extra, timestamp, entry_type,
                               fingerprint)
                with self._entries_file.open("a") as handle:
                    handle.write(json.dumps({"leaf_input": b64(record.leaf_input), "extra_data": b64(record.extra_data),
                                             "timestamp": timestamp, "entry_type": entry_type,
                                             "fingerprint": fingerprint}) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                self._append(record)
        signature = self._sign(sct_signature_input(timestamp, entry_type, entry))
        return {"sct_version": _SCT_VERSION_V1, "id": b64(self.log_id), "timestamp": timestamp,
                "extensions": "", "signature": b64(signature)}

    # ---- queries -----------------------------------------------------------------------------

    def sth(self) -> dict[str, Any]:
        with self._lock:
            size, head = len(self.leaf_hashes), root(self.leaf_hashes)
            newest = self.entries[-1].timestamp if self.entries else 0
        timestamp = max(int(time.time() * 1000), newest)
        return {"tree_size": size, "timestamp": timestamp, "sha256_root_hash": b64(head),
                "tree_head_signature": b64(self._sign(sth_signature_input(timestamp, size, head)))}

    def get_entries(self, start: int, end: int) -> dict[str, Any]:
        with self._lock:
            size = len(self.entries)
            if start < 0 or end < start or start >= size:
                raise Rejected(f"start={start}, end={end} is not a range in a tree of size {size}")
            # A log may return fewer entries than asked for; clients ask again from where it stopped.
            chosen = self.entries[start:min(end, start + 999, size - 1) + 1]
        return {"entries": [{"leaf_input": b64(e.leaf_input), "extra_data": b64(e.extra_data)} for e in chosen]}

    def proof_by_hash(self, wanted: bytes, tree_size: int) -> dict[str, Any]:
        with self._lock:
            if not 1 <= tree_size <= len(self.leaf_hashes):
                raise Rejected(f"tree_size={tree_size} is not a size this log has had")
            leaves = self.leaf_hashes[:tree_size]
        if wanted not in leaves:
            raise Rejected("no leaf with that hash in the tree of that size")
        index = leaves.index(wanted)
        return {"leaf_index": index, "audit_path": [b64(h) for h in audit_path(index, leaves)]}

    def sth_consistency(self, first: int, second: int) -> dict[str, Any]:
        with self._lock:
            if not 0 <= first <= second <= len(self.leaf_hashes):
                raise Rejected(f"first={first}, second={second} are not sizes this log has had, in order")
            leaves = self.leaf_hashes[:second]
        return {"consistency": [b64(h) for h in consistency_proof(first, leaves)]}

    def get_roots(self) -> dict[str, Any]:
        return {"certificates": [b64(r.public_bytes(serialization.Encoding.DER)) for r in self.roots]}

    def log_list(self) -> dict[str, Any]:
        """A log list in the v3 schema (https://www.gstatic.com/ct/log_list/v3/log_list_schema.json)."""
        since = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "version": "1.0",
            "log_list_timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "operators": [{
                "name": "Bulwark lab (test fixture)",
                "email": ["ct-fixture@lab.test"],
                "logs": [{
                    "description": "Bulwark lab CT log (test fixture, not a trusted log)",
                    "log_id": b64(self.log_id),
                    "key": b64(self.spki),
                    "url": self.url,
                    "mmd": 86400,
                    "state": {"usable": {"timestamp": since}},
                }],
            }],
        }


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------


def _int_param(query: dict[str, list[str]], name: str) -> int:
    values = query.get(name, [])
    if len(values) != 1 or not values[0].isdigit():
        raise Rejected(f"{name} must be one non-negative integer")
    return int(values[0])


def make_handler(log: Log) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to ``log``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "bulwark-lab-ct-log/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            try:
                if method == "GET" and url.path == "/ct/v1/get-sth":
                    body = log.sth()
                elif method == "GET" and url.path == "/ct/v1/get-sth-consistency":
                    body = log.sth_consistency(_int_param(query, "first"), _int_param(query, "second"))
                elif method == "GET" and url.path == "/ct/v1/get-proof-by-hash":
                    wanted = base64.b64decode(query.get("hash", [""])[0], validate=True)
                    body = log.proof_by_hash(wanted, _int_param(query, "tree_size"))
                elif method == "GET" and url.path == "/ct/v1/get-entries":
                    body = log.get_entries(_int_param(query, "start"), _int_param(query, "end"))
                elif method == "GET" and url.path == "/ct/v1/get-roots":
                    body = log.get_roots()
                elif method == "GET" and url.path == "/log-list.json":
                    body = log.log_list()
                elif method == "POST" and url.path in ("/ct/v1/add-chain", "/ct/v1/add-pre-chain"):
                    length = int(self.headers.get("Content-Length") or 0)
                    request = json.loads(self.rfile.read(length) or b"{}")
                    chain = [base64.b64decode(item, validate=True) for item in request.get("chain", [])]
                    body = log.add_chain(chain, precert=url.path.endswith("pre-chain"))
                else:
                    self._reply(404, {"error": f"no {method} {url.path} here"})
                    return
            except (Rejected, ValueError) as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._reply(200, body)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

    return Handler


def load_roots(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def serve(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    log = Log(directory, load_roots(Path(args.roots)), args.url)
    (directory / "log-list.json").write_text(json.dumps(log.log_list(), indent=2) + "\n")
    server = ThreadingHTTPServer((args.listen, args.port), make_handler(log))
    print(f"CT log fixture {log.url} (log ID {b64(log.log_id)}), {len(log.entries)} entries", flush=True)
    server.serve_forever()
    return 0


# --------------------------------------------------------------------------------------------------
# Client side: submit a chain and check the SCT
# --------------------------------------------------------------------------------------------------


def verify_sct(sct: dict[str, Any], spki: bytes, chain_ders: Sequence[bytes], precert: bool) -> None:
    """Check an SCT's log ID and signature over the submitted (pre)certificate; raise ValueError if wrong."""
    if base64.b64decode(sct["id"]) != hashlib.sha256(spki).digest():
        raise ValueError("the SCT names another log")
    leaf = x509.load_der_x509_certificate(chain_ders[0])
    if precert:
        issuer = x509.load_der_x509_certificate(chain_ders[1])
        issuer_spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        entry = signed_entry(PRECERT_ENTRY, precert_tbs(leaf.tbs_certificate_bytes), hashlib.sha256(issuer_spki).digest())
    else:
        entry = signed_entry(X509_ENTRY, chain_ders[0])
    data = sct_signature_input(sct["timestamp"], PRECERT_ENTRY if precert else X509_ENTRY, entry)
    key = serialization.load_der_public_key(spki)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the log key is not an ECDSA key")
    try:
        key.verify(parse_digitally_signed(base64.b64decode(sct["signature"])), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("the SCT signature does not verify") from None


def submit_chain(url: str, pems: Sequence[str], precert: bool, log_key: bytes | None) -> dict[str, Any]:
    """Submit one chain (PEM files, the leaf first); the SCT, checked with ``log_key`` (DER SPKI) when given."""
    ders = [c.public_bytes(serialization.Encoding.DER)
            for path in pems for c in x509.load_pem_x509_certificates(Path(path).read_bytes())]
    endpoint = url.rstrip("/") + ("/ct/v1/add-pre-chain" if precert else "/ct/v1/add-chain")
    request = urllib.request.Request(endpoint, data=json.dumps({"chain": [b64(d) for d in ders]}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the lab's http log
        sct = json.load(response)
    if log_key is not None:
        verify_sct(sct, log_key, ders, precert)
        sct["verified"] = True
    return sct


def _log_key(log_list: str | None) -> bytes | None:
    if not log_list:
        return None
    logs = [lg for op in json.loads(Path(log_list).read_text())["operators"] for lg in op["logs"]]
    return base64.b64decode(logs[0]["key"])


def submit(args: argparse.Namespace) -> int:
    print(json.dumps(submit_chain(args.url, args.pem, args.precert, _log_key(args.log_list))))
    return 0


def submit_all(args: argparse.Namespace) -> int:
    """Several chains in order, in one process: ``[{"pem": [leaf, chain...], "precert": false}, ...]``."""
    key = _log_key(args.log_list)
    print(json.dumps([submit_chain(args.url, item["pem"], bool(item.get("precert")), key)
                      for item in json.loads(args.chains)]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the log")
    run.add_argument("--dir", required=True, help="state directory: log-key.pem, entries.jsonl, log-list.json")
    run.add_argument("--roots", required=True, help="PEM file of the root certificates the log accepts")
    run.add_argument("--url", required=True, help="the log's URL as monitors reach it, for the log list")
    run.add_argument("--listen", default="0.0.0.0")
    run.add_argument("--port", type=int, default=8020)
    run.set_defaults(func=serve)
    send = commands.add_parser("submit", help="submit a chain (leaf first) and print the SCT")
    send.add_argument("url")
    send.add_argument("pem", nargs="+", help="PEM files: the leaf first, then its chain")
    send.add_argument("--precert", action="store_true", help="the leaf is a precertificate: use add-pre-chain")
    send.add_argument("--log-list", help="the log's list (log-list.json): verify the SCT's signature with its key")
    send.set_defaults(func=submit)
    send_all = commands.add_parser("submit-all", help="submit several chains in order and print their SCTs")
    send_all.add_argument("url")
    send_all.add_argument("chains", help='JSON: [{"pem": [leaf.pem, chain.pem...], "precert": false}, ...]')
    send_all.add_argument("--log-list", help="the log's list (log-list.json): verify each SCT's signature with its key")
    send_all.set_defaults(func=submit_all)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
