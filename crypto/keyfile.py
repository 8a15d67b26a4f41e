"""Key files: one principal's Ed25519 signing key, or a cluster's keyring of public keys.

Both are small JSON objects (format in docs/crypto.md) with a ``kind`` field, so a keyring
handed where a signing key is expected is named as such instead of failing obscurely. Only
the "ed25519" scheme is stored: a fast-scheme keyring holds every principal's secret and
must never leave the process that simulates the cluster.

Signing-key files are created with mode 0600 at open time, so the secret is never readable
by others, not even for an instant. Loading checks everything and reports the first problem
as a :class:`CryptoError` that names the file and the field.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from crypto.ed25519 import PUBLIC_KEY_SIZE, SEED_SIZE, Ed25519Keyring, Ed25519Signer
from crypto.interface import CryptoError, Keyring, Signer

SIGNING_KEY_KIND: Final = "pbft-signing-key"
KEYRING_KIND: Final = "pbft-keyring"
FORMAT_VERSION: Final = 1

# A keyring of a thousand principals is ~100 KB; anything far larger is not a key file.
_MAX_FILE_BYTES = 4 * 1024 * 1024
_HEX = re.compile(r"[0-9a-fA-F]*")

StrPath = str | os.PathLike[str]


def save_signing_key(path: StrPath, signer: Signer, *, overwrite: bool = False) -> None:
    """Write ``signer``'s private key to ``path`` with mode 0600.

    Refuses an existing file unless ``overwrite``; only Ed25519 signers can be saved.
    """
    if not isinstance(signer, Ed25519Signer):
        raise CryptoError(
            f"only ed25519 signing keys can be saved, not {signer.scheme!r} ones: "
            "fast-scheme secrets exist only inside a simulation"
        )
    document = {
        "kind": SIGNING_KEY_KIND,
        "version": FORMAT_VERSION,
        "scheme": "ed25519",
        "principal": signer.principal,
        "seed": signer.seed.hex(),
        "public_key": signer.public_key.hex(),
    }
    _write(Path(path), _dump(document), mode=0o600, overwrite=overwrite)


def load_signing_key(path: StrPath) -> Ed25519Signer:
    """Read a signing-key file written by :func:`save_signing_key`."""
    return _signing_key_from(_read(Path(path), SIGNING_KEY_KIND), Path(path))


def save_keyring(path: StrPath, keyring: Keyring, *, overwrite: bool = False) -> None:
    """Write ``keyring``'s public keys to ``path`` (mode 0644 less the umask).

    Refuses an existing file unless ``overwrite``; only Ed25519 keyrings can be saved.
    """
    if not isinstance(keyring, Ed25519Keyring):
        raise CryptoError(
            f"only ed25519 keyrings can be saved, not {type(keyring).__name__}: a fast-scheme "
            "keyring holds every principal's secret"
        )
    document = {
        "kind": KEYRING_KIND,
        "version": FORMAT_VERSION,
        "scheme": "ed25519",
        "public_keys": {p: keyring.public_key(p).hex() for p in keyring.principals()},
    }
    _write(Path(path), _dump(document), mode=0o644, overwrite=overwrite)


def load_keyring(path: StrPath) -> Ed25519Keyring:
    """Read a keyring file written by :func:`save_keyring`."""
    return _keyring_from(_read(Path(path), KEYRING_KIND), Path(path))


def load_key_file(path: StrPath) -> Ed25519Signer | Ed25519Keyring:
    """Read a key file of either kind, as its ``kind`` field says."""
    document = _read(Path(path), None)
    if document["kind"] == SIGNING_KEY_KIND:
        return _signing_key_from(document, Path(path))
    return _keyring_from(document, Path(path))


def _dump(document: Mapping[str, object]) -> str:
    return json.dumps(document, indent=2) + "\n"


def _write(path: Path, text: str, *, mode: int, overwrite: bool) -> None:
    """Create ``path`` with ``mode`` from the start; replace atomically when overwriting."""
    target = path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if overwrite:
        # A fresh file renamed over the old one: opening the old one would keep its mode.
        target = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(target, flags, mode)
    except FileExistsError:
        raise CryptoError(f"{path}: already exists; refusing to overwrite it") from None
    except OSError as error:
        raise CryptoError(f"{path}: cannot create: {error.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if target != path:
            os.replace(target, path)
    except OSError as error:
        target.unlink(missing_ok=True)
        raise CryptoError(f"{path}: cannot write: {error.strerror}") from None


def _read(path: Path, kind: str | None) -> dict[str, object]:
    """The JSON object in ``path``, whose ``kind`` is ``kind`` (either kind when None)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CryptoError(f"{path}: no such key file") from None
    except IsADirectoryError:
        raise CryptoError(f"{path}: is a directory, not a key file") from None
    except OSError as error:
        raise CryptoError(f"{path}: cannot read: {error.strerror}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise CryptoError(f"{path}: larger than {_MAX_FILE_BYTES} bytes; not a key file")
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise CryptoError(f"{path}: not a key file (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise CryptoError(
            f"{path}: not a key file (not JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno})"
        ) from None
    except _DuplicateKey as error:
        raise CryptoError(f"{path}: duplicate key {error.args[0]!r}") from None
    except RecursionError:
        raise CryptoError(f"{path}: not a key file (JSON nested too deeply)") from None
    except ValueError as error:  # e.g. an integer beyond int_max_str_digits: a bare ValueError
        raise CryptoError(f"{path}: not a key file (not JSON: {error})") from None
    if not isinstance(document, dict):
        raise CryptoError(f"{path}: not a key file (expected a JSON object)")
    found = document.get("kind")
    known = (SIGNING_KEY_KIND, KEYRING_KIND)
    if found not in known:
        raise CryptoError(f"{path}: not a pbft key file (its 'kind' is {found!r})")
    if kind is not None and found != kind:
        raise CryptoError(f"{path}: is a {found} file, expected a {kind} file")
    version = document.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise CryptoError(f"{path}: unsupported version {version!r}; expected {FORMAT_VERSION}")
    if document.get("scheme") != "ed25519":
        raise CryptoError(
            f"{path}: unsupported scheme {document.get('scheme')!r}; key files hold ed25519 keys"
        )
    return document


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _check_fields(path: Path, document: Mapping[str, object], fields: set[str]) -> None:
    missing = sorted(fields - document.keys())
    if missing:
        raise CryptoError(f"{path}: missing field {missing[0]!r}")
    unexpected = sorted(document.keys() - fields)
    if unexpected:
        raise CryptoError(f"{path}: unexpected field {unexpected[0]!r}")


def _hex_field(path: Path, where: str, value: object, size: int) -> bytes:
    if not isinstance(value, str) or _HEX.fullmatch(value) is None or len(value) % 2:
        raise CryptoError(f"{path}: {where} is not a hex string")
    data = bytes.fromhex(value)
    if len(data) != size:
        raise CryptoError(
            f"{path}: {where} must be {size} bytes ({2 * size} hex digits), got {len(data)} bytes"
        )
    return data


def _signing_key_from(document: Mapping[str, object], path: Path) -> Ed25519Signer:
    _check_fields(path, document, {"kind", "version", "scheme", "principal", "seed", "public_key"})
    seed = _hex_field(path, "field 'seed'", document["seed"], SEED_SIZE)
    public_key = _hex_field(path, "field 'public_key'", document["public_key"], PUBLIC_KEY_SIZE)
    principal = document["principal"]
    if not isinstance(principal, str):
        raise CryptoError(f"{path}: field 'principal' must be a string")
    try:
        signer = Ed25519Signer(principal=principal, seed=seed)
    except CryptoError as error:
        raise CryptoError(f"{path}: field 'principal': {error}") from None
    if signer.public_key != public_key:
        raise CryptoError(f"{path}: the public key does not match the seed (file damaged?)")
    return signer


def _keyring_from(document: Mapping[str, object], path: Path) -> Ed25519Keyring:
    _check_fields(path, document, {"kind", "version", "scheme", "public_keys"})
    entries = document["public_keys"]
    if not isinstance(entries, dict):
        raise CryptoError(f"{path}: field 'public_keys' must be an object of principal: hex")
    public_keys = {
        principal: _hex_field(path, f"public key of {principal!r}", value, PUBLIC_KEY_SIZE)
        for principal, value in entries.items()
    }
    try:
        return Ed25519Keyring(public_keys)
    except CryptoError as error:
        raise CryptoError(f"{path}: {error}") from None
