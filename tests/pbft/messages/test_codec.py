"""The wire codec: round trips, the exact bytes, and every documented rejection."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs
import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    DEFAULT_MAX_FRAME,
    MAX_MEMBERS,
    MAX_NESTING,
    TYPE_TAGS,
    Checkpoint,
    Commit,
    CommitCertificate,
    DecodeError,
    EncodeError,
    Envelope,
    NewView,
    Payload,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    Request,
    ViewChange,
    decode,
    decode_payload,
    encode,
)
from tests.strategies import KEYRING, PAYLOADS, envelopes, signed

WIRE_FORMAT_DOC = Path(__file__).parents[3] / "docs" / "wire-format.md"

DIGEST = bytes(range(32))
SIGNATURE = bytes(range(64))
PREPARE = Prepare(view=View(0), seq=Seq(1), digest=DIGEST, replica=ReplicaId(1))
PREPARE_ENVELOPE = Envelope(sender="r1", payload=PREPARE, signature=SIGNATURE)
REQUEST_ENVELOPE = Envelope(
    sender="c0",
    payload=Request(client="c0", timestamp=7, operation=b"put k v"),
    signature=SIGNATURE,
)


def payload_classes() -> list[Any]:
    """Every payload class as a test parameter; the deeply nested ones are slow to generate."""
    deep = {ViewChange, NewView}
    return [
        pytest.param(cls, id=cls.__name__, marks=[pytest.mark.slow] if cls in deep else [])
        for cls in PAYLOADS
    ]


def frame(*items: Any) -> bytes:
    """CBOR bytes of an Envelope array built from raw items (for crafting bad frames)."""
    return cbor2.dumps(list(items))


def prepare_frame(*fields: Any, sender: Any = "r1", signature: Any = SIGNATURE) -> bytes:
    """A Prepare envelope frame with the given raw payload fields (tag added)."""
    return frame(0, sender, [3, *fields], signature)


def all_envelopes(envelope: Envelope) -> list[Envelope]:
    """``envelope`` and every envelope nested in its payload, depth first."""
    found = [envelope]

    def walk(value: object) -> None:
        if isinstance(value, Envelope):
            found.extend(all_envelopes(value))
        elif isinstance(value, tuple):
            for member in value:
                walk(member)
        elif attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                walk(getattr(value, field.name))

    walk(envelope.payload)
    return found


# --- coverage of the vocabulary ------------------------------------------------------------


def test_every_payload_class_has_a_unique_tag_and_a_strategy() -> None:
    payload_classes = set(Payload.__args__)  # type: ignore[attr-defined]  # a types.UnionType
    assert set(TYPE_TAGS) == payload_classes | {Envelope}
    assert set(PAYLOADS) == payload_classes
    assert len(set(TYPE_TAGS.values())) == len(TYPE_TAGS)
    assert TYPE_TAGS[Envelope] == 0


def test_type_tags_match_the_table_in_the_wire_format_doc() -> None:
    rows = re.findall(r"^\| *(\d+) *\| *`?(\w+)`? *\|", WIRE_FORMAT_DOC.read_text(), re.M)
    documented = {name: int(tag) for tag, name in rows}
    assert documented == {cls.__name__: tag for cls, tag in TYPE_TAGS.items()}


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("wide", [False, True], ids=["cluster", "wide"])
@pytest.mark.parametrize("cls", payload_classes())
@given(data=st.data())
def test_envelope_of_every_type_round_trips_byte_for_byte(
    cls: type, wide: bool, data: st.DataObject
) -> None:
    envelope = data.draw(signed(PAYLOADS[cls](wide=wide), wide=wide))
    encoded = encode(envelope)
    decoded = decode(encoded)
    assert decoded == envelope
    assert type(decoded.payload) is cls
    assert encode(decoded) == encoded


@pytest.mark.parametrize("cls", payload_classes())
@given(data=st.data())
def test_bare_payload_of_every_type_round_trips(cls: type, data: st.DataObject) -> None:
    payload = data.draw(PAYLOADS[cls](wide=True))
    encoded = encode(payload)
    assert decode_payload(encoded) == payload
    assert encode(decode_payload(encoded)) == encoded


@given(envelopes())
def test_cluster_envelopes_and_all_their_members_verify(envelope: Envelope) -> None:
    from pbft.messages import verify

    for member in all_envelopes(envelope):
        assert verify(KEYRING, member), member


def test_bytearray_and_memoryview_frames_decode_like_bytes() -> None:
    encoded = encode(PREPARE_ENVELOPE)
    assert decode(bytearray(encoded)) == PREPARE_ENVELOPE
    assert decode(memoryview(encoded)) == PREPARE_ENVELOPE


def test_a_frame_exactly_at_the_cap_decodes() -> None:
    encoded = encode(PREPARE_ENVELOPE)
    assert decode(encoded, max_size=len(encoded)) == PREPARE_ENVELOPE


def test_deepest_legitimate_nesting_decodes() -> None:
    """NewView > ViewChange > PreparedCertificate > PrePrepare > Request: 12 arrays deep."""
    pre_prepare = PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=(REQUEST_ENVELOPE,))
    certificate = PreparedCertificate(
        pre_prepare=Envelope(sender="r0", payload=pre_prepare, signature=SIGNATURE),
        prepares=(PREPARE_ENVELOPE,),
    )
    view_change = ViewChange(
        new_view=View(1),
        stable_seq=Seq(0),
        checkpoint_proof=(),
        prepared=(certificate,),
        replica=ReplicaId(2),
    )
    new_view = NewView(
        view=View(1),
        view_changes=(Envelope(sender="r2", payload=view_change, signature=SIGNATURE),),
        pre_prepares=(),
    )
    envelope = Envelope(sender="r1", payload=new_view, signature=SIGNATURE)
    encoded = encode(envelope)
    assert encoded.count(b"\x81\x84\x00") >= 1  # the batch's one-member array of an envelope
    assert decode(encoded) == envelope
    assert MAX_NESTING >= 12


# --- the exact bytes -----------------------------------------------------------------------


def test_signed_prepare_has_the_documented_encoding() -> None:
    """Pinned so the wire format cannot change by accident (docs/wire-format.md example)."""
    expected = bytes.fromhex(
        "84"  # array(4): the envelope
        "00"  # type tag 0: Envelope
        "627231"  # text(2) "r1"
        "85"
        "03"
        "00"
        "01"  # array(5): Prepare (tag 3), view 0, seq 1
        "5820" + DIGEST.hex() + "01"  # bytes(32) digest, replica 1
        "5840" + SIGNATURE.hex()  # bytes(64) signature
    )
    assert encode(PREPARE_ENVELOPE) == expected
    assert encode(PREPARE) == expected[5:-66]


@pytest.mark.parametrize(
    ("value", "head"),
    [
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (2**32, "1b0000000100000000"),
        (2**63 - 1, "1b7fffffffffffffff"),
    ],
)
def test_integers_use_their_shortest_form(value: int, head: str) -> None:
    payload = attrs.evolve(PREPARE, seq=Seq(value))
    assert encode(payload) == bytes.fromhex("850300" + head + "5820") + DIGEST + b"\x01"


# --- decode rejections ---------------------------------------------------------------------

OVERSIZED_MEMBERS = [0] * (MAX_MEMBERS + 1)
REJECTIONS: list[tuple[str, bytes, str]] = [
    # framing and CBOR
    ("empty frame", b"", "empty frame"),
    ("reserved initial byte", b"\x1c", "invalid CBOR"),
    ("truncated", encode(PREPARE_ENVELOPE)[:-1], "invalid CBOR"),
    ("trailing byte", encode(PREPARE_ENVELOPE) + b"\x00", "1 trailing bytes"),
    ("second message appended", encode(PREPARE_ENVELOPE) * 2, "trailing bytes"),
    ("indefinite-length array", b"\x9f\x00\xff", "invalid CBOR"),
    ("indefinite-length envelope", b"\x9f" + encode(PREPARE_ENVELOPE)[1:] + b"\xff", "CBOR"),
    ("tagged integer", prepare_frame(cbor2.CBORTag(2, b"\x01"), 1, DIGEST, 1), "tags"),
    ("epoch datetime tag", prepare_frame(cbor2.CBORTag(1, 0), 1, DIGEST, 1), "tags"),
    ("shared-value cycle", bytes.fromhex("d81c81d81d00"), "tags"),
    ("self-describe tag", b"\xd9\xd9\xf7" + encode(PREPARE_ENVELOPE), "tags"),
    ("too deep", b"\x81" * 100 + b"\x00", "nesting depth"),
    ("huge declared byte string", bytes.fromhex("5b7fffffffffffffff00"), "invalid CBOR"),
    ("huge declared array", bytes.fromhex("9b7fffffffffffffff00"), "invalid CBOR"),
    # shape of the envelope
    ("map", cbor2.dumps({"sender": "r1"}), "expected an Envelope array, got a map"),
    ("integer", b"\x00", "expected an Envelope array, got an integer"),
    ("null", b"\xf6", "got null"),
    ("undefined", b"\xf7", "got undefined"),
    ("simple value", b"\xf0", "got a simple value"),
    ("float", cbor2.dumps(1.5), "got a float"),
    ("empty array", b"\x80", "expected an Envelope array, got an empty array"),
    ("bare payload", encode(PREPARE), "expected an Envelope (type tag 0), got tag 3"),
    ("text tag", frame("0", "r1", [3], SIGNATURE), "got a text string"),
    ("missing signature", frame(0, "r1", [3, 0, 1, DIGEST, 1]), "Envelope needs 3 fields"),
    ("extra field", frame(0, "r1", [3, 0, 1, DIGEST, 1], SIGNATURE, 0), "got 4"),
    # payload type
    ("unknown type", frame(0, "r1", [99, 0], SIGNATURE), "unknown message type tag 99"),
    ("envelope as payload", frame(0, "r1", [0, "r1", [3], SIGNATURE], SIGNATURE), "an Envelope"),
    ("empty payload", frame(0, "r1", [], SIGNATURE), "expected a message array, got an empty"),
    ("payload map", frame(0, "r1", {3: 0}, SIGNATURE), "expected a message array, got a map"),
    ("negative type", frame(0, "r1", [-3, 0, 1, DIGEST, 1], SIGNATURE), "tag -3"),
    ("boolean type", frame(0, "r1", [True, 0, 1, DIGEST, 1], SIGNATURE), "got a boolean"),
    ("missing field", prepare_frame(0, 1, DIGEST), "Prepare needs 4 fields, got 3"),
    ("extra payload field", prepare_frame(0, 1, DIGEST, 1, 1), "Prepare needs 4 fields, got 5"),
    # integers
    ("negative view", prepare_frame(-1, 1, DIGEST, 1), "Prepare.view: integer -1 is outside"),
    ("view of 2**63", prepare_frame(2**63, 1, DIGEST, 1), "is outside [0, 9223372036854775807]"),
    ("u64 max seq", prepare_frame(0, 2**64 - 1, DIGEST, 1), "Prepare.seq: integer"),
    ("replica 2**16", prepare_frame(0, 1, DIGEST, 2**16), "Prepare.replica: integer 65536"),
    ("boolean view", prepare_frame(True, 1, DIGEST, 1), "expected an unsigned integer, got a bool"),
    ("float seq", prepare_frame(0, 1.0, DIGEST, 1), "expected an unsigned integer, got a float"),
    ("text seq", prepare_frame(0, "1", DIGEST, 1), "got a text string"),
    ("null replica", prepare_frame(0, 1, DIGEST, None), "Prepare.replica: expected an unsigned"),
    # byte strings
    ("short digest", prepare_frame(0, 1, DIGEST[:31], 1), "32-byte digest, got 31 bytes"),
    ("long digest", prepare_frame(0, 1, DIGEST + b"\x00", 1), "32-byte digest, got 33 bytes"),
    ("text digest", prepare_frame(0, 1, "d" * 32, 1), "digest, got a text string"),
    ("short signature", prepare_frame(0, 1, DIGEST, 1, signature=SIGNATURE[:63]), "got 63 bytes"),
    ("empty signature", prepare_frame(0, 1, DIGEST, 1, signature=b""), "Envelope.signature"),
    ("text operation", frame(0, "c0", [1, "c0", 1, "op"], SIGNATURE), "Request.operation"),
    # principals
    ("empty sender", prepare_frame(0, 1, DIGEST, 1, sender=""), "1 to 64 characters, got 0"),
    ("long sender", prepare_frame(0, 1, DIGEST, 1, sender="r" * 65), "got 65"),
    ("sender with space", prepare_frame(0, 1, DIGEST, 1, sender="r 1"), "outside ASCII"),
    ("sender with newline", prepare_frame(0, 1, DIGEST, 1, sender="r1\n"), "outside ASCII"),
    ("non-ASCII sender", prepare_frame(0, 1, DIGEST, 1, sender="r\u0131"), "outside ASCII"),
    ("bytes sender", prepare_frame(0, 1, DIGEST, 1, sender=b"r1"), "got a byte string"),
    ("invalid UTF-8 client", b"\x84\x00\x62c0\x84\x01\x62\xff\xfe", "invalid CBOR"),
    # members
    (
        "prepare in a batch",
        frame(0, "r0", [2, 0, 1, DIGEST, [cbor2.loads(encode(PREPARE_ENVELOPE))]], SIGNATURE),
        "PrePrepare.batch[0] > Envelope.payload: expected a Request, got a Prepare",
    ),
    (
        "bare request in a batch",
        frame(0, "r0", [2, 0, 1, DIGEST, [cbor2.loads(encode(REQUEST_ENVELOPE.payload))]], b""),
        "PrePrepare.batch[0]: expected an Envelope (type tag 0), got tag 1",
    ),
    ("batch not an array", frame(0, "r0", [2, 0, 1, DIGEST, b""], SIGNATURE), "got a byte string"),
    (
        "too many members",
        frame(0, "r0", [2, 0, 1, DIGEST, OVERSIZED_MEMBERS], SIGNATURE),
        "65537 members exceed the maximum of 65536",
    ),
    (
        "request where a prepared certificate belongs",
        frame(0, "r2", [8, 1, 0, [], [[1, "c0", 1, b""]], 2], SIGNATURE),
        "ViewChange.prepared[0]: expected a PreparedCertificate, got a Request",
    ),
]


@pytest.mark.parametrize(
    ("data", "problem"),
    [pytest.param(data, problem, id=name) for name, data, problem in REJECTIONS],
)
def test_decode_rejects_with_a_message_naming_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decode(data)
    assert problem in str(excinfo.value)


@pytest.mark.parametrize(
    ("member_field", "raw_payload", "wrong"),
    [
        ("PreparedCertificate.prepares[0]", [7, "PP", ["COMMIT"]], "Commit"),
        ("PreparedCertificate.pre_prepare", [7, "PREPARE", []], "Prepare"),
        ("CommitCertificate.commits[0]", [10, "PP", ["PREPARE"]], "Prepare"),
        ("CommitCertificate.pre_prepare", [10, "COMMIT", []], "Commit"),
        ("ViewChange.checkpoint_proof[0]", [8, 1, 0, ["PREPARE"], [], 2], "Prepare"),
        ("NewView.view_changes[0]", [9, 1, ["CHECKPOINT"], []], "Checkpoint"),
        ("NewView.pre_prepares[0]", [9, 1, [], ["COMMIT"]], "Commit"),
        ("StateSnapshot.checkpoint_proof[0]", [12, 0, b"", ["PP"], 2], "PrePrepare"),
    ],
)
def test_decode_rejects_a_certificate_member_of_the_wrong_type(
    member_field: str, raw_payload: list[Any], wrong: str
) -> None:
    pre_prepare = PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=())
    members = {
        "PP": Envelope(sender="r0", payload=pre_prepare, signature=SIGNATURE),
        "PREPARE": PREPARE_ENVELOPE,
        "COMMIT": Envelope(
            sender="r1", payload=Commit(**attrs.asdict(PREPARE)), signature=SIGNATURE
        ),
        "CHECKPOINT": Envelope(
            sender="r1",
            payload=Checkpoint(seq=Seq(0), state_digest=DIGEST, replica=ReplicaId(1)),
            signature=SIGNATURE,
        ),
    }

    def substitute(item: Any) -> Any:
        if isinstance(item, list):
            return [substitute(member) for member in item]
        if isinstance(item, str) and item in members:
            return cbor2.loads(encode(members[item]))
        return item

    data = frame(0, "r1", substitute(raw_payload), SIGNATURE)
    with pytest.raises(DecodeError) as excinfo:
        decode(data)
    message = str(excinfo.value)
    assert f"{member_field} > Envelope.payload: expected a " in message
    assert message.endswith(f"got a {wrong}")


def test_non_shortest_integer_is_rejected_as_non_canonical() -> None:
    canonical = encode(PREPARE_ENVELOPE)
    padded = canonical.replace(b"\x85\x03\x00\x01", b"\x85\x03\x18\x00\x01", 1)
    assert cbor2.loads(padded) == cbor2.loads(canonical)  # same value, different bytes
    with pytest.raises(DecodeError, match="non-canonical encoding"):
        decode(padded)


def test_non_shortest_length_is_rejected_as_non_canonical() -> None:
    canonical = encode(PREPARE_ENVELOPE)
    padded = canonical.replace(b"\x62r1", b"\x78\x02r1", 1)
    assert cbor2.loads(padded) == cbor2.loads(canonical)
    with pytest.raises(DecodeError, match="non-canonical encoding"):
        decode(padded)


def test_oversized_frame_is_rejected_before_parsing() -> None:
    garbage = b"\x1c" * (DEFAULT_MAX_FRAME + 1)  # unparseable: the cap must speak first
    with pytest.raises(DecodeError, match=f"exceeds the cap of {DEFAULT_MAX_FRAME} bytes"):
        decode(garbage)
    encoded = encode(PREPARE_ENVELOPE)
    with pytest.raises(DecodeError, match="frame of 110 bytes exceeds the cap of 109 bytes"):
        decode(encoded, max_size=len(encoded) - 1)


@pytest.mark.parametrize("data", ["84", None, 42, [0]], ids=repr)
def test_decode_of_something_other_than_bytes_is_a_decode_error(data: Any) -> None:
    with pytest.raises(DecodeError, match="expected bytes"):
        decode(data)


@pytest.mark.parametrize("max_size", [0, -1, True, 1.5, None], ids=repr)
def test_decode_rejects_a_meaningless_size_cap(max_size: Any) -> None:
    with pytest.raises(DecodeError, match="max_size must be a positive integer"):
        decode(encode(PREPARE_ENVELOPE), max_size=max_size)


def test_decode_payload_rejects_an_envelope_and_decode_rejects_a_payload() -> None:
    with pytest.raises(DecodeError, match="expected a message, got an Envelope"):
        decode_payload(encode(PREPARE_ENVELOPE))
    with pytest.raises(DecodeError, match="expected an Envelope"):
        decode(encode(PREPARE))


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)
    assert issubclass(EncodeError, ValueError)
    assert not issubclass(EncodeError, DecodeError)


# --- encode rejections ---------------------------------------------------------------------

ENCODE_REJECTIONS: list[tuple[str, Any, str]] = [
    ("negative view", attrs.evolve(PREPARE, view=-1), "Prepare.view: integer -1 is outside"),
    ("boolean seq", attrs.evolve(PREPARE, seq=True), "Prepare.seq: expected an unsigned integer"),
    ("replica too big", attrs.evolve(PREPARE, replica=2**16), "Prepare.replica: integer 65536"),
    ("short digest", attrs.evolve(PREPARE, digest=b"d"), "32-byte digest, got 1 bytes"),
    ("bytearray digest", attrs.evolve(PREPARE, digest=bytearray(DIGEST)), "got bytearray"),
    ("not a message", object(), "expected a message, got object"),
    (
        "envelope in envelope",
        Envelope(sender="r1", payload=PREPARE_ENVELOPE, signature=SIGNATURE),
        "Envelope.payload: expected a message, got Envelope",
    ),
    ("bad sender", attrs.evolve(PREPARE_ENVELOPE, sender=""), "Envelope.sender: principal name"),
    ("bad signature", attrs.evolve(PREPARE_ENVELOPE, signature=b""), "64-byte signature, got 0"),
    (
        "list batch",
        PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=[REQUEST_ENVELOPE]),  # type: ignore[arg-type]
        "PrePrepare.batch: expected a tuple, got list",
    ),
    (
        "prepare in a batch",
        PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=(PREPARE_ENVELOPE,)),
        "PrePrepare.batch[0] > Envelope.payload: expected a Request, got Prepare",
    ),
    (
        "bare request in a batch",
        PrePrepare(view=View(0), seq=Seq(1), digest=DIGEST, batch=(REQUEST_ENVELOPE.payload,)),  # type: ignore[arg-type]
        "PrePrepare.batch[0]: expected an Envelope, got Request",
    ),
    (
        "certificate of the wrong member",
        CommitCertificate(pre_prepare=PREPARE_ENVELOPE, commits=()),
        "CommitCertificate.pre_prepare > Envelope.payload: expected a PrePrepare, got Prepare",
    ),
]


@pytest.mark.parametrize(
    ("obj", "problem"),
    [pytest.param(obj, problem, id=name) for name, obj, problem in ENCODE_REJECTIONS],
)
def test_encode_refuses_what_decode_would_reject(obj: Any, problem: str) -> None:
    with pytest.raises(EncodeError) as excinfo:
        encode(obj)
    assert problem in str(excinfo.value)
