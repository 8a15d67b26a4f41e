"""What every signature scheme promises: a signature verifies as its signer only, and a
keyring answers False, never an exception, to anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import SCHEMES, SIGNATURE_SIZE, Keyring, Scheme, Signer, cluster_keys

KEYS: dict[str, tuple[dict[str, Signer], Keyring]] = {
    scheme: cluster_keys(scheme, f"{scheme}-tests".encode(), ["r0", "r1", "c0"])
    for scheme in SCHEMES
}
schemes = pytest.mark.parametrize("scheme", SCHEMES)


@schemes
@given(data=st.binary(max_size=200))
def test_signatures_verify_as_their_signer_only(scheme: Scheme, data: bytes) -> None:
    signers, keyring = KEYS[scheme]
    for principal in ("r0", "r1", "c0"):
        signature = signers[principal].sign(data)
        assert len(signature) == SIGNATURE_SIZE
        assert keyring.verify(principal, data, signature)
        for other in ("r0", "r1", "c0"):
            if other != principal:
                assert not keyring.verify(other, data, signature)


@schemes
@given(
    data=st.binary(max_size=100),
    index=st.integers(min_value=0, max_value=SIGNATURE_SIZE - 1),
    bit=st.sampled_from([0x01, 0x80]),
)
def test_any_flipped_signature_bit_is_rejected(
    scheme: Scheme, data: bytes, index: int, bit: int
) -> None:
    signers, keyring = KEYS[scheme]
    signature = bytearray(signers["r1"].sign(data))
    signature[index] ^= bit
    assert not keyring.verify("r1", data, bytes(signature))


@schemes
def test_changed_data_is_rejected(scheme: Scheme) -> None:
    signers, keyring = KEYS[scheme]
    signature = signers["c0"].sign(b"pay 10")
    assert not keyring.verify("c0", b"pay 11", signature)


@schemes
def test_unknown_principal_and_wrong_length_are_false(scheme: Scheme) -> None:
    signers, keyring = KEYS[scheme]
    signature = signers["r0"].sign(b"m")
    assert not keyring.verify("r9", b"m", signature)
    assert not keyring.verify("r7", b"m", signature)
    assert not keyring.verify("r0", b"m", signature[:-1])
    assert not keyring.verify("r0", b"m", signature[:32])
    assert not keyring.verify("r0", b"m", signature + b"\x00")
    assert not keyring.verify("r0", b"m", b"")


@schemes
def test_values_of_the_wrong_type_are_false_not_exceptions(scheme: Scheme) -> None:
    signers, keyring = KEYS[scheme]
    signature = signers["r0"].sign(b"m")
    assert not keyring.verify("r0", "m", signature)  # type: ignore[arg-type]  # hostile input
    assert not keyring.verify("r0", b"m", None)  # type: ignore[arg-type]  # hostile input
    assert not keyring.verify("r0", b"m", "x" * 64)  # type: ignore[arg-type]  # hostile input
    assert not keyring.verify(["r0"], b"m", signature)  # type: ignore[arg-type]  # hostile input


@schemes
@given(principal=st.text(max_size=10), data=st.binary(max_size=50), signature=st.binary())
def test_verify_never_raises(scheme: Scheme, principal: str, data: bytes, signature: bytes) -> None:
    _, keyring = KEYS[scheme]
    assert not keyring.verify(principal, data, signature)
