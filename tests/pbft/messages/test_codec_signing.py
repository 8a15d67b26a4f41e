"""Signing, verification and batch digests on top of the canonical encoding."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    SIGNING_DOMAIN,
    DecodeError,
    EncodeError,
    Envelope,
    Prepare,
    PrePrepare,
    Request,
    batch_digest,
    decode,
    encode,
    sign,
    signing_bytes,
    verify,
)
from tests.strategies import KEYRING, SIGNERS, envelopes, keys

DIGEST = bytes(range(32))
PREPARE = Prepare(view=View(3), seq=Seq(41), digest=DIGEST, replica=ReplicaId(1))


def request_envelope(timestamp: int, *, client: str = "c0") -> Envelope:
    return sign(SIGNERS[client], Request(client=client, timestamp=timestamp, operation=b"op"))


def flipped_frames(encoded: bytes, masks: list[int]) -> list[bytes]:
    """``encoded`` with one byte changed, for every position and mask."""
    frames = []
    for position in range(len(encoded)):
        for mask in masks:
            mutated = bytearray(encoded)
            mutated[position] ^= mask
            frames.append(bytes(mutated))
    return frames


def still_authentic(frame: bytes, keyring: crypto.Keyring) -> bool:
    """Whether a frame both decodes and carries a valid signature."""
    try:
        envelope = decode(frame)
    except DecodeError:
        return False
    return verify(keyring, envelope)


def test_signing_bytes_are_the_domain_prefix_then_the_canonical_payload() -> None:
    assert SIGNING_DOMAIN == b"pbft-v1\x00"
    assert signing_bytes(PREPARE) == b"pbft-v1\x00" + encode(PREPARE)


@pytest.mark.parametrize("scheme", ["fast", "ed25519"])
def test_a_signed_envelope_names_its_signer_and_verifies(scheme: crypto.Scheme) -> None:
    signers, keyring = keys(scheme)
    envelope = sign(signers["r1"], PREPARE)
    assert envelope.sender == "r1"
    assert envelope.payload is PREPARE
    assert len(envelope.signature) == crypto.SIGNATURE_SIZE
    assert keyring.verify("r1", signing_bytes(PREPARE), envelope.signature)
    assert verify(keyring, envelope)
    assert verify(keyring, decode(encode(envelope)))


@pytest.mark.parametrize("scheme", ["fast", "ed25519"])
def test_flipping_any_bit_of_a_signed_envelope_breaks_decoding_or_verification(
    scheme: crypto.Scheme,
) -> None:
    signers, keyring = keys(scheme)
    batch = tuple(request_envelope(t) for t in range(3))
    pre_prepare = PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest(batch), batch=batch)
    for envelope in [sign(signers["r1"], PREPARE), sign(signers["r0"], pre_prepare)]:
        encoded = encode(envelope)
        assert still_authentic(encoded, keyring)
        single_bits = [1 << bit for bit in range(8)]
        for frame in flipped_frames(encoded, single_bits):
            assert not still_authentic(frame, keyring), frame.hex()


@settings(max_examples=60, deadline=None)
@given(envelope=envelopes(), data=st.data())
def test_flipping_any_byte_of_any_signed_message_breaks_decoding_or_verification(
    envelope: Envelope, data: st.DataObject
) -> None:
    encoded = encode(envelope)
    assert still_authentic(encoded, KEYRING)
    positions = data.draw(st.lists(st.integers(0, len(encoded) - 1), min_size=1, max_size=24))
    for position in positions:
        mutated = bytearray(encoded)
        mutated[position] ^= data.draw(st.integers(1, 255))
        assert not still_authentic(bytes(mutated), KEYRING), (position, mutated.hex())


def test_a_signature_does_not_verify_under_another_sender() -> None:
    envelope = sign(SIGNERS["r1"], PREPARE)
    assert not verify(KEYRING, attrs.evolve(envelope, sender="r2"))


def test_a_signature_does_not_verify_another_payload() -> None:
    envelope = sign(SIGNERS["r1"], PREPARE)
    other = attrs.evolve(PREPARE, seq=Seq(42))
    assert not verify(KEYRING, attrs.evolve(envelope, payload=other))


def test_a_signature_over_the_bare_encoding_does_not_verify() -> None:
    """Domain separation: a signature of encode(payload) without the prefix is worthless."""
    signature = SIGNERS["r1"].sign(encode(PREPARE))
    assert not verify(KEYRING, Envelope(sender="r1", payload=PREPARE, signature=signature))


def test_verify_is_false_for_an_unknown_sender() -> None:
    envelope = sign(SIGNERS["r1"], PREPARE)
    assert not verify(KEYRING, attrs.evolve(envelope, sender="r99"))


def test_verify_is_false_rather_than_raising_for_an_invalid_payload() -> None:
    envelope = sign(SIGNERS["r1"], PREPARE)
    broken = attrs.evolve(envelope, payload=attrs.evolve(PREPARE, digest=b"short"))
    assert verify(KEYRING, broken) is False


def test_sign_refuses_an_invalid_payload() -> None:
    with pytest.raises(EncodeError, match=r"Prepare\.view: integer -1 is outside"):
        sign(SIGNERS["r1"], attrs.evolve(PREPARE, view=View(-1)))


def test_verify_checks_the_top_level_signature_only() -> None:
    """Members of a batch or certificate are the receiver's to verify one by one."""
    forged = attrs.evolve(request_envelope(1), signature=bytes(64))
    assert not verify(KEYRING, forged)
    pre_prepare = PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=(forged,))
    assert verify(KEYRING, sign(SIGNERS["r0"], pre_prepare))


def test_batch_digest_is_the_digest_of_the_canonical_array_of_envelopes() -> None:
    batch = tuple(request_envelope(t) for t in range(3))
    array = bytes([0x80 + len(batch)]) + b"".join(encode(envelope) for envelope in batch)
    assert batch_digest(batch) == crypto.digest(array)
    assert len(batch_digest(batch)) == crypto.DIGEST_SIZE


def test_the_null_request_has_the_digest_of_the_empty_array() -> None:
    assert batch_digest(()) == crypto.digest(b"\x80")


@given(st.permutations(range(4)))
def test_batch_digest_depends_on_order_and_content(order: list[int]) -> None:
    batch = tuple(request_envelope(t) for t in range(4))
    reordered = tuple(batch[i] for i in order)
    assert (batch_digest(reordered) == batch_digest(batch)) == (reordered == batch)
    assert batch_digest(batch[:3]) != batch_digest(batch)


def test_batch_digest_covers_the_request_signatures() -> None:
    envelope = request_envelope(1)
    resigned = attrs.evolve(envelope, signature=bytes(64))
    assert batch_digest((envelope,)) != batch_digest((resigned,))


def test_batch_digest_refuses_a_member_that_is_not_a_request_envelope() -> None:
    prepare_envelope = sign(SIGNERS["r1"], PREPARE)
    with pytest.raises(EncodeError, match=r"batch\[1\] > Envelope.payload: expected a Request"):
        batch_digest((request_envelope(1), prepare_envelope))
    with pytest.raises(EncodeError, match="batch: expected a tuple, got list"):
        batch_digest([request_envelope(1)])  # type: ignore[arg-type]


def test_signatures_are_deterministic_for_both_schemes() -> None:
    """Same payload, same key, same bytes: traces and digests replay exactly."""
    rng = random.Random(7)
    for scheme in ("fast", "ed25519"):
        signers, _ = keys(scheme)  # type: ignore[arg-type]
        payload = attrs.evolve(PREPARE, seq=Seq(rng.randrange(2**63)))
        assert sign(signers["r1"], payload) == sign(signers["r1"], payload)
