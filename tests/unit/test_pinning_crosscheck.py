"""Cross-check tlsa_record / hpkp_pin against independent real tools.

Tools (Debian packages):
  danetool    gnutls-bin
  ldns-dane   ldnsutils
  tlsa        hash-slinger
  openssl     openssl

Each test skips with a clear reason when its tool is missing. The tools
print slightly different formats (``( 03 01 01 hex )``, tabs, a TTL, chatter
on other lines), so their output is normalised to
``(owner, usage, selector, matching_type, hex)`` before comparison.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pki_factory as pf
import pytest

from pinning import hpkp_pin, tlsa_record

HOST = "www.example.org"


class Tlsa(NamedTuple):
    owner: str
    usage: int
    selector: int
    mtype: int
    data: str


_TLSA_RE = re.compile(
    r"^(?P<owner>\S+)\s+(?:\d+\s+)?(?:IN\s+)?TLSA\s+\(?\s*"
    r"(?P<u>\d+)\s+(?P<s>\d+)\s+(?P<m>\d+)\s+(?P<data>[0-9A-Fa-f\s]+?)\s*\)?\s*$"
)


def parse_tlsa_lines(text: str) -> list[Tlsa]:
    """All TLSA records in a tool's output, normalised."""
    records = []
    for line in text.splitlines():
        match = _TLSA_RE.match(line.strip())
        if match:
            records.append(
                Tlsa(
                    match["owner"].lower().rstrip(".") + ".",
                    int(match["u"]),
                    int(match["s"]),
                    int(match["m"]),
                    re.sub(r"\s+", "", match["data"]).lower(),
                )
            )
    return records


def one_record(text: str) -> Tlsa:
    records = parse_tlsa_lines(text)
    assert len(records) == 1, f"expected one TLSA record in tool output:\n{text}"
    return records[0]


def ours(pem: str, **kwargs: object) -> Tlsa:
    return one_record(tlsa_record(pem, HOST, **kwargs))


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian package {package})")
    return path


def run(args: list[str], stdin: bytes | None = None) -> str:
    result = subprocess.run(
        args, input=stdin, capture_output=True, timeout=60, check=False
    )
    assert (
        result.returncode == 0
    ), f"{args[0]} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
    return result.stdout.decode()


def run_bytes(args: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        args, input=stdin, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


class Files(NamedTuple):
    pki: pf.Pki
    leaf: Path
    ca: Path
    chain: Path
    pubkey: Path
    privkey: Path


@pytest.fixture(scope="module", params=pf.KEY_TYPES)
def files(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Files:
    key_type = request.param
    pki = pf.make_pki(key_type, HOST)
    base = tmp_path_factory.mktemp(key_type)
    paths = {
        "leaf": pki.leaf_pem,
        "ca": pki.ca_pem,
        "chain": pki.chain_pem,
        "pubkey": pf.public_pem(pki.leaf_key),
        "privkey": pf.private_pem(pki.leaf_key),
    }
    for name, text in paths.items():
        (base / f"{name}.pem").write_text(text)
    return Files(pki, *(base / f"{name}.pem" for name in paths))


@pytest.fixture(scope="module")
def compressed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pf.CompressedCert, Path]:
    cert = pf.make_compressed_point_cert(HOST)
    path = tmp_path_factory.mktemp("compressed") / "cert.pem"
    path.write_text(cert.pem)
    return cert, path


# --------------------------------------------------------------------------
# danetool (GnuTLS)
# --------------------------------------------------------------------------

# usage -> danetool flags (--domain is the default and means DANE-*)
_DANETOOL_USAGE = {3: [], 2: ["--ca"], 1: ["--no-domain"], 0: ["--no-domain", "--ca"]}


@pytest.mark.parametrize("usage", [0, 1, 2, 3])
@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [1, 2])
def test_danetool_certificate(
    files: Files, usage: int, selector: int, mtype: int
) -> None:
    tool = need("danetool", "gnutls-bin")
    cert = files.ca if usage in (0, 2) else files.leaf
    args = [tool, "--tlsa-rr", "--host", HOST, "--load-certificate", str(cert)]
    args += _DANETOOL_USAGE[usage]
    args += ["--x509"] if selector == 0 else []
    args += ["--hash", "sha512"] if mtype == 2 else []
    theirs = one_record(run(args))
    assert theirs == ours(
        cert.read_text(), usage=usage, selector=selector, matching_type=mtype
    )


@pytest.mark.parametrize(("port", "proto"), [(25, "tcp"), (853, "udp"), (5061, "sctp")])
def test_danetool_port_and_proto(files: Files, port: int, proto: str) -> None:
    tool = need("danetool", "gnutls-bin")
    args = [tool, "--tlsa-rr", "--host", HOST, "--load-certificate", str(files.chain)]
    theirs = one_record(run(args + ["--port", str(port), "--proto", proto]))
    assert theirs == ours(files.chain.read_text(), port=port, proto=proto)


def test_danetool_public_key_and_private_key(files: Files) -> None:
    tool = need("danetool", "gnutls-bin")
    theirs = one_record(
        run([tool, "--tlsa-rr", "--host", HOST, "--load-pubkey", str(files.pubkey)])
    )
    assert theirs == ours(files.pubkey.read_text())
    assert theirs == ours(files.privkey.read_text())
    assert theirs == ours(files.leaf.read_text())


# --------------------------------------------------------------------------
# ldns-dane (ldns)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("usage", [0, 1, 2, 3])
@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_ldns_dane_chain(files: Files, usage: int, selector: int, mtype: int) -> None:
    """ldns-dane on a leaf+CA chain: EE usages use the leaf, TA usages the CA.

    Our filter uses the first certificate of what it is given, so the CA
    usages are compared with the CA certificate passed on its own.
    """
    tool = need("ldns-dane", "ldnsutils")
    args = [tool, "-n", "-s", "-c", str(files.chain), "create", HOST, "443"]
    theirs = one_record(run(args + [str(usage), str(selector), str(mtype)]))
    cert = files.ca if usage in (0, 2) else files.chain
    assert theirs == ours(
        cert.read_text(), usage=usage, selector=selector, matching_type=mtype
    )


def test_ldns_dane_default_command_from_the_issue(files: Files) -> None:
    tool = need("ldns-dane", "ldnsutils")
    theirs = one_record(
        run([tool, "-c", str(files.leaf), "create", HOST, "443", "3", "1", "1"])
    )
    assert theirs == ours(files.leaf.read_text())


@pytest.mark.parametrize(("port", "udp"), [(25, False), (853, True)])
def test_ldns_dane_port_and_udp(files: Files, port: int, udp: bool) -> None:
    tool = need("ldns-dane", "ldnsutils")
    args = (
        [tool, "-n"]
        + (["-u"] if udp else [])
        + ["-c", str(files.leaf), "create", HOST, str(port)]
    )
    theirs = one_record(run(args))
    assert theirs == ours(
        files.leaf.read_text(), port=port, proto="udp" if udp else "tcp"
    )


def test_ldns_dane_compressed_point_certificate(
    compressed: tuple[pf.CompressedCert, Path],
) -> None:
    tool = need("ldns-dane", "ldnsutils")
    cert, path = compressed
    theirs = one_record(
        run([tool, "-n", "-c", str(path), "create", HOST, "443", "3", "1", "1"])
    )
    assert theirs == ours(cert.pem)


# --------------------------------------------------------------------------
# hash-slinger's tlsa
# --------------------------------------------------------------------------


@pytest.mark.parametrize("usage", [0, 1, 2, 3])
@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_hash_slinger(files: Files, usage: int, selector: int, mtype: int) -> None:
    tool = need("tlsa", "hash-slinger")
    cert = files.ca if usage in (0, 2) else files.leaf
    args = [tool, "--create", "--certificate", str(cert), "--usage", str(usage)]
    args += ["--selector", str(selector), "--mtype", str(mtype), HOST]
    theirs = one_record(run(args, stdin=b""))
    assert theirs == ours(
        cert.read_text(), usage=usage, selector=selector, matching_type=mtype
    )


def test_hash_slinger_command_from_the_issue(files: Files) -> None:
    # NB: hash-slinger's default selector is 0 (full certificate), ours is 1.
    tool = need("tlsa", "hash-slinger")
    theirs = one_record(
        run([tool, "--create", "--certificate", str(files.leaf), HOST], stdin=b"")
    )
    assert theirs == ours(files.leaf.read_text(), selector=0)


@pytest.mark.parametrize(("port", "proto"), [(25, "tcp"), (853, "udp"), (5061, "sctp")])
def test_hash_slinger_port_and_proto(files: Files, port: int, proto: str) -> None:
    tool = need("tlsa", "hash-slinger")
    args = [tool, "--create", "--certificate", str(files.leaf), "--selector", "1"]
    args += ["--port", str(port), "--protocol", proto, HOST]
    theirs = one_record(run(args, stdin=b""))
    assert theirs == ours(files.leaf.read_text(), port=port, proto=proto)


def test_hash_slinger_compressed_point_certificate(
    compressed: tuple[pf.CompressedCert, Path],
) -> None:
    tool = need("tlsa", "hash-slinger")
    cert, path = compressed
    args = [tool, "--create", "--certificate", str(path), "--selector", "1", HOST]
    assert one_record(run(args, stdin=b"")) == ours(cert.pem)


# --------------------------------------------------------------------------
# openssl pipeline
# --------------------------------------------------------------------------


def _openssl_spki_der(openssl: str, cert: Path) -> bytes:
    """openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER"""
    pubkey_pem = run_bytes([openssl, "x509", "-in", str(cert), "-pubkey", "-noout"])
    return run_bytes([openssl, "pkey", "-pubin", "-outform", "DER"], stdin=pubkey_pem)


def _openssl_digest_hex(openssl: str, algorithm: str, data: bytes) -> str:
    out = run([openssl, "dgst", f"-{algorithm}", "-r"], stdin=data)
    return out.split()[0].lower()


@pytest.mark.parametrize(("mtype", "algorithm"), [(1, "sha256"), (2, "sha512")])
def test_openssl_pipeline_spki(files: Files, mtype: int, algorithm: str) -> None:
    openssl = need("openssl", "openssl")
    expected = _openssl_digest_hex(
        openssl, algorithm, _openssl_spki_der(openssl, files.leaf)
    )
    assert ours(files.leaf.read_text(), matching_type=mtype).data == expected
    assert ours(files.privkey.read_text(), matching_type=mtype).data == expected


def test_openssl_pipeline_full_spki_and_cert(files: Files) -> None:
    openssl = need("openssl", "openssl")
    assert (
        ours(files.leaf.read_text(), matching_type=0).data
        == _openssl_spki_der(openssl, files.leaf).hex()
    )
    cert_der = run_bytes([openssl, "x509", "-in", str(files.leaf), "-outform", "DER"])
    assert (
        ours(files.leaf.read_text(), selector=0, matching_type=0).data == cert_der.hex()
    )
    assert ours(files.leaf.read_text(), selector=0).data == _openssl_digest_hex(
        openssl, "sha256", cert_der
    )


def test_openssl_private_key_pipeline(files: Files) -> None:
    openssl = need("openssl", "openssl")
    der = run_bytes(
        [openssl, "pkey", "-in", str(files.privkey), "-pubout", "-outform", "DER"]
    )
    assert ours(files.privkey.read_text()).data == _openssl_digest_hex(
        openssl, "sha256", der
    )


def test_openssl_hpkp_pin(files: Files) -> None:
    openssl = need("openssl", "openssl")
    digest = run_bytes(
        [openssl, "dgst", "-sha256", "-binary"],
        stdin=_openssl_spki_der(openssl, files.leaf),
    )
    expected = run([openssl, "base64", "-A"], stdin=digest).strip()
    assert expected == base64.b64encode(digest).decode()
    assert hpkp_pin(files.leaf.read_text()) == expected
    assert hpkp_pin(files.chain.read_text()) == expected


def test_openssl_compressed_point_certificate(
    compressed: tuple[pf.CompressedCert, Path],
) -> None:
    openssl = need("openssl", "openssl")
    cert, path = compressed
    spki = _openssl_spki_der(openssl, path)
    assert spki == cert.spki_der  # openssl keeps the compressed encoding
    assert ours(cert.pem).data == _openssl_digest_hex(openssl, "sha256", spki)
