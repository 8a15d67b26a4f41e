"""The strict canonical wire codec: one encoding per message, and nothing else accepted.

Every message is a CBOR array ``[type_tag, field, ...]`` with the fields in the attrs order
of its class; an :class:`Envelope` is ``[0, sender, payload_array, signature]`` and nested
envelopes are the same arrays. Only unsigned integers, byte strings, text strings and
definite-length arrays ever appear: no maps, tags, floats or simple values. The full rules,
the type tags and every field's check are in docs/wire-format.md.

Decoding is strict because signatures cover the canonical bytes (:func:`signing_bytes`): if
two encodings of one message were accepted, a relay could change the bytes of a signed
message without changing its meaning, and digests of "the same" batch would differ. So
:func:`decode` checks every field's type and range, then re-encodes what it read and rejects
the input unless the bytes are identical (non-shortest integers, indefinite lengths, trailing
bytes). Anything wrong raises :class:`DecodeError`, whose message names the field and the
problem; nothing else escapes, whatever the input.

:func:`encode` applies the same field checks and raises :class:`EncodeError` for an object
that :func:`decode` would refuse, so every encoded message decodes back to an equal object.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

import attrs
import cbor2

import crypto
from pbft.messages.types import (
    DIGEST_SIZE,
    SIGNATURE_SIZE,
    Checkpoint,
    Commit,
    CommitCertificate,
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
)

DEFAULT_MAX_FRAME: Final = 4 * 1024 * 1024
"""Largest frame :func:`decode` accepts by default, in bytes (checked before parsing)."""

MAX_MEMBERS: Final = 65536
"""Most members any tuple field (batch, certificate, proof) may hold."""

MAX_UINT63: Final = 2**63 - 1
"""Largest view, sequence number or timestamp: fits a signed 64-bit integer elsewhere."""

MAX_REPLICA_ID: Final = 2**16 - 1
"""Largest replica id (:data:`pbft.ids.MAX_REPLICAS` - 1)."""

PRINCIPAL_LENGTH_MAX: Final = 64
"""Longest principal name, in characters."""

SIGNING_DOMAIN: Final = b"pbft-v1\0"
"""Prefix of every signed byte string, so a pbft signature means nothing anywhere else."""

ENVELOPE_TAG: Final = 0

TYPE_TAGS: Final[Mapping[type, int]] = types.MappingProxyType(
    {
        # Wire constants: never renumber, never reuse a retired tag (docs/wire-format.md).
        Envelope: ENVELOPE_TAG,
        Request: 1,
        PrePrepare: 2,
        Prepare: 3,
        Commit: 4,
        Reply: 5,
        Checkpoint: 6,
        PreparedCertificate: 7,
        ViewChange: 8,
        NewView: 9,
        CommitCertificate: 10,
        FetchState: 11,
        StateSnapshot: 12,
        Status: 13,
    }
)
"""The type tag of every message class, Envelope included."""

# Deepest legitimate nesting is 12 arrays (an Envelope of a NewView holding a ViewChange
# envelope, its PreparedCertificate, that certificate's PrePrepare envelope and a Request
# envelope in the batch). Anything deeper is rejected by the parser before we recurse.
MAX_NESTING: Final = 16


class DecodeError(ValueError):
    """The bytes are not exactly one valid canonical message; the message says why and where."""


class EncodeError(ValueError):
    """The object is not a valid message (decode would refuse its bytes); says why and where."""


class _Problem(Exception):
    """A field check failed; collects the path on its way up to decode or encode."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def within(self, segment: str) -> _Problem:
        self.path.append(segment)
        return self

    def describe(self) -> str:
        where = ""
        for segment in reversed(self.path):
            if segment.startswith("[") or not where:
                where += segment
            else:
                where += " > " + segment
        return f"{where}: {self.message}" if where else self.message


_Check: TypeAlias = Callable[[Any], Any]

_KIND_NAMES: Final[Mapping[type, str]] = {
    bool: "a boolean",
    int: "an integer",
    str: "a text string",
    bytes: "a byte string",
    list: "an array",
    dict: "a map",
    float: "a float",
    type(None): "null",
    type(cbor2.undefined): "undefined",
    cbor2.CBORSimpleValue: "a simple value",
}


def _kind(value: object) -> str:
    """What a decoded CBOR value (or a wrongly typed attribute) is, for error messages."""
    if type(value) is list and not value:
        return "an empty array"
    return _KIND_NAMES.get(type(value), type(value).__name__)


# --- scalar checks: the same function checks a decoded item and an attribute to encode ----


def _uint(limit: int) -> _Check:
    def check(value: Any) -> int:
        if type(value) is not int:  # also rejects bool, a subclass of int
            raise _Problem(f"expected an unsigned integer, got {_kind(value)}")
        if value < 0 or value > limit:
            raise _Problem(f"integer {value} is outside [0, {limit}]")
        return value

    return check


def _fixed_bytes(size: int, what: str) -> _Check:
    def check(value: Any) -> bytes:
        if type(value) is not bytes:
            raise _Problem(f"expected a {size}-byte {what}, got {_kind(value)}")
        if len(value) != size:
            raise _Problem(f"expected a {size}-byte {what}, got {len(value)} bytes")
        return value

    return check


def _blob(value: Any) -> bytes:
    if type(value) is not bytes:
        raise _Problem(f"expected a byte string, got {_kind(value)}")
    return value


def _principal(value: Any) -> str:
    if type(value) is not str:
        raise _Problem(f"expected a principal name (text), got {_kind(value)}")
    if not 1 <= len(value) <= PRINCIPAL_LENGTH_MAX:
        raise _Problem(
            f"principal name must be 1 to {PRINCIPAL_LENGTH_MAX} characters, got {len(value)}"
        )
    # Printable ASCII without space: names show up in logs and traces, and must not be
    # able to look like another principal's name there.
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise _Problem(f"principal name {value!r} has a character outside ASCII '!'..'~'")
    return value


_uint63 = _uint(MAX_UINT63)
_replica_id = _uint(MAX_REPLICA_ID)
_digest = _fixed_bytes(DIGEST_SIZE, "digest")
_signature = _fixed_bytes(SIGNATURE_SIZE, "signature")


# --- per-class specs, built once from attrs.fields and the tables below -------------------


@attrs.frozen
class _Spec:
    """How one message class (or an Envelope restricted to one payload class) is coded."""

    cls: type
    tag: int
    name: str
    width: int  # array length: the tag plus one item per field
    decoders: tuple[tuple[str, _Check], ...]
    encoders: tuple[tuple[str, _Check], ...]


# Scalar fields, by the annotation in types.py (the module uses postponed annotations).
_SCALARS_BY_TYPE: Final[Mapping[str, _Check]] = {
    "View": _uint63,
    "Seq": _uint63,
    "int": _uint63,
    "ReplicaId": _replica_id,
    "Principal": _principal,
}

# Byte-string fields, by name: their length rule is not in the annotation.
_BYTES_BY_NAME: Final[Mapping[str, _Check]] = {
    "digest": _digest,
    "state_digest": _digest,
    "signature": _signature,
    "operation": _blob,
    "result": _blob,
    "snapshot": _blob,
}

# The payload class every envelope field (or member of a tuple of envelopes) must carry.
_MEMBER_TYPES: Final[Mapping[tuple[type, str], type]] = {
    (PrePrepare, "batch"): Request,
    (PreparedCertificate, "pre_prepare"): PrePrepare,
    (PreparedCertificate, "prepares"): Prepare,
    (ViewChange, "checkpoint_proof"): Checkpoint,
    (NewView, "view_changes"): ViewChange,
    (NewView, "pre_prepares"): PrePrepare,
    (CommitCertificate, "pre_prepare"): PrePrepare,
    (CommitCertificate, "commits"): Commit,
    (StateSnapshot, "checkpoint_proof"): Checkpoint,
}

_PAYLOAD_CLASSES: Final = tuple(cls for cls in TYPE_TAGS if cls is not Envelope)
_PAYLOAD_SPECS: dict[type, _Spec] = {}
_PAYLOAD_SPECS_BY_TAG: dict[int, _Spec] = {}
_ENVELOPE_SPECS: dict[type | None, _Spec] = {}  # None: any payload


def _decode_fields(raw: list[Any], spec: _Spec) -> Any:
    """Build ``spec.cls`` from a message array whose tag the caller has already matched."""
    if len(raw) != spec.width:
        raise _Problem(f"{spec.name} needs {spec.width - 1} fields, got {len(raw) - 1}")
    values: dict[str, Any] = {}
    for index, (name, check) in enumerate(spec.decoders, 1):
        try:
            values[name] = check(raw[index])
        except _Problem as problem:
            raise problem.within(f"{spec.name}.{name}") from None
    return spec.cls(**values)


def _encode_fields(obj: Any, spec: _Spec) -> list[Any]:
    raw: list[Any] = [spec.tag]
    for name, check in spec.encoders:
        try:
            raw.append(check(getattr(obj, name)))
        except _Problem as problem:
            raise problem.within(f"{spec.name}.{name}") from None
    return raw


def _payload_decoder(member: type | None) -> _Check:
    expected = "a message" if member is None else f"a {member.__name__}"

    def decode_payload(raw: Any) -> Any:
        if type(raw) is not list or not raw:
            raise _Problem(f"expected {expected} array, got {_kind(raw)}")
        tag = raw[0]
        if type(tag) is not int:
            raise _Problem(f"expected a message type tag (an integer), got {_kind(tag)}")
        spec = _PAYLOAD_SPECS_BY_TAG.get(tag)
        if spec is None:
            if tag == ENVELOPE_TAG:
                raise _Problem(f"expected {expected}, got an Envelope")
            raise _Problem(f"unknown message type tag {tag}")
        if member is not None and spec.cls is not member:
            raise _Problem(f"expected {expected}, got a {spec.name}")
        return _decode_fields(raw, spec)

    return decode_payload


def _payload_encoder(member: type | None) -> _Check:
    expected = "a message" if member is None else f"a {member.__name__}"

    def encode_payload(obj: Any) -> list[Any]:
        spec = _PAYLOAD_SPECS.get(type(obj))
        if spec is None or (member is not None and spec.cls is not member):
            raise _Problem(f"expected {expected}, got {type(obj).__name__}")
        return _encode_fields(obj, spec)

    return encode_payload


def _envelope_decoder(spec: _Spec) -> _Check:
    def decode_envelope(raw: Any) -> Envelope:
        if type(raw) is not list or not raw:
            raise _Problem(f"expected an Envelope array, got {_kind(raw)}")
        tag = raw[0]
        if type(tag) is not int or tag != ENVELOPE_TAG:
            got = f"tag {tag}" if type(tag) is int else _kind(tag)
            raise _Problem(f"expected an Envelope (type tag {ENVELOPE_TAG}), got {got}")
        envelope: Envelope = _decode_fields(raw, spec)
        return envelope

    return decode_envelope


def _envelope_encoder(spec: _Spec) -> _Check:
    def encode_envelope(obj: Any) -> list[Any]:
        if type(obj) is not Envelope:
            raise _Problem(f"expected an Envelope, got {type(obj).__name__}")
        return _encode_fields(obj, spec)

    return encode_envelope


def _array_of(member_check: _Check) -> _Check:
    """Decode an array member by member into a tuple."""

    def decode_array(raw: Any) -> tuple[Any, ...]:
        if type(raw) is not list:
            raise _Problem(f"expected an array, got {_kind(raw)}")
        if len(raw) > MAX_MEMBERS:
            raise _Problem(f"{len(raw)} members exceed the maximum of {MAX_MEMBERS}")
        members = []
        for index, member in enumerate(raw):
            try:
                members.append(member_check(member))
            except _Problem as problem:
                raise problem.within(f"[{index}]") from None
        return tuple(members)

    return decode_array


def _tuple_of(member_check: _Check) -> _Check:
    """Encode a tuple member by member into an array (a list would not decode back equal)."""

    def encode_tuple(value: Any) -> list[Any]:
        if type(value) is not tuple:
            raise _Problem(f"expected a tuple, got {type(value).__name__}")
        if len(value) > MAX_MEMBERS:
            raise _Problem(f"{len(value)} members exceed the maximum of {MAX_MEMBERS}")
        members = []
        for index, member in enumerate(value):
            try:
                members.append(member_check(member))
            except _Problem as problem:
                raise problem.within(f"[{index}]") from None
        return members

    return encode_tuple


def _field_checks(cls: type, field: attrs.Attribute[Any]) -> tuple[_Check, _Check]:
    """The (decode, encode) checks of one field; fails at import for a field with no rule."""
    annotation: object = field.type  # a string: types.py uses postponed annotations
    assert isinstance(annotation, str), (cls, field.name)
    if field.name in _BYTES_BY_NAME:
        assert annotation == "bytes", (cls, field.name)
        check = _BYTES_BY_NAME[field.name]
        return check, check
    if annotation in _SCALARS_BY_TYPE:
        check = _SCALARS_BY_TYPE[annotation]
        return check, check
    member = _MEMBER_TYPES.get((cls, field.name))
    if annotation == "Payload":
        assert cls is Envelope
        return _payload_decoder(None), _payload_encoder(None)
    if annotation == "Envelope":
        assert member is not None, (cls, field.name)
        spec = _ENVELOPE_SPECS[member]
        return _envelope_decoder(spec), _envelope_encoder(spec)
    if annotation == "tuple[Envelope, ...]":
        assert member is not None, (cls, field.name)
        spec = _ENVELOPE_SPECS[member]
        return _array_of(_envelope_decoder(spec)), _tuple_of(_envelope_encoder(spec))
    if annotation == "tuple[PreparedCertificate, ...]":
        return (
            _array_of(_payload_decoder(PreparedCertificate)),
            _tuple_of(_payload_encoder(PreparedCertificate)),
        )
    raise AssertionError(f"no wire rule for {cls.__name__}.{field.name}: {annotation}")


def _build_spec(cls: type, *, name: str, field_checks: list[tuple[str, _Check, _Check]]) -> _Spec:
    return _Spec(
        cls=cls,
        tag=TYPE_TAGS[cls],
        name=name,
        width=1 + len(field_checks),
        decoders=tuple((field, decode) for field, decode, _ in field_checks),
        encoders=tuple((field, encode) for field, _, encode in field_checks),
    )


def _build_specs() -> None:
    """Fill the spec tables; member types first, since containers point at their specs."""
    envelope_fields = [field.name for field in attrs.fields(Envelope)]
    assert envelope_fields == ["sender", "payload", "signature"], envelope_fields
    for member in (None, *sorted(set(_MEMBER_TYPES.values()), key=TYPE_TAGS.__getitem__)):
        _ENVELOPE_SPECS[member] = _build_spec(
            Envelope,
            name="Envelope",
            field_checks=[
                ("sender", _principal, _principal),
                ("payload", _payload_decoder(member), _payload_encoder(member)),
                ("signature", _signature, _signature),
            ],
        )
    for cls in _PAYLOAD_CLASSES:
        checks = [(field.name, *_field_checks(cls, field)) for field in attrs.fields(cls)]
        spec = _build_spec(cls, name=cls.__name__, field_checks=checks)
        _PAYLOAD_SPECS[cls] = spec
        _PAYLOAD_SPECS_BY_TAG[spec.tag] = spec


_build_specs()
_decode_envelope = _envelope_decoder(_ENVELOPE_SPECS[None])
_encode_envelope = _envelope_encoder(_ENVELOPE_SPECS[None])
_decode_any_payload = _payload_decoder(None)
_encode_any_payload = _payload_encoder(None)


# --- parsing and the canonical check -------------------------------------------------------


class _TagRefused(Exception):
    """Raised from inside cbor2 by the tag hooks; recognised on the way out."""


def _reject_tag(*_: object) -> Any:
    raise _TagRefused


# cbor2 decodes these tags itself unless overridden (some do real work: bigfloats, regular
# expressions, shared values that build cycles), so each one is refused before it runs;
# tag_hook refuses every other tag. Probed against cbor2 6.3 for tags 0..69999 and 2**32.
_BUILTIN_TAGS: Final = (
    0,
    1,
    2,
    3,
    4,
    5,
    25,
    28,
    29,
    30,
    35,
    36,
    37,
    52,
    54,
    100,
    256,
    258,
    260,
    261,
    1004,
    43000,
    55799,
)
_TAG_REJECTORS: Final = {tag: _reject_tag for tag in _BUILTIN_TAGS}


def _parse(data: object, max_size: object) -> tuple[bytes, Any]:
    """The frame as bytes and the one CBOR item read from it; trailing bytes are left to
    :func:`_check_canonical`, since cbor2.loads ignores them."""
    # Typed as object: callers outside mypy's reach (the runtime, tests) may pass anything.
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
    if type(max_size) is not int or max_size < 1:
        raise DecodeError(f"max_size must be a positive integer, got {max_size!r}")
    # Before parsing: a frame cannot make us read or allocate more than the cap.
    if len(data) > max_size:
        raise DecodeError(f"frame of {len(data)} bytes exceeds the cap of {max_size} bytes")
    if not data:
        raise DecodeError("empty frame")
    try:
        raw = cbor2.loads(
            data,
            tag_hook=_reject_tag,
            semantic_decoders=_TAG_REJECTORS,
            max_depth=MAX_NESTING,
            allow_indefinite=False,
        )
    except Exception as error:  # cbor2 and its hooks raise assorted types; all mean "invalid"
        if isinstance(error.__cause__, _TagRefused):
            raise DecodeError(f"invalid CBOR: {error}: tags are not allowed") from None
        raise DecodeError(f"invalid CBOR: {error}") from None
    return data, raw


def _check_canonical(data: bytes, raw: Any) -> None:
    """Reject unless ``data`` is exactly the canonical encoding of what was decoded from it."""
    canonical = cbor2.dumps(raw, canonical=True)
    if canonical == data:
        return
    if len(data) > len(canonical) and data.startswith(canonical):
        raise DecodeError(f"{len(data) - len(canonical)} trailing bytes after the message")
    raise DecodeError("non-canonical encoding (see docs/wire-format.md, 'Canonical form')")


# --- the public API ----------------------------------------------------------------------


def encode(obj: Envelope | Payload) -> bytes:
    """The canonical encoding of an envelope or a bare payload.

    Raises :class:`EncodeError` if ``obj`` breaks a field rule (docs/wire-format.md), so
    that whatever is encoded decodes back to an equal object.
    """
    try:
        raw = _encode_envelope(obj) if type(obj) is Envelope else _encode_any_payload(obj)
    except _Problem as problem:
        raise EncodeError(problem.describe()) from None
    return cbor2.dumps(raw, canonical=True)


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME) -> Envelope:
    """The envelope whose canonical encoding is exactly ``data``, else :class:`DecodeError`.

    Checks, in order: the frame size against ``max_size`` (before parsing), CBOR
    well-formedness (no tags, no indefinite lengths, at most :data:`MAX_NESTING` deep),
    the structure and every field's type and range, and finally that re-encoding gives
    back ``data`` byte for byte (no trailing bytes, no non-shortest forms).
    """
    data, raw = _parse(data, max_size)
    try:
        envelope: Envelope = _decode_envelope(raw)
    except _Problem as problem:
        raise DecodeError(problem.describe()) from None
    _check_canonical(data, raw)
    return envelope


def decode_payload(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME) -> Payload:
    """Like :func:`decode`, for the encoding of a bare payload (no envelope around it)."""
    data, raw = _parse(data, max_size)
    try:
        payload: Payload = _decode_any_payload(raw)
    except _Problem as problem:
        raise DecodeError(problem.describe()) from None
    _check_canonical(data, raw)
    return payload


def signing_bytes(payload: Payload) -> bytes:
    """What a signature covers: :data:`SIGNING_DOMAIN` + the payload's canonical encoding."""
    return SIGNING_DOMAIN + encode(payload)


def sign(signer: crypto.Signer, payload: Payload) -> Envelope:
    """``payload`` in an envelope signed by ``signer`` (OSDI '99 §2: <m>σ_i).

    Raises :class:`EncodeError` for a payload that breaks a field rule.
    """
    signature = signer.sign(signing_bytes(payload))
    return Envelope(sender=signer.principal, payload=payload, signature=signature)


def verify(keyring: crypto.Keyring, envelope: Envelope) -> bool:
    """Whether ``envelope.signature`` is its sender's signature of its payload.

    Checks the top level only: envelopes nested in the payload (batches, certificates) are
    the caller's to verify, one by one. False, never an exception, for an unknown sender or
    a payload that is not a valid message.
    """
    try:
        data = signing_bytes(envelope.payload)
    except EncodeError:
        return False
    return keyring.verify(envelope.sender, data, envelope.signature)


def batch_digest(batch: tuple[Envelope, ...]) -> bytes:
    """The digest of a pre-prepare's batch: crypto.digest of the canonical array of envelopes.

    The empty batch (the null request of OSDI '99 §4.4) has the digest of the empty array.
    Raises :class:`EncodeError` if a member is not a valid envelope.
    """
    try:
        raw = _encode_batch(batch)
    except _Problem as problem:
        raise EncodeError(problem.within("batch").describe()) from None
    return crypto.digest(cbor2.dumps(raw, canonical=True))


_encode_batch = _tuple_of(_envelope_encoder(_ENVELOPE_SPECS[Request]))
