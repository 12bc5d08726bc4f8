"""Unit tests for molecule/_shared/ct_log/ct_log.py, the lab's RFC 6962 log (a test fixture).

The Merkle tree is checked against the Certificate Transparency reference vectors (the leaves and
tree heads every RFC 6962 implementation tests with) and against verifiers written here from
RFC 9162 section 2.1.3.2 and 2.1.4.2, independently of the fixture's own proof code. The log itself
is driven over HTTP: SCT and tree-head signatures verify with the key the log list publishes, and
get-entries returns leaves whose tree is the signed one.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ct_log

# --------------------------------------------------------------------------------------------------
# Reference vectors (certificate-transparency's merkle tree tests, also in RFC 9162 implementations)
# --------------------------------------------------------------------------------------------------

DATA = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                   "606162636465666768696a6b6c6d6e6f")]
LEAVES = [ct_log.leaf_hash(d) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def _hex(items: list[bytes]) -> list[str]:
    return [item.hex() for item in items]


# --------------------------------------------------------------------------------------------------
# Verifiers written from RFC 9162 (not from the fixture)
# --------------------------------------------------------------------------------------------------


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], head: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = ct_log.node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = ct_log.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == head


def verify_consistency(first: int, second: int, first_head: bytes, second_head: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2 (with the empty-tree and equal-size cases as RFC 9162 defines them)."""
    if first == second:
        return not proof and first_head == second_head
    if first == 0:
        return not proof
    if first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree's head is the proof's implicit first node
        path.insert(0, first_head)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = ct_log.node_hash(c, fr)
            sr = ct_log.node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = ct_log.node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_head and sr == second_head and sn == 0


# --------------------------------------------------------------------------------------------------
# Merkle tree
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_tree_heads_match_the_reference_roots(size: int) -> None:
    assert ct_log.root(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, expected: list[str]) -> None:
    assert _hex(ct_log.audit_path(index, LEAVES[:size])) == expected


@pytest.mark.parametrize(("first", "second", "expected"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first: int, second: int, expected: list[str]) -> None:
    assert _hex(ct_log.consistency_proof(first, LEAVES[:second])) == expected


def test_the_split_is_the_largest_power_of_two_below_n() -> None:
    assert [ct_log._split(n) for n in range(2, 10)] == [1, 2, 2, 4, 4, 4, 4, 8]


def _many(count: int) -> list[bytes]:
    return [ct_log.leaf_hash(f"entry-{i}".encode()) for i in range(count)]


def test_every_inclusion_proof_verifies_and_a_changed_one_does_not() -> None:
    leaves = _many(33)
    for size in range(1, len(leaves) + 1):
        head = ct_log.root(leaves[:size])
        for index in range(size):
            proof = ct_log.audit_path(index, leaves[:size])
            assert verify_inclusion(leaves[index], index, size, proof, head), (index, size)
            if proof:
                broken = proof[:-1] + [bytes(32)]
                assert not verify_inclusion(leaves[index], index, size, broken, head)
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], head)


def test_every_consistency_proof_verifies_and_a_changed_one_does_not() -> None:
    leaves = _many(33)
    heads = [ct_log.root(leaves[:n]) for n in range(len(leaves) + 1)]
    for second in range(len(leaves) + 1):
        for first in range(second + 1):
            proof = ct_log.consistency_proof(first, leaves[:second])
            assert verify_consistency(first, second, heads[first], heads[second], proof), (first, second)
            if proof:
                assert not verify_consistency(first, second, heads[first], heads[second], proof[:-1] + [bytes(32)])
                assert not verify_consistency(first, second, heads[first], bytes(32), proof)


def test_out_of_range_proofs_are_refused() -> None:
    with pytest.raises(ValueError, match="leaf index 8"):
        ct_log.audit_path(8, LEAVES)
    with pytest.raises(ValueError, match="tree size 9"):
        ct_log.consistency_proof(9, LEAVES)


# --------------------------------------------------------------------------------------------------
# TLS structures
# --------------------------------------------------------------------------------------------------


def test_merkle_tree_leaf_layout() -> None:
    leaf = ct_log.merkle_tree_leaf(0x0102030405060708, ct_log.X509_ENTRY, ct_log.signed_entry(0, b"\xaa\xbb"))
    assert leaf == bytes.fromhex("00" "00" "0102030405060708" "0000" "000002aabb" "0000")


def test_precert_entry_carries_the_issuer_key_hash_before_the_tbs() -> None:
    entry = ct_log.signed_entry(ct_log.PRECERT_ENTRY, b"\x30\x00", b"\x11" * 32)
    assert entry == b"\x11" * 32 + b"\x00\x00\x02\x30\x00"


def test_digitally_signed_round_trip() -> None:
    blob = ct_log.digitally_signed(b"sig")
    assert blob == b"\x04\x03\x00\x03sig"
    assert ct_log.parse_digitally_signed(blob) == b"sig"
    with pytest.raises(ValueError):
        ct_log.parse_digitally_signed(b"\x04\x01\x00\x03sig")


# --------------------------------------------------------------------------------------------------
# The log over HTTP
# --------------------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _builder(name: str, ca: x509.Certificate) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
            .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False))


def _leaf(name: str, ca_key: Any, ca: x509.Certificate, precert: bool = False) -> x509.Certificate:
    builder = _builder(name, ca)
    if precert:
        builder = builder.add_extension(x509.PrecertPoison(), critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def test_the_precertificate_tbs_is_the_final_certificates_tbs() -> None:
    ca_key, ca = _ca("Lab CA")
    builder = _builder("www.lab.test", ca)
    precert = builder.add_extension(x509.PrecertPoison(), critical=True).sign(ca_key, hashes.SHA256())
    final = builder.sign(ca_key, hashes.SHA256())
    assert ct_log.precert_tbs(precert.tbs_certificate_bytes) == final.tbs_certificate_bytes
    assert ct_log.precert_tbs(final.tbs_certificate_bytes) == final.tbs_certificate_bytes


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(name="lab")
def fixture_lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    ca_key, ca = _ca("Lab CA")
    rogue_key, rogue = _ca("Rogue CA")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(ca.public_bytes(serialization.Encoding.PEM) + rogue.public_bytes(serialization.Encoding.PEM))
    state = tmp_path / "log"
    state.mkdir()
    log = ct_log.Log(state, ct_log.load_roots(roots), "http://127.0.0.1:1/")
    server = ct_log.ThreadingHTTPServer(("127.0.0.1", 0), ct_log.make_handler(log))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    log_list = tmp_path / "log-list.json"
    log_list.write_text(json.dumps(log.log_list()))
    yield {"log": log, "url": url, "ca": (ca_key, ca), "rogue": (rogue_key, rogue), "tmp": tmp_path,
           "log_list": log_list, "roots": roots, "state": state}
    server.shutdown()
    server.server_close()


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _post(url: str, chain: list[bytes]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps({"chain": [ct_log.b64(d) for d in chain]}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _verify_sth(sth: dict[str, Any], spki: bytes) -> None:
    key = serialization.load_der_public_key(spki)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    data = struct.pack(">BBQQ", 0, 1, sth["timestamp"], sth["tree_size"]) + base64.b64decode(sth["sha256_root_hash"])
    key.verify(ct_log.parse_digitally_signed(base64.b64decode(sth["tree_head_signature"])), data,
               ec.ECDSA(hashes.SHA256()))


def test_the_log_list_names_the_log_by_its_key(lab: dict[str, Any]) -> None:
    entry = json.loads(lab["log_list"].read_text())["operators"][0]["logs"][0]
    assert base64.b64decode(entry["log_id"]) == hashlib.sha256(base64.b64decode(entry["key"])).digest()
    assert entry["state"]["usable"]["timestamp"].endswith("Z")


def test_an_empty_log_signs_the_empty_tree(lab: dict[str, Any]) -> None:
    sth = _get(lab["url"] + "ct/v1/get-sth")
    assert sth["tree_size"] == 0
    assert base64.b64decode(sth["sha256_root_hash"]).hex() == ROOTS[0]
    _verify_sth(sth, lab["log"].spki)


def test_submitted_chains_are_in_the_signed_tree_and_their_scts_verify(lab: dict[str, Any]) -> None:
    ca_key, ca = lab["ca"]
    rogue_key, rogue = lab["rogue"]
    certs = [_leaf("www.lab.test", ca_key, ca), _leaf("www.lab.test", rogue_key, rogue)]
    precert = _leaf("mail.lab.test", rogue_key, rogue, precert=True)
    for cert, issuer in zip(certs, (ca, rogue)):
        status, sct = _post(lab["url"] + "ct/v1/add-chain", [_der(cert), _der(issuer)])
        assert status == 200, sct
        ct_log.verify_sct(sct, lab["log"].spki, [_der(cert), _der(issuer)], precert=False)
    status, sct = _post(lab["url"] + "ct/v1/add-pre-chain", [_der(precert), _der(rogue)])
    assert status == 200, sct
    ct_log.verify_sct(sct, lab["log"].spki, [_der(precert), _der(rogue)], precert=True)

    sth = _get(lab["url"] + "ct/v1/get-sth")
    _verify_sth(sth, lab["log"].spki)
    assert sth["tree_size"] == 3
    entries = _get(lab["url"] + "ct/v1/get-entries?start=0&end=99")["entries"]
    assert len(entries) == 3
    leaves = [ct_log.leaf_hash(base64.b64decode(e["leaf_input"])) for e in entries]
    assert ct_log.root(leaves) == base64.b64decode(sth["sha256_root_hash"])

    # The precertificate entry holds the TBS without the poison, after the issuer's key hash.
    leaf_input = base64.b64decode(entries[2]["leaf_input"])
    assert struct.unpack(">H", leaf_input[10:12])[0] == ct_log.PRECERT_ENTRY
    issuer_hash = hashlib.sha256(rogue.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
    assert leaf_input[12:44] == issuer_hash
    assert leaf_input[47:-2] == ct_log.precert_tbs(precert.tbs_certificate_bytes)
    # extra_data of a certificate entry is its chain; of a precertificate, the precertificate and its chain.
    assert base64.b64decode(entries[0]["extra_data"]) == ct_log.opaque24(ct_log.opaque24(_der(ca)))
    assert base64.b64decode(entries[2]["extra_data"]) == (ct_log.opaque24(_der(precert))
                                                          + ct_log.opaque24(ct_log.opaque24(_der(rogue))))

    for index, leaf in enumerate(leaves):
        hash_param = urllib.parse.quote(ct_log.b64(leaf))
        proof = _get(lab["url"] + f"ct/v1/get-proof-by-hash?hash={hash_param}&tree_size=3")
        assert proof["leaf_index"] == index
        assert verify_inclusion(leaf, index, 3, [base64.b64decode(p) for p in proof["audit_path"]],
                                base64.b64decode(sth["sha256_root_hash"]))
    consistency = _get(lab["url"] + "ct/v1/get-sth-consistency?first=1&second=3")["consistency"]
    assert verify_consistency(1, 3, ct_log.root(leaves[:1]), ct_log.root(leaves), [base64.b64decode(p)
                                                                                    for p in consistency])
    roots = _get(lab["url"] + "ct/v1/get-roots")["certificates"]
    assert [base64.b64decode(r) for r in roots] == [_der(ca), _der(rogue)]


def test_a_leaf_alone_is_completed_with_its_root(lab: dict[str, Any]) -> None:
    ca_key, ca = lab["ca"]
    status, _sct = _post(lab["url"] + "ct/v1/add-chain", [_der(_leaf("a.lab.test", ca_key, ca))])
    assert status == 200
    entry = _get(lab["url"] + "ct/v1/get-entries?start=0&end=0")["entries"][0]
    assert base64.b64decode(entry["extra_data"]) == ct_log.opaque24(ct_log.opaque24(_der(ca)))


def test_a_resubmission_gets_the_same_entry(lab: dict[str, Any]) -> None:
    ca_key, ca = lab["ca"]
    chain = [_der(_leaf("a.lab.test", ca_key, ca)), _der(ca)]
    first = _post(lab["url"] + "ct/v1/add-chain", chain)[1]
    second = _post(lab["url"] + "ct/v1/add-chain", chain)[1]
    assert first["timestamp"] == second["timestamp"]
    assert _get(lab["url"] + "ct/v1/get-sth")["tree_size"] == 1


@pytest.mark.parametrize("case", ["unknown root", "precert to add-chain", "cert to add-pre-chain", "garbage"])
def test_bad_submissions_are_refused(lab: dict[str, Any], case: str) -> None:
    ca_key, ca = lab["ca"]
    stranger_key, stranger = _ca("Stranger CA")
    chain, path = {
        "unknown root": ([_der(_leaf("a.lab.test", stranger_key, stranger)), _der(stranger)], "add-chain"),
        "precert to add-chain": ([_der(_leaf("a.lab.test", ca_key, ca, precert=True)), _der(ca)], "add-chain"),
        "cert to add-pre-chain": ([_der(_leaf("a.lab.test", ca_key, ca)), _der(ca)], "add-pre-chain"),
        "garbage": ([b"not a certificate"], "add-chain"),
    }[case]
    status, body = _post(lab["url"] + "ct/v1/" + path, chain)
    assert status == 400
    assert body["error"]
    assert _get(lab["url"] + "ct/v1/get-sth")["tree_size"] == 0


def test_bad_queries_are_refused(lab: dict[str, Any]) -> None:
    for query in ("get-entries?start=0&end=0", "get-entries?start=x&end=1", "get-sth-consistency?first=2&second=1",
                  "get-proof-by-hash?hash=AAAA&tree_size=1"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(lab["url"] + "ct/v1/" + query)
        assert caught.value.code == 400


def test_a_restarted_log_keeps_its_key_and_entries(lab: dict[str, Any]) -> None:
    ca_key, ca = lab["ca"]
    _post(lab["url"] + "ct/v1/add-chain", [_der(_leaf("a.lab.test", ca_key, ca)), _der(ca)])
    before = lab["log"]
    again = ct_log.Log(lab["state"], ct_log.load_roots(lab["roots"]), before.url)
    assert again.log_id == before.log_id
    assert again.leaf_hashes == before.leaf_hashes
    assert (lab["state"] / "log-key.pem").stat().st_mode & 0o777 == 0o600


def test_the_submit_command_checks_the_sct_with_the_log_list(lab: dict[str, Any]) -> None:
    rogue_key, rogue = lab["rogue"]
    leaf = lab["tmp"] / "leaf.pem"
    leaf.write_bytes(_leaf("x.lab.test", rogue_key, rogue, precert=True).public_bytes(serialization.Encoding.PEM))
    issuer = lab["tmp"] / "rogue.pem"
    issuer.write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    out = io.StringIO()
    with redirect_stdout(out):
        assert ct_log.main(["submit", lab["url"], str(leaf), str(issuer), "--precert",
                            "--log-list", str(lab["log_list"])]) == 0
    assert json.loads(out.getvalue())["verified"] is True
    forged = dict(json.loads(out.getvalue()), timestamp=1)
    with pytest.raises(ValueError, match="does not verify"):
        ct_log.verify_sct(forged, lab["log"].spki, [x509.load_pem_x509_certificate(leaf.read_bytes()).public_bytes(
            serialization.Encoding.DER), _der(rogue)], precert=True)


def test_submit_all_logs_the_chains_in_order_and_checks_every_sct(lab: dict[str, Any]) -> None:
    rogue_key, rogue = lab["rogue"]
    issuer = lab["tmp"] / "rogue.pem"
    issuer.write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    chains = []
    for number, precert in enumerate([False, True, False]):
        leaf = lab["tmp"] / f"leaf{number}.pem"
        leaf.write_bytes(_leaf(f"n{number}.lab.test", rogue_key, rogue, precert=precert).public_bytes(
            serialization.Encoding.PEM))
        chains.append({"pem": [str(leaf), str(issuer)], "precert": precert})
    before = len(lab["log"].entries)
    out = io.StringIO()
    with redirect_stdout(out):
        assert ct_log.main(["submit-all", lab["url"], json.dumps(chains), "--log-list", str(lab["log_list"])]) == 0
    scts = json.loads(out.getvalue())
    assert len(scts) == 3 and all(sct["verified"] for sct in scts)
    assert len(lab["log"].entries) == before + 3
    assert [entry.entry_type for entry in lab["log"].entries[before:]] == [ct_log.X509_ENTRY, ct_log.PRECERT_ENTRY,
                                                                            ct_log.X509_ENTRY]
