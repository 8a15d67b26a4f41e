"""Whatever the bytes, decode either returns the one message they canonically encode or
raises DecodeError: never another exception, never a non-canonical success."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    MAX_UINT63,
    Checkpoint,
    Commit,
    CommitCertificate,
    DecodeError,
    Envelope,
    FetchState,
    NewView,
    Payload,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Reply,
    Request,
    StateSnapshot,
    Status,
    ViewChange,
    decode,
    decode_payload,
    encode,
)
from tests.strategies import envelopes

FUZZ_INPUTS = 100_000

# Initial bytes that change how what follows is read: long integer and length heads, the
# largest declared lengths, indefinite starts, tags, simple values, floats and "break".
INTERESTING_BYTES = [
    0x00,
    0x17,
    0x18,
    0x19,
    0x1A,
    0x1B,
    0x1C,
    0x1F,
    0x20,
    0x38,
    0x3B,
    0x40,
    0x58,
    0x5B,
    0x5F,
    0x60,
    0x78,
    0x7B,
    0x7F,
    0x80,
    0x84,
    0x98,
    0x9B,
    0x9F,
    0xA0,
    0xBF,
    0xC0,
    0xC1,
    0xC2,
    0xD8,
    0xD9,
    0xDB,
    0xF4,
    0xF5,
    0xF6,
    0xF7,
    0xF8,
    0xF9,
    0xFA,
    0xFB,
    0xFF,
]


# --- a seeded corpus of valid envelopes of every type --------------------------------------


class _Corpus:
    """Random valid messages from one seeded random source (no hypothesis: fast, fixed)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uint(self) -> int:
        if self.rng.random() < 0.3:  # the boundaries of CBOR's integer heads, and our cap
            return self.rng.choice([0, 1, 23, 24, 255, 256, 65535, 2**32, MAX_UINT63])
        return self.rng.randrange(1000)

    def replica(self) -> ReplicaId:
        return ReplicaId(self.rng.choice([0, 1, 2, 3, 23, 24, 65535]))

    def principal(self) -> str:
        return self.rng.choice(["r0", "r1", "r2", "r3", "c0", "client-7", "~" * 64, "!"])

    def blob(self, size_max: int = 40) -> bytes:
        return self.rng.randbytes(self.rng.randrange(size_max))

    def digest(self) -> bytes:
        return self.rng.randbytes(32)

    def envelope(self, payload: Payload) -> Envelope:
        return Envelope(sender=self.principal(), payload=payload, signature=self.rng.randbytes(64))

    def few(self, build: Callable[[], Envelope]) -> tuple[Envelope, ...]:
        return tuple(build() for _ in range(self.rng.randrange(3)))

    def request(self) -> Request:
        return Request(client=self.principal(), timestamp=self.uint(), operation=self.blob())

    def pre_prepare(self) -> PrePrepare:
        return PrePrepare(
            view=View(self.uint()),
            seq=Seq(self.uint()),
            digest=self.digest(),
            batch=self.few(lambda: self.envelope(self.request())),
        )

    def prepare(self) -> Prepare:
        return Prepare(
            view=View(self.uint()),
            seq=Seq(self.uint()),
            digest=self.digest(),
            replica=self.replica(),
        )

    def commit(self) -> Commit:
        return Commit(
            view=View(self.uint()),
            seq=Seq(self.uint()),
            digest=self.digest(),
            replica=self.replica(),
        )

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(seq=Seq(self.uint()), state_digest=self.digest(), replica=self.replica())

    def prepared_certificate(self) -> PreparedCertificate:
        return PreparedCertificate(
            pre_prepare=self.envelope(self.pre_prepare()),
            prepares=self.few(lambda: self.envelope(self.prepare())),
        )

    def view_change(self) -> ViewChange:
        return ViewChange(
            new_view=View(self.uint()),
            stable_seq=Seq(self.uint()),
            checkpoint_proof=self.few(lambda: self.envelope(self.checkpoint())),
            prepared=tuple(self.prepared_certificate() for _ in range(self.rng.randrange(2))),
            replica=self.replica(),
        )

    def payload(self) -> Payload:
        rng = self.rng
        builders: list[Callable[[], Payload]] = [
            self.request,
            self.pre_prepare,
            self.prepare,
            self.commit,
            lambda: Reply(
                view=View(self.uint()),
                timestamp=self.uint(),
                client=self.principal(),
                replica=self.replica(),
                result=self.blob(),
            ),
            self.checkpoint,
            self.prepared_certificate,
            self.view_change,
            lambda: NewView(
                view=View(self.uint()),
                view_changes=self.few(lambda: self.envelope(self.view_change())),
                pre_prepares=self.few(lambda: self.envelope(self.pre_prepare())),
            ),
            lambda: CommitCertificate(
                pre_prepare=self.envelope(self.pre_prepare()),
                commits=self.few(lambda: self.envelope(self.commit())),
            ),
            lambda: FetchState(above_seq=Seq(self.uint()), replica=self.replica()),
            lambda: StateSnapshot(
                seq=Seq(self.uint()),
                snapshot=self.blob(200),
                checkpoint_proof=self.few(lambda: self.envelope(self.checkpoint())),
                replica=self.replica(),
            ),
            lambda: Status(
                view=View(self.uint()),
                stable_seq=Seq(self.uint()),
                last_executed=Seq(self.uint()),
                replica=self.replica(),
            ),
        ]
        return rng.choice(builders)()


# --- mutations ------------------------------------------------------------------------------


def random_item(rng: random.Random, depth: int = 0) -> Any:
    """Any CBOR-encodable value, biased towards what a message field might almost be."""
    choice = rng.randrange(14 if depth < 2 else 10)
    match choice:
        case 0:
            return rng.choice([-1, -(2**63), 2**63, 2**64 - 1, 2**16, 0, 1, 99])
        case 1:
            return rng.randbytes(rng.choice([0, 1, 31, 32, 33, 63, 64, 65]))
        case 2:
            return rng.choice(["", "r1", "r 1", "r\u00e9", "\x00", "x" * 65, "0"])
        case 3:
            return rng.choice([True, False, None, cbor2.undefined])
        case 4:
            return rng.choice([0.0, 1.5, float("nan"), float("inf")])
        case 5:
            return cbor2.CBORSimpleValue(rng.choice([0, 16, 19, 32, 255]))
        case 6:
            return rng.randrange(-(2**64), 2**64)
        case 7:
            return rng.randrange(0, 14)  # a real type tag where it does not belong
        case 8:
            return cbor2.CBORTag(rng.choice([0, 1, 2, 3, 24, 55799, 65535]), rng.randrange(5))
        case 9:
            return []
        case 10:
            return [random_item(rng, depth + 1) for _ in range(rng.randrange(6))]
        case 11:
            return {rng.choice([0, -1, "k", b"k"]): random_item(rng, depth + 1)}
        case 12:
            return [0, "r1", [rng.randrange(14)], rng.randbytes(64)]
        case _:
            return [rng.randrange(14), *(random_item(rng, depth + 1) for _ in range(3))]


def replace_random_node(rng: random.Random, raw: Any) -> Any:
    """A copy of the decoded tree ``raw`` with one node (at any depth) replaced."""
    if not isinstance(raw, list) or not raw or rng.random() < 0.15:
        return random_item(rng)
    copy = list(raw)
    index = rng.randrange(len(copy))
    roll = rng.random()
    if roll < 0.1:
        del copy[index]
    elif roll < 0.2:
        copy.insert(index, random_item(rng))
    else:
        copy[index] = replace_random_node(rng, copy[index])
    return copy


def mutate(rng: random.Random, valid: list[bytes], raws: list[Any]) -> bytes:
    """One broken (or, rarely, still valid) frame derived from the valid corpus."""
    pick = rng.randrange(len(valid))
    data = bytearray(valid[pick])
    kind = rng.randrange(11)
    position = rng.randrange(len(data))
    match kind:
        case 0:
            data[position] ^= 1 << rng.randrange(8)
        case 1:
            data[position] = rng.randrange(256)
        case 2:
            data[position] = rng.choice(INTERESTING_BYTES)
        case 3:
            data[position:position] = rng.randbytes(rng.randrange(1, 4))
        case 4:
            del data[position : position + rng.randrange(1, 9)]
        case 5:
            del data[position:]
        case 6:
            data += rng.randbytes(rng.randrange(1, 4))
        case 7:
            other = valid[rng.randrange(len(valid))]
            data = data[:position] + other[rng.randrange(len(other)) :]
        case 8:
            end = min(len(data), position + rng.randrange(1, 16))
            data[position:position] = data[position:end]
        case 9:
            return rng.randbytes(rng.randrange(0, 64))
        case _:
            return bytes(cbor2.dumps(replace_random_node(rng, raws[pick])))
    return bytes(data)


def outcome(data: bytes) -> str:
    """'accepted' (and then canonical), or which layer refused it; anything else fails."""
    try:
        envelope = decode(data)
    except DecodeError as error:
        message = str(error)
        if message.startswith("invalid CBOR"):
            return "invalid CBOR"
        if "non-canonical" in message or "trailing" in message:
            return "not canonical"
        return "bad structure or field"
    except Exception as error:  # the property under test: nothing else may escape
        raise AssertionError(f"{type(error).__name__} escaped decode for {data.hex()}") from error
    assert encode(envelope) == data, data.hex()
    return "accepted"


@pytest.mark.slow
def test_a_hundred_thousand_random_and_mutated_frames_raise_only_decode_error() -> None:
    rng = random.Random(20261126)
    corpus = _Corpus(rng)
    envelopes_ = [corpus.envelope(corpus.payload()) for _ in range(400)]
    valid = [encode(envelope) for envelope in envelopes_]
    raws = [cbor2.loads(frame) for frame in valid]
    for frame, envelope in zip(valid, envelopes_, strict=True):
        assert decode(frame) == envelope
    assert len({type(envelope.payload) for envelope in envelopes_}) == 13

    counts: Counter[str] = Counter()
    for index in range(FUZZ_INPUTS):
        data = mutate(rng, valid, raws)
        counts[outcome(data)] += 1
        if index % 8 == 0:  # bare payloads take the same path below the envelope
            with contextlib.suppress(DecodeError):
                decode_payload(data)

    assert sum(counts.values()) == FUZZ_INPUTS
    # Every layer of the decoder was reached many times, and some mutants (e.g. a flipped
    # bit inside a byte string) are still valid messages, which must then be canonical.
    for layer in ("invalid CBOR", "not canonical", "bad structure or field", "accepted"):
        assert counts[layer] >= 500, counts


# --- smarter inputs from hypothesis ----------------------------------------------------------


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    assert outcome(data) in {"invalid CBOR", "not canonical", "bad structure or field"}


cbor_values = st.recursive(
    st.one_of(
        st.integers(-(2**64), 2**64 - 1),
        st.binary(max_size=70),
        st.text(max_size=70),
        st.booleans(),
        st.none(),
        st.floats(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.text(max_size=3), children, max_size=3),
        st.builds(cbor2.CBORTag, st.integers(0, 2**16), children),
    ),
    max_leaves=30,
)


@given(cbor_values)
def test_arbitrary_cbor_values_raise_only_decode_error(value: Any) -> None:
    outcome(cbor2.dumps(value))


@settings(deadline=None)
@given(envelope=envelopes(wide=True), seed=st.integers(0, 2**32))
def test_replacing_any_node_of_a_valid_message_is_decoded_or_refused_cleanly(
    envelope: Envelope, seed: int
) -> None:
    rng = random.Random(seed)
    raw = cbor2.loads(encode(envelope))
    for _ in range(5):
        outcome(cbor2.dumps(replace_random_node(rng, raw)))
