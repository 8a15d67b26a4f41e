"""Key files: round trips, 0600 private keys, and a named CryptoError for every bad file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import (
    CryptoError,
    Ed25519Keyring,
    Ed25519Signer,
    cluster_keys,
    load_key_file,
    load_keyring,
    load_signing_key,
    save_keyring,
    save_signing_key,
)

SIGNERS, KEYRING = cluster_keys("ed25519", b"keyfile-tests", ["r0", "r1", "c0"])
R0 = SIGNERS["r0"]
FUZZ_SIGNER = Ed25519Signer(principal="r0", seed=bytes(32))
FUZZ_PUBLIC_HEX = FUZZ_SIGNER.public_key.hex()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "r0.key.json"
    save_signing_key(path, R0)
    return path


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    save_keyring(path, KEYRING)
    return path


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _edit(path: Path, **changes: object) -> None:
    document = json.loads(path.read_text())
    for field, value in changes.items():
        if value is None:
            del document[field]
        else:
            document[field] = value
    path.write_text(json.dumps(document))


def test_signing_key_round_trips(key_path: Path) -> None:
    loaded = load_signing_key(key_path)
    assert loaded.principal == "r0"
    assert loaded.scheme == "ed25519"
    assert loaded.sign(b"m") == R0.sign(b"m")


def test_keyring_round_trips(keyring_path: Path) -> None:
    loaded = load_keyring(keyring_path)
    assert loaded.principals() == ("c0", "r0", "r1")
    for name, signer in SIGNERS.items():
        assert loaded.verify(name, b"m", signer.sign(b"m"))


def test_signing_key_file_is_private_even_with_a_permissive_umask(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "k.json"
    save_signing_key(path, R0)
    assert _mode(path) == 0o600


def test_keyring_file_is_world_readable(tmp_path: Path, permissive_umask: None) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(path, KEYRING)
    assert _mode(path) == 0o644


def test_saving_refuses_to_overwrite_by_default(key_path: Path) -> None:
    with pytest.raises(CryptoError, match="already exists"):
        save_signing_key(key_path, SIGNERS["r1"])
    assert load_signing_key(key_path).principal == "r0"


def test_overwriting_a_readable_file_leaves_a_private_one(key_path: Path) -> None:
    key_path.chmod(0o644)
    save_signing_key(key_path, SIGNERS["r1"], overwrite=True)
    assert _mode(key_path) == 0o600
    assert load_signing_key(key_path).principal == "r1"
    assert sorted(p.name for p in key_path.parent.iterdir()) == [key_path.name]


def test_saving_into_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="cannot create"):
        save_signing_key(tmp_path / "absent" / "k.json", R0)


def test_fast_keys_are_never_saved(tmp_path: Path) -> None:
    fast_signers, fast_keyring = cluster_keys("fast", b"x", ["r0"])
    with pytest.raises(CryptoError, match="only ed25519 signing keys"):
        save_signing_key(tmp_path / "k.json", fast_signers["r0"])
    with pytest.raises(CryptoError, match="only ed25519 keyrings"):
        save_keyring(tmp_path / "keyring.json", fast_keyring)
    assert list(tmp_path.iterdir()) == []


def test_load_key_file_tells_the_kinds_apart(key_path: Path, keyring_path: Path) -> None:
    assert isinstance(load_key_file(key_path), Ed25519Signer)
    assert isinstance(load_key_file(keyring_path), Ed25519Keyring)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="no such key file"):
        load_signing_key(tmp_path / "nope.json")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(CryptoError, match="is a directory"):
        load_keyring(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"", "not JSON"),
        (b"{'kind': 1}", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"{}", "its 'kind' is None"),
        (b'{"kind": "ssh-key"}', "its 'kind' is 'ssh-key'"),
        (b"[" * 100_000, "nested too deeply|not JSON"),
        (b'{"kind": "pbft-signing-key", "kind": "pbft-keyring"}', "duplicate key 'kind'"),
        # json refuses integers over 4300 digits with a bare ValueError, not a JSONDecodeError.
        (b'{"kind": "pbft-keyring", "version": ' + b"1" * 5000 + b"}", "not JSON"),
    ],
)
def test_files_that_are_not_key_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(CryptoError, match=message):
        load_signing_key(path)


def test_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (5 * 1024 * 1024))
    with pytest.raises(CryptoError, match="larger than"):
        load_keyring(path)


def test_keyring_where_signing_key_expected(keyring_path: Path) -> None:
    with pytest.raises(CryptoError, match="is a pbft-keyring file, expected a pbft-signing-key"):
        load_signing_key(keyring_path)


def test_signing_key_where_keyring_expected(key_path: Path) -> None:
    with pytest.raises(CryptoError, match="is a pbft-signing-key file, expected a pbft-keyring"):
        load_keyring(key_path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 2}, "unsupported version 2"),
        ({"version": True}, "unsupported version True"),
        ({"scheme": "fast"}, "unsupported scheme 'fast'"),
        ({"seed": None}, "missing field 'seed'"),
        ({"comment": "hi"}, "unexpected field 'comment'"),
        ({"seed": "zz" * 32}, "field 'seed' is not a hex string"),
        ({"seed": "ab cd"}, "field 'seed' is not a hex string"),
        ({"seed": "abc"}, "field 'seed' is not a hex string"),
        ({"seed": 12}, "field 'seed' is not a hex string"),
        ({"seed": "ab" * 31}, "field 'seed' must be 32 bytes .64 hex digits., got 31"),
        ({"public_key": "ab" * 33}, "field 'public_key' must be 32 bytes"),
        ({"public_key": "00" * 32}, "public key does not match the seed"),
        ({"principal": "r 0"}, "field 'principal': invalid principal name"),
        ({"principal": 0}, "field 'principal' must be a string"),
    ],
)
def test_damaged_signing_key_files(
    key_path: Path, changes: dict[str, object], message: str
) -> None:
    _edit(key_path, **changes)
    with pytest.raises(CryptoError, match=message) as caught:
        load_signing_key(key_path)
    assert str(key_path) in str(caught.value)


@pytest.mark.parametrize(
    ("public_keys", "message"),
    [
        ([], "must be an object"),
        ({"r0": "zz"}, "public key of 'r0' is not a hex string"),
        ({"r0": "00" * 31}, "public key of 'r0' must be 32 bytes"),
        ({"r0": "00" * 32}, "not a valid Ed25519 public key"),
        ({"../r0": "00" * 32}, "invalid principal name"),
        ({"r0": FUZZ_PUBLIC_HEX, "r1": FUZZ_PUBLIC_HEX}, "'r1' has the same public key as 'r0'"),
    ],
)
def test_damaged_keyring_files(keyring_path: Path, public_keys: object, message: str) -> None:
    _edit(keyring_path, public_keys=public_keys)
    with pytest.raises(CryptoError, match=message):
        load_keyring(keyring_path)


def test_a_keyring_can_be_empty(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(path, Ed25519Keyring({}))
    assert load_keyring(path).principals() == ()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_give_a_crypto_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(content)
    with pytest.raises(CryptoError):
        load_key_file(path)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(
    field=st.sampled_from(["kind", "version", "scheme", "principal", "seed", "public_key"]),
    value=_JSON,
)
def test_any_field_replaced_by_any_json_loads_or_gives_a_crypto_error(
    tmp_path: Path, field: str, value: object
) -> None:
    path = tmp_path / "k.json"
    save_signing_key(path, FUZZ_SIGNER, overwrite=True)
    document = json.loads(path.read_text())
    document[field] = value
    path.write_text(json.dumps(document))
    try:
        loaded = load_key_file(path)
    except CryptoError:
        return
    # Only a value equal to the original may load, and then it is the same key.
    assert isinstance(loaded, Ed25519Signer)
    assert loaded.public_key == FUZZ_SIGNER.public_key
