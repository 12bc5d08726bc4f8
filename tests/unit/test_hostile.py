"""The property tests' own checks: what counts as quoting a secret."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from hostile import _SECRET_KEYS, SECRET_PEMS, assert_safe_message


def test_a_fragment_of_a_private_key_in_a_message_is_caught() -> None:
    ec_private = _SECRET_KEYS[1].private_numbers().private_value.to_bytes(32, "big").hex()
    with pytest.raises(AssertionError, match="secret fragment"):
        assert_safe_message(f"matching_type must be 0, 1 or 2, got {ec_private[4:20]!r}", "matching_type")
    body = "".join(SECRET_PEMS[0].strip().splitlines()[1:-1])
    with pytest.raises(AssertionError, match="secret fragment"):
        assert_safe_message(f"pem: got {body[400:430]!r}", "pem")


def test_public_parts_of_the_keys_may_be_quoted() -> None:
    # id-ecPublicKey's OID and the start of the public key are in the private key's encoding too, but not secret
    # (the code under test carries such constants, and hypothesis draws examples from them).
    assert_safe_message("matching_type must be 0, 1 or 2, got '072a8648ce3d'", "matching_type")
    public = _SECRET_KEYS[1].public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint).hex()
    assert_safe_message(f"pem: got {public[2:30]!r}", "pem")
