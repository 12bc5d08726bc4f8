"""Test helpers for the property tests: hostile values, key material, and the checks every answer must pass.

- ``hostile_values``: wrong types, huge numbers and strings, control characters, unbalanced brackets,
  URLs that make urlsplit raise, and key material (``SECRET_VALUES``).
- ``assert_safe_message``: a message names the argument, stays short and quotes no part of a secret.
- ``assert_one_record``: a zone-file line loads in dnspython (independently of bulwark_zonefile) as
  exactly one record with an absolute owner.
- ``pem_layouts``: a PEM text re-written in the layouts cryptography's parser accepts (and a few it
  does not), for digest properties.
"""

from __future__ import annotations

import base64
from typing import Any

import dns.name
import dns.zone
import pki_factory as pf
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Derandomized: the same examples on every run and machine, so CI is repeatable.
settings.register_profile(
    "bulwark-properties",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def properties(examples: int) -> Any:
    """``@settings`` of a property test: derandomized, ``examples`` generated cases."""
    return settings(settings.get_profile("bulwark-properties"), max_examples=examples)


# --------------------------------------------------------------------------
# key material
# --------------------------------------------------------------------------

_SECRET_KEYS = [
    pf.cached_rsa_key(2048, 0),
    ec.derive_private_key(0x1F2E3D4C5B6A79881726354453627180, ec.SECP256R1()),
    ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39))),
]
SECRET_PEMS = [pf.private_pem(key, fmt) for key in _SECRET_KEYS for fmt in ("pkcs8", "traditional")
               if fmt == "pkcs8" or not isinstance(key, ed25519.Ed25519PrivateKey)]
_SEED = _SECRET_KEYS[2].private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())


def _secret_values() -> list[str]:
    values = []
    for pem in SECRET_PEMS:
        lines = pem.strip().splitlines()
        body = "".join(lines[1:-1])
        values += [pem, pem.strip(), lines[1], body, base64.b64decode(body).hex()]
    values += [base64.b64encode(_SEED).decode(), _SEED.hex(), f"mailto:{_SEED.hex()}@example.org",
               f"https://example.org/{SECRET_PEMS[1].splitlines()[1]}"]
    return values


SECRET_VALUES = _secret_values()


def _public_texts() -> list[str]:
    """The public halves of the secret keys (SubjectPublicKeyInfo DER, hex and base64): a private key's encoding
    repeats them (algorithm OIDs, the RSA modulus), and a message may quote what is public."""
    texts = []
    for key in _SECRET_KEYS:
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        texts += [der.hex(), base64.b64encode(der).decode()]
    return texts


def _fragments() -> set[str]:
    """12-character slices of every secret's base64 body and hex that are not part of the public key: none may
    appear in a message."""
    fragments: set[str] = set()
    for pem in SECRET_PEMS:
        body = "".join(pem.strip().splitlines()[1:-1])
        for text in (body, base64.b64decode(body).hex()):
            fragments.update(text[i : i + 12] for i in range(0, len(text) - 12, 3))
    for text in (_SEED.hex(), base64.b64encode(_SEED).decode()):
        fragments.update(text[i : i + 12] for i in range(0, len(text) - 12, 3))
    public = _public_texts()
    return {fragment for fragment in fragments if not any(fragment in text for text in public)}


SECRET_FRAGMENTS = _fragments()
MAX_MESSAGE = 1500


def assert_safe_message(message: str, argument: str) -> None:
    """``message`` names ``argument``, is short, and quotes no PEM marker or fragment of a secret."""
    assert argument in message, f"{argument!r} not named in: {message[:300]}"
    assert len(message) < MAX_MESSAGE, message[:300]
    assert "PRIVATE KEY" not in message and "-----BEGIN" not in message, message[:300]
    leaked = [fragment for fragment in SECRET_FRAGMENTS if fragment in message]
    assert not leaked, f"secret fragment {leaked[0]!r} in: {message[:300]}"


# --------------------------------------------------------------------------
# hostile values
# --------------------------------------------------------------------------

BIG_TEXTS = ["x" * (1 << 20), "a." * 300_000, "-----BEGIN CERTIFICATE-----\n" * 40_000, "9" * 5000]
TRICKY_TEXTS = [
    "", " ", "a\n", "example.org\n", "443\n", "\n", "\r\n", "\x00", "a\x00b", "\x7f", "\u202e", "é", "ａ",
    "[", "]", "[[", "]]", "{", "}", "(", ")", "{{ x }}", "'", '"', "\\", ";", "$", "#", "@", "*", "*.", "..",
    "https://[", "https://]", "https://[::1", "https://::1]/", "https://[x]:99999/", "https://a:-1/",
    "https://a:65536/", "mailto:[@]", "mailto:a@[", "http://[", "//", "https://", "-1", "+1", "1e3", "0x10",
    "١٢٣", "1_000", " 1", "1 ", "3\n", "dns-01\n", "/var/www\n", "true", "yes", "off", "None", "null",
]
HUGE_INTS = [10**5000, -(10**5000), 2**64, 2**31, -1, 10**20]

hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30),
    st.sampled_from(TRICKY_TEXTS),
    st.sampled_from(BIG_TEXTS),
    st.sampled_from(SECRET_VALUES),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.lists(st.sampled_from(SECRET_VALUES), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just(object()),
)


# --------------------------------------------------------------------------
# dnspython, independently of bulwark_zonefile
# --------------------------------------------------------------------------


def assert_one_record(line: str) -> None:
    """``line`` loads in dnspython as exactly one record whose owner is written absolute."""
    assert isinstance(line, str) and "\n" not in line and "\r" not in line
    owner = line.split()[0]
    assert dns.name.from_text(owner, origin=None).is_absolute(), line[:120]
    zone = dns.zone.from_text(f"$TTL 300\n{line}\n", origin=dns.name.root, relativize=False, check_origin=False)
    rdatas = [rdata for _name, node in zone.nodes.items() for rdataset in node.rdatasets for rdata in rdataset]
    assert len(rdatas) == 1, line[:120]


# --------------------------------------------------------------------------
# PEM layouts
# --------------------------------------------------------------------------


@st.composite
def pem_layouts(draw: Any, label: str, der: bytes) -> str:
    """``der`` as a ``label`` PEM block in a drawn layout: line width, line ends, blanks, headers, junk."""
    data = base64.b64encode(der).decode()
    width = draw(st.sampled_from([64, 64, 76, 4, 20, 48, 100, 100_000]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    indent = draw(st.sampled_from(["", "", " ", "\t", "  "]))
    trailing = draw(st.sampled_from(["", "", " ", "\t "]))
    lines = [indent + data[i : i + width] + trailing for i in range(0, len(data), width)]
    header = draw(st.sampled_from([None, None, "Comment: next key", "Comment: a b c" + newline + "X-Note: x"]))
    head = f"-----BEGIN {label}-----" + newline
    if header is not None:
        head += header + newline + newline
    end_on_own_line = draw(st.booleans())
    text = head + newline.join(lines) + (newline if end_on_own_line else "") + f"-----END {label}-----"
    prefix = draw(st.sampled_from(["", "", "subject=CN = www.example.org" + newline, "junk ", newline]))
    suffix = draw(st.sampled_from(["", newline, newline + newline, " trailing junk", newline + "# end"]))
    return prefix + text + suffix
