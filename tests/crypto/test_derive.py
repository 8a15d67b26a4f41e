"""Deterministic key derivation: known answers, separation of inputs, cluster keys."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import (
    SCHEMES,
    CryptoError,
    Ed25519Keyring,
    Ed25519Signer,
    FastKeyring,
    FastSigner,
    Scheme,
    cluster_keys,
    derive_seed,
    derive_signer,
)

CLUSTER = b"pbft-test-cluster"


# Known answers, computed once from the construction in docs/crypto.md; a change to any of
# them changes every key of every saved experiment.
def test_derived_seed_for_empty_cluster_seed_is_pinned() -> None:
    expected = "be77daf2eafbe66985f185bfd643ac205432ff394c01b0c271efd2816f01e60f"
    assert derive_seed("ed25519", b"", "r0").hex() == expected


def test_derived_ed25519_public_keys_are_pinned() -> None:
    r0 = derive_signer("ed25519", bytes.fromhex("00ff"), "r0")
    c0 = derive_signer("ed25519", CLUSTER, "c0")
    assert isinstance(r0, Ed25519Signer)
    assert isinstance(c0, Ed25519Signer)
    assert r0.public_key.hex() == (
        "accdbded19d1861266d5e485407c36d8267ac80b95d7fc125aaf6c3d89a397c0"
    )
    assert c0.public_key.hex() == (
        "7107ef63ef4d166635c2b844ae0eb954596daa3d3bb774752b0db3cdd333367c"
    )


def test_derived_fast_signature_is_pinned() -> None:
    signer = derive_signer("fast", CLUSTER, "r1")
    assert signer.sign(b"abc").hex() == (
        "59b7de67a3b3b5b8dd743991ed51ead1dd0c0b34ba24b48e2cff6059e97d73c6"
        "3e94a46aa3a472e3029921f9b888f1803a15e5497b4fd2b8838c13b862c294f5"
    )


@given(
    scheme=st.sampled_from(SCHEMES),
    cluster_seed=st.binary(max_size=64),
    principal=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True),
)
def test_derived_seed_follows_the_documented_construction(
    scheme: Scheme, cluster_seed: bytes, principal: str
) -> None:
    fields = [b"pbft-key-v1", scheme.encode(), cluster_seed, principal.encode()]
    material = b"".join(struct.pack(">I", len(field)) + field for field in fields)
    assert derive_seed(scheme, cluster_seed, principal) == hashlib.sha256(material).digest()


def test_length_prefixes_keep_seed_and_principal_apart() -> None:
    assert derive_seed("ed25519", b"r", "10") != derive_seed("ed25519", b"r1", "0")


def test_each_scheme_derives_its_own_secret() -> None:
    assert derive_seed("ed25519", CLUSTER, "r0") != derive_seed("fast", CLUSTER, "r0")


def test_different_cluster_seeds_give_different_keys() -> None:
    a = derive_signer("ed25519", b"cluster-a", "r0")
    b = derive_signer("ed25519", b"cluster-b", "r0")
    assert a.sign(b"m") != b.sign(b"m")


def test_derivation_is_deterministic() -> None:
    first = derive_signer("ed25519", CLUSTER, "r2").sign(b"m")
    second = derive_signer("ed25519", CLUSTER, "r2").sign(b"m")
    assert first == second


@pytest.mark.parametrize("scheme", SCHEMES)
def test_cluster_keys_match_individually_derived_signers(scheme: Scheme) -> None:
    principals = ["r0", "r1", "r2", "r3", "c0"]
    signers, keyring = cluster_keys(scheme, CLUSTER, principals)
    assert sorted(signers) == sorted(principals)
    assert keyring.principals() == ("c0", "r0", "r1", "r2", "r3")
    for name in principals:
        assert signers[name].principal == name
        assert signers[name].scheme == scheme
        alone = derive_signer(scheme, CLUSTER, name)
        assert signers[name].sign(b"payload") == alone.sign(b"payload")
        assert keyring.verify(name, b"payload", alone.sign(b"payload"))


def test_cluster_keys_build_the_keyring_of_the_scheme() -> None:
    _, ed_keyring = cluster_keys("ed25519", CLUSTER, ["r0"])
    _, fast_keyring = cluster_keys("fast", CLUSTER, ["r0"])
    assert isinstance(ed_keyring, Ed25519Keyring)
    assert isinstance(fast_keyring, FastKeyring)
    assert isinstance(derive_signer("fast", CLUSTER, "r0"), FastSigner)


def test_cluster_keys_reject_duplicate_principals() -> None:
    with pytest.raises(CryptoError, match="duplicate principals: r1"):
        cluster_keys("ed25519", CLUSTER, ["r0", "r1", "r1"])


def test_cluster_keys_reject_a_lone_name_instead_of_a_collection() -> None:
    with pytest.raises(CryptoError, match="collection of names"):
        cluster_keys("fast", CLUSTER, "r0")


def test_unknown_scheme_is_named_in_the_error() -> None:
    with pytest.raises(CryptoError, match="unknown signature scheme 'rsa'"):
        derive_signer("rsa", CLUSTER, "r0")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(CryptoError, match="unknown signature scheme"):
        cluster_keys("rsa", CLUSTER, ["r0"])  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize("principal", ["", "-r0", "r0/../x", "a" * 65, "r 0", "ü"])
def test_invalid_principal_names_are_rejected(principal: str) -> None:
    with pytest.raises(CryptoError, match="invalid principal name"):
        derive_signer("ed25519", CLUSTER, principal)


def test_non_string_principal_is_rejected() -> None:
    with pytest.raises(CryptoError, match="must be a string"):
        cluster_keys("ed25519", CLUSTER, [7])  # type: ignore[list-item]  # the point of the test


def test_cluster_seed_must_be_bytes() -> None:
    with pytest.raises(CryptoError, match="cluster seed must be bytes"):
        derive_seed("ed25519", "seed", "r0")  # type: ignore[arg-type]  # the point of the test
