"""The ed25519 scheme: RFC 8032 answers, and a keyring that never raises on bad input."""

from __future__ import annotations

import pytest

from crypto import (
    CryptoError,
    Ed25519Keyring,
    Ed25519Signer,
    cluster_keys,
    derive_seed,
)

# RFC 8032 §7.1, TEST 1.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

SIGNERS, KEYRING = cluster_keys("ed25519", b"ed25519-tests", ["r0", "r1", "c0"])
SIGNER_R0 = Ed25519Signer(principal="r0", seed=derive_seed("ed25519", b"ed25519-tests", "r0"))


def test_signer_reproduces_rfc8032_test_1() -> None:
    signer = Ed25519Signer(principal="r0", seed=RFC_SEED)
    assert signer.public_key == RFC_PUBLIC
    assert signer.sign(b"") == RFC_SIGNATURE
    assert signer.scheme == "ed25519"


def test_keyring_accepts_rfc8032_test_1() -> None:
    keyring = Ed25519Keyring({"r0": RFC_PUBLIC})
    assert keyring.verify("r0", b"", RFC_SIGNATURE)
    assert not keyring.verify("r0", b"x", RFC_SIGNATURE)


def test_keyring_lists_and_knows_its_principals() -> None:
    assert KEYRING.principals() == ("c0", "r0", "r1")
    assert KEYRING.knows("r1")
    assert not KEYRING.knows("r3")
    assert isinstance(KEYRING, Ed25519Keyring)
    assert KEYRING.public_key("r0") == SIGNER_R0.public_key


def test_public_key_of_unknown_principal_is_a_crypto_error() -> None:
    keyring = Ed25519Keyring({})
    with pytest.raises(CryptoError, match="no key for 'r0'"):
        keyring.public_key("r0")


@pytest.mark.parametrize(
    "public_key",
    [bytes(32), b"\xff" * 32, bytes.fromhex("01" + "00" * 31)],
    ids=["zero", "all-ones", "identity"],
)
def test_keyring_rejects_invalid_public_keys(public_key: bytes) -> None:
    with pytest.raises(CryptoError, match="not a valid Ed25519 public key"):
        Ed25519Keyring({"r0": public_key})


def test_keyring_rejects_public_keys_of_the_wrong_length() -> None:
    with pytest.raises(CryptoError, match="must be 32 bytes"):
        Ed25519Keyring({"r0": RFC_PUBLIC[:31]})


def test_keyring_of_duplicate_signers_is_rejected() -> None:
    signer = Ed25519Signer(principal="r0", seed=RFC_SEED)
    with pytest.raises(CryptoError, match="duplicate principal 'r0'"):
        Ed25519Keyring.of([signer, signer])


def test_signer_rejects_a_seed_of_the_wrong_length() -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        Ed25519Signer(principal="r0", seed=b"short")


def test_repr_never_shows_the_seed() -> None:
    signer = Ed25519Signer(principal="r0", seed=RFC_SEED)
    assert RFC_SEED.hex() not in repr(signer)
    assert RFC_PUBLIC.hex() in repr(signer)


def test_a_keyring_refuses_one_public_key_for_two_principals() -> None:
    # Otherwise whoever holds that key signs validly as both, and two "distinct" votes in a
    # quorum could come from one faulty node.
    with pytest.raises(CryptoError, match="'r1' has the same public key as 'r0'"):
        Ed25519Keyring({"r0": RFC_PUBLIC, "r1": RFC_PUBLIC})
