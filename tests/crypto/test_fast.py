"""The fast scheme: keyed BLAKE2b-512, verified in constant time by the keyring alone."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from crypto import CryptoError, FastKeyring, FastSigner, cluster_keys

SECRET = bytes(range(32))
SIGNERS, KEYRING = cluster_keys("fast", b"fast-tests", ["r0", "r1", "c0"])


def test_signature_is_blake2b_512_keyed_with_the_secret() -> None:
    signer = FastSigner(principal="r0", secret=SECRET)
    expected = hashlib.blake2b(b"abc", key=SECRET, digest_size=64).digest()
    assert signer.sign(b"abc") == expected
    assert signer.scheme == "fast"


def test_blake2b_keyed_known_answer() -> None:
    # First keyed vector of the BLAKE2 reference blake2b-kat.txt: key 00..3f, empty input.
    expected = (
        "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
        "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"
    )
    assert hashlib.blake2b(b"", key=bytes(range(64)), digest_size=64).hexdigest() == expected


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare_digest = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    signature = SIGNERS["r0"].sign(b"m")
    assert KEYRING.verify("r0", b"m", signature)
    assert calls == [(signature, signature)]


def test_keyring_lists_and_knows_its_principals() -> None:
    assert KEYRING.principals() == ("c0", "r0", "r1")
    assert KEYRING.knows("c0")
    assert not KEYRING.knows("r2")


def test_secret_must_be_32_bytes() -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        FastSigner(principal="r0", secret=b"\x00" * 64)
    with pytest.raises(CryptoError, match="secret of 'r0' must be 32 bytes"):
        FastKeyring({"r0": b"short"})


def test_repr_never_shows_the_secret() -> None:
    signer = FastSigner(principal="r0", secret=SECRET)
    assert SECRET.hex() not in repr(signer)
    assert SECRET.hex() not in repr(FastKeyring.of([signer]))


def test_a_keyring_refuses_one_secret_for_two_principals() -> None:
    # Otherwise r0's signer would produce signatures the keyring accepts as r1's.
    with pytest.raises(CryptoError, match="'r1' has the same secret as 'r0'"):
        FastKeyring({"r0": SECRET, "r1": SECRET})
