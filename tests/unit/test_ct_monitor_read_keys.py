"""Unit tests for roles/ct_monitor/library/ct_monitor_read_keys.py: only public PEM leaves the host."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pki_factory as pf
import pytest

from ct_monitor_read_keys import ReadError, public_pem


def openssl(argv: Sequence[str]) -> tuple[int, str, str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_chain_gives_its_first_certificate(tmp_path: Path) -> None:
    pki = pf.make_pki("p256")
    chain = tmp_path / "fullchain.pem"
    chain.write_text(pki.chain_pem)
    assert public_pem(str(chain), False, openssl).strip() == pki.leaf_pem.strip()


@pytest.mark.parametrize("form", ["private", "public"])
def test_a_staged_key_gives_its_public_key_only(tmp_path: Path, form: str) -> None:
    key = pf.new_key("p256")
    path = tmp_path / "next.key"
    path.write_text(pf.private_pem(key) if form == "private" else pf.public_pem(key))
    out = public_pem(str(path), True, openssl)
    assert out.strip() == pf.public_pem(key).strip()
    assert "PRIVATE" not in out


def test_unreadable_input_is_named_without_its_content(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="does not exist"):
        public_pem(str(tmp_path / "missing.crt"), False, openssl)
    key = tmp_path / "www.key"
    key.write_text(pf.private_pem(pf.new_key("p256")))
    with pytest.raises(ReadError, match="holds no PEM certificate"):
        public_pem(str(key), False, openssl)
    broken = tmp_path / "broken.key"
    broken.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ReadError) as caught:
        public_pem(str(broken), True, openssl)
    assert "c2VjcmV0" not in str(caught.value)
