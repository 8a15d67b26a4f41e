"""The digest function is SHA-256, pinned by the FIPS 180-4 example vectors."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from crypto import DIGEST_SIZE, digest


def test_digest_of_empty_input_is_the_sha256_test_vector() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert digest(b"").hex() == expected


def test_digest_of_abc_is_the_sha256_test_vector() -> None:
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert digest(b"abc").hex() == expected


def test_digest_of_two_block_message_is_the_sha256_test_vector() -> None:
    message = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    expected = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert digest(message).hex() == expected


@given(st.binary(max_size=300))
def test_digest_is_always_digest_size_bytes_of_sha256(data: bytes) -> None:
    result = digest(data)
    assert len(result) == DIGEST_SIZE == 32
    assert result == hashlib.sha256(data).digest()
