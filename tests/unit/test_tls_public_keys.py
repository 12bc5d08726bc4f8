"""Unit tests for roles/shared/library/tls_public_keys.py, against the controller's real openssl.

The digests are checked against cryptography (pki_factory) and against the tlsa_record filter, so the reader
and dns_records agree on every key; private key material must never appear in a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pki_factory
import pytest
import tls_public_keys
from pinning import tlsa_record

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

OPENSSL = shutil.which("openssl") or "openssl"


def run(argv: Sequence[str], data: bytes | None) -> tuple[int, bytes, bytes]:
    proc = subprocess.run(list(argv), input=data, capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"})
    return proc.returncode, proc.stdout, proc.stderr


def read(services: list[dict[str, Any]] = (), fallback: list[dict[str, Any]] = (), fact: str | list[str] = ""
         ) -> dict[str, Any]:
    return tls_public_keys.read_all(list(services), list(fallback), fact, run, OPENSSL)


def service(cert: Path, next_key: Path | None = None, names: Sequence[str] = ("www.example.org",),
            port: int = 443) -> dict[str, Any]:
    return {"names": list(names), "port": port, "proto": "tcp",
            "certificates": [{"cert": str(cert), "next_key": str(next_key) if next_key else None}]}


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Any]:
    pki = pki_factory.make_pki("p256")
    next_key = pki_factory.new_key("rsa2048", slot=1)
    paths = {"chain": tmp_path / "fullchain.pem", "next": tmp_path / "next.key", "next_pub": tmp_path / "next.pub",
             "current_key": tmp_path / "current.key"}
    paths["chain"].write_text(pki.chain_pem)
    paths["next"].write_text(pki_factory.private_pem(next_key))
    paths["next_pub"].write_text(pki_factory.public_pem(next_key))
    paths["current_key"].write_text(pki_factory.private_pem(pki.leaf_key, "traditional"))
    return {"pki": pki, "next_key": next_key, **paths}


def test_a_certificate_gives_its_leaf_and_the_spki_digest_of_its_key(files: dict[str, Any]) -> None:
    result = read([service(files["chain"])])
    [key] = result["services"][0]["keys"]
    assert key["kind"] == "current" and key["path"] == str(files["chain"])
    assert key["certificate"] == files["pki"].leaf_pem  # the leaf only, not the CA after it
    assert key["spki_sha256"] == hashlib.sha256(pki_factory.spki_der(files["pki"].leaf_key)).hexdigest()
    assert key["public_key"] == pki_factory.public_pem(files["pki"].leaf_key)


@pytest.mark.parametrize("which", ["next", "next_pub"])
def test_a_staged_key_private_or_public_gives_only_its_public_key(files: dict[str, Any], which: str) -> None:
    result = read([service(files["chain"], files[which])])
    current, staged = result["services"][0]["keys"]
    assert staged["kind"] == "next" and staged["certificate"] is None
    assert staged["spki_sha256"] == hashlib.sha256(pki_factory.spki_der(files["next_key"])).hexdigest()
    assert "PRIVATE" not in json.dumps(result)


def test_the_digest_is_the_tlsa_3_1_1_value_of_the_same_key(files: dict[str, Any]) -> None:
    result = read([service(files["chain"], files["next"])])
    for key in result["services"][0]["keys"]:
        line = tlsa_record(key["certificate"] or key["public_key"], "www.example.org")
        assert line.endswith(" 3 1 1 " + key["spki_sha256"])


def test_a_compressed_ec_point_is_hashed_as_the_certificate_holds_it(tmp_path: Path) -> None:
    compressed = pki_factory.make_compressed_point_cert()
    (tmp_path / "c.pem").write_text(compressed.pem)
    [key] = read([service(tmp_path / "c.pem")])["services"][0]["keys"]
    assert key["spki_sha256"] == hashlib.sha256(compressed.spki_der).hexdigest()


def test_the_published_fact_wins_over_the_fallback(files: dict[str, Any], tmp_path: Path) -> None:
    fact = tmp_path / "bulwark_tls.fact"
    fact.write_text(json.dumps({"schema": 1, "server": "nginx", "sites": [
        {"name": "a.example.org", "names": ["a.example.org"], "port": 443, "proto": "tcp", "http_port": 80,
         "certificates": [{"cert": str(files["chain"]), "key": str(files["current_key"]), "chain": "/x",
                           "next_key": str(files["next"]), "key_type": "ecdsa"}]}]}))
    result = read(fallback=[service(tmp_path / "missing.pem", names=["b.example.org"])], fact=str(fact))
    assert result["published"] is True
    [published] = result["services"]
    assert published["source"] == "published" and published["names"] == ["a.example.org"]
    assert [k["kind"] for k in published["keys"]] == ["current", "next"]
    # The fact names the current private key too; it is never read or returned.
    assert "PRIVATE" not in json.dumps(result)


def test_without_a_fact_the_fallback_is_read_and_services_always(files: dict[str, Any], tmp_path: Path) -> None:
    result = read([service(files["chain"], names=["mx.example.org"], port=25)], [service(files["chain"])],
                  fact=str(tmp_path / "absent.fact"))
    assert result["published"] is False
    assert [(s["source"], s["names"], s["port"]) for s in result["services"]] == [
        ("services", ["mx.example.org"], 25), ("fallback", ["www.example.org"], 443)]


def test_a_file_listed_twice_is_read_once(files: dict[str, Any]) -> None:
    calls: list[Sequence[str]] = []

    def counting(argv: Sequence[str], data: bytes | None) -> tuple[int, bytes, bytes]:
        calls.append(argv)
        return run(argv, data)

    tls_public_keys.read_all([service(files["chain"]), service(files["chain"], names=["x.example.org"])], [], "",
                             counting, OPENSSL)
    assert len(calls) == 4  # leaf PEM, public key, its DER and canonical PEM: once


@pytest.mark.parametrize(("content", "message"), [
    (None, "cert {path}: No such file or directory"),
    ("not a certificate\n", "cert {path}: no PEM certificate in the file"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "cert {path}: "),
])
def test_an_unreadable_certificate_fails_naming_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "cert.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(tls_public_keys.ReadError, match="^" + message.format(path=path).replace(".", r"\.")):
        read([service(path)])


def test_a_next_key_that_is_no_key_fails_without_quoting_it(files: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n")
    with pytest.raises(tls_public_keys.ReadError) as failure:
        read([service(files["chain"], bad)])
    assert str(failure.value).startswith(f"next_key {bad} (neither a private nor a public key)")
    assert "c2VjcmV0" not in str(failure.value)


@pytest.mark.parametrize("fact", ['{"schema": 2, "sites": []}', "[]", "{not json", '{"schema": 1}'])
def test_a_fact_of_another_shape_is_refused(tmp_path: Path, fact: str) -> None:
    path = tmp_path / "bulwark_tls.fact"
    path.write_text(fact)
    with pytest.raises(tls_public_keys.ReadError, match=f"^fact {path}: "):
        read(fact=str(path))


def issuer_service(cert: Path, chain: Path | None = None, port: int = 25) -> dict[str, Any]:
    return {"names": ["mx.example.org"], "port": port, "proto": "tcp", "issuer": True,
            "certificates": [{"cert": str(cert), "chain": str(chain) if chain else None}]}


def test_the_issuer_is_found_after_the_leaf_or_in_the_chain_file(files: dict[str, Any], tmp_path: Path) -> None:
    pki = files["pki"]
    leaf, chain = tmp_path / "leaf.pem", tmp_path / "chain.pem"
    leaf.write_text(pki.leaf_pem)
    # An impostor first: the CA's name on another key. Only the certificate that signed the leaf counts.
    impostor = pki_factory.cert_pem(pki_factory.make_cert(pki_factory.new_key("p256", slot=2), "Bulwark Test CA",
                                                          ca=True))
    chain.write_text(impostor + pki.ca_pem)
    for service_ in (issuer_service(files["chain"]), issuer_service(leaf, chain)):
        current, issuer = read([service_])["services"][0]["keys"]
        assert current["kind"] == "current" and issuer["kind"] == "issuer"
        assert issuer["certificate"] == pki.ca_pem
        assert issuer["spki_sha256"] == hashlib.sha256(pki_factory.spki_der(pki.ca_key)).hexdigest()
        line = tlsa_record(issuer["certificate"], "mx.example.org", port=25, usage=2)
        assert line.endswith(" 2 1 1 " + issuer["spki_sha256"])
    assert read([issuer_service(files["chain"])])["services"][0]["keys"][1]["path"] == str(files["chain"])
    assert read([issuer_service(leaf, chain)])["services"][0]["keys"][1]["path"] == str(chain)


def test_without_its_issuer_the_read_fails_naming_the_files(files: dict[str, Any], tmp_path: Path) -> None:
    leaf, chain = tmp_path / "leaf.pem", tmp_path / "chain.pem"
    leaf.write_text(files["pki"].leaf_pem)
    chain.write_text(pki_factory.cert_pem(pki_factory.make_cert(pki_factory.new_key("p256", slot=3), "Other CA",
                                                                ca=True)))
    with pytest.raises(tls_public_keys.ReadError, match=f"^cert {leaf}: the certificate that issued it is neither "
                                                        f"in the file after it nor in chain {chain}"):
        read([issuer_service(leaf, chain)])
    # The leaf alone and no chain file: nothing to find the issuer in.
    with pytest.raises(tls_public_keys.ReadError, match="none given"):
        read([issuer_service(leaf)])


def test_every_published_fact_is_read_and_their_mail_sections_returned(files: dict[str, Any], tmp_path: Path) -> None:
    web, mail = tmp_path / "bulwark_tls.fact", tmp_path / "bulwark_mail.fact"
    site = {"name": "a.example.org", "names": ["a.example.org"], "port": 443, "proto": "tcp",
            "certificates": [{"cert": str(files["chain"]), "chain": None, "next_key": None}]}
    web.write_text(json.dumps({"schema": 1, "server": "nginx", "sites": [site]}))
    mail_section = {"domain": "example.org", "mta_sts_policy": None, "tls_rpt": ["mailto:r@example.org"]}
    mail.write_text(json.dumps({"schema": 1, "server": "postfix", "mail": mail_section, "sites": [
        {**site, "name": "mx.example.org", "names": ["mx.example.org"], "port": port, "issuer": True}
        for port in (25, 993)]}))
    result = read(fallback=[service(tmp_path / "missing.pem")], fact=[str(web), str(tmp_path / "none"), str(mail)])
    assert result["published"] is True and result["mail"] == [mail_section]
    assert [(s["names"], s["port"], [k["kind"] for k in s["keys"]]) for s in result["services"]] == [
        (["a.example.org"], 443, ["current"]), (["mx.example.org"], 25, ["current", "issuer"]),
        (["mx.example.org"], 993, ["current", "issuer"])]
    mail.write_text(json.dumps({"schema": 1, "sites": [], "mail": "lab.test"}))
    with pytest.raises(tls_public_keys.ReadError, match="'mail' section is not a mapping"):
        read(fact=str(mail))


# --- acme_certificates: the keys of a rollover under way, its own services, its accounts -----------------------------
def _acme_fact(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "bulwark_acme.fact"
    path.write_text(json.dumps({"schema": 1, **fields}))
    return path


def test_rollover_keys_that_exist_are_read_and_missing_ones_skipped(files: dict[str, Any], tmp_path: Path) -> None:
    entry = service(files["chain"])
    entry["certificates"][0]["rollover_keys"] = [str(files["next_pub"]), str(tmp_path / "ecdsa.previous.pub")]
    keys = read([entry])["services"][0]["keys"]
    assert [(k["kind"], k["path"]) for k in keys] == [("current", str(files["chain"])),
                                                       ("rollover", str(files["next_pub"]))]
    assert keys[1]["certificate"] is None
    assert keys[1]["spki_sha256"] == hashlib.sha256(pki_factory.spki_der(files["next_key"])).hexdigest()


def test_the_acme_fact_adds_its_own_services_and_its_accounts(files: dict[str, Any], tmp_path: Path) -> None:
    fact = _acme_fact(
        tmp_path,
        accounts=[{"ca": "primary", "directory": "https://ca/dir", "account_uri": "https://ca/acct/1",
                   "caa_identity": "letsencrypt.org"}],
        certificates=[{"name": "mx1", "key_type": "ecdsa", "domains": ["mx1.example.org"], "challenge": "dns-01"}],
        services=[{"names": ["mx1.example.org"], "port": 25, "proto": "tcp",
                   "certificates": [{"cert": str(files["chain"]), "rollover_keys": [str(files["next_pub"])]}]}])
    result = tls_public_keys.read_all([], [], "", run, OPENSSL, str(fact))
    [mx] = result["services"]
    assert (mx["source"], mx["names"], mx["port"]) == ("acme", ["mx1.example.org"], 25)
    assert [k["kind"] for k in mx["keys"]] == ["current", "rollover"]
    assert result["acme"] == {
        "accounts": [{"ca": "primary", "directory": "https://ca/dir", "account_uri": "https://ca/acct/1",
                      "caa_identity": "letsencrypt.org"}],
        "certificates": [{"domains": ["mx1.example.org"], "challenge": "dns-01"}]}


def test_an_acme_certificate_a_web_role_publishes_is_read_once(files: dict[str, Any], tmp_path: Path) -> None:
    web = tmp_path / "bulwark_tls.fact"
    web.write_text(json.dumps({"schema": 1, "server": "nginx", "sites": [
        {"name": "www.example.org", "names": ["www.example.org"], "port": 443, "proto": "tcp",
         "certificates": [{"cert": str(files["chain"])}]}]}))
    fact = _acme_fact(tmp_path, services=[{"names": ["www.example.org"], "port": 443, "proto": "tcp",
                                           "certificates": [{"cert": str(files["chain"])}]}])
    result = tls_public_keys.read_all([], [], str(web), run, OPENSSL, str(fact))
    assert [s["source"] for s in result["services"]] == ["published"]


def test_an_acme_certificate_not_issued_yet_is_skipped(files: dict[str, Any], tmp_path: Path) -> None:
    fact = _acme_fact(tmp_path, services=[{"names": ["mx1.example.org"], "port": 25, "proto": "tcp",
                                           "certificates": [{"cert": str(tmp_path / "none.crt")}]}])
    assert tls_public_keys.read_all([], [], "", run, OPENSSL, str(fact))["services"] == []


def test_without_an_acme_fact_the_acme_part_is_empty(files: dict[str, Any], tmp_path: Path) -> None:
    result = tls_public_keys.read_all([], [], "", run, OPENSSL, str(tmp_path / "absent.fact"))
    assert result["acme"] == {"accounts": [], "certificates": []}


@pytest.mark.parametrize("fact", ['{"schema": 2}', "{oops", '{"schema": 1, "services": {"a": 1}}'])
def test_an_acme_fact_of_another_shape_is_refused(tmp_path: Path, fact: str) -> None:
    path = tmp_path / "bulwark_acme.fact"
    path.write_text(fact)
    with pytest.raises(tls_public_keys.ReadError, match=f"^acme fact {path}: "):
        tls_public_keys.read_all([], [], "", run, OPENSSL, str(path))
