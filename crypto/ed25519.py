"""The "ed25519" scheme: Ed25519 signatures (RFC 8032) through pynacl/libsodium.

This is the scheme for anything that leaves one process: key files, the trio runtime, and
any run whose signatures should mean what they say. Verification is libsodium's, which
rejects non-canonical encodings and small-order public keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import nacl.bindings
import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from crypto.interface import SIGNATURE_SIZE, CryptoError, Scheme, check_principal

SEED_SIZE = 32
"""Length in bytes of an Ed25519 private seed."""
PUBLIC_KEY_SIZE = 32
"""Length in bytes of an Ed25519 public key."""

# Everything a malformed signature or message can make pynacl raise. nacl's own ValueError
# and TypeError subclass the builtins; a str or memoryview passed as data raises a builtin one.
_VERIFY_FAILURES = (nacl.exceptions.CryptoError, ValueError, TypeError)


class Ed25519Signer:
    """One principal's Ed25519 private key."""

    __slots__ = ("_key", "_principal", "_public_key", "_seed")

    def __init__(self, *, principal: str, seed: bytes) -> None:
        """Build the key pair whose private seed is ``seed`` (32 bytes, RFC 8032 §5.1.5)."""
        self._principal = check_principal(principal)
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise CryptoError(f"an Ed25519 seed must be {SEED_SIZE} bytes")
        self._seed = seed
        self._key = SigningKey(seed)
        self._public_key = bytes(self._key.verify_key)

    @property
    def principal(self) -> str:
        return self._principal

    @property
    def scheme(self) -> Scheme:
        return "ed25519"

    @property
    def seed(self) -> bytes:
        """The 32-byte private seed; whoever holds it can sign as :attr:`principal`."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data).signature

    def __repr__(self) -> str:
        # Never show the seed: reprs end up in logs and traces.
        return f"Ed25519Signer(principal={self._principal!r}, public_key={self._public_key.hex()})"


class Ed25519Keyring:
    """Public Ed25519 keys of a set of principals."""

    __slots__ = ("_keys", "_principals", "_public_keys")

    def __init__(self, public_keys: Mapping[str, bytes]) -> None:
        """Check every name and key once here so that :meth:`verify` need not."""
        keys: dict[str, VerifyKey] = {}
        raw: dict[str, bytes] = {}
        owners: dict[bytes, str] = {}
        for principal in sorted(public_keys):
            check_principal(principal)
            public_key = public_keys[principal]
            if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
                raise CryptoError(
                    f"the public key of {principal!r} must be {PUBLIC_KEY_SIZE} bytes"
                )
            if not nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
                raise CryptoError(
                    f"the public key of {principal!r} is not a valid Ed25519 public key"
                )
            # One key for two names would let its holder sign as both: two "distinct"
            # replicas in a quorum could then be one faulty node.
            owner = owners.get(public_key)
            if owner is not None:
                raise CryptoError(f"{principal!r} has the same public key as {owner!r}")
            owners[public_key] = principal
            keys[principal] = VerifyKey(public_key)
            raw[principal] = public_key
        self._keys = keys
        self._public_keys = raw
        self._principals = tuple(raw)

    @classmethod
    def of(cls, signers: Iterable[Ed25519Signer]) -> Ed25519Keyring:
        """The keyring that verifies each of ``signers``; principals must be distinct."""
        public_keys: dict[str, bytes] = {}
        for signer in signers:
            if signer.principal in public_keys:
                raise CryptoError(f"duplicate principal {signer.principal!r}")
            public_keys[signer.principal] = signer.public_key
        return cls(public_keys)

    @property
    def scheme(self) -> Scheme:
        return "ed25519"

    def verify(self, principal: str, data: bytes, signature: bytes) -> bool:
        try:
            key = self._keys.get(principal)
            if key is None or len(signature) != SIGNATURE_SIZE:
                return False
            key.verify(data, signature)
        except _VERIFY_FAILURES:
            return False
        return True

    def knows(self, principal: str) -> bool:
        return principal in self._keys

    def principals(self) -> tuple[str, ...]:
        return self._principals

    def public_key(self, principal: str) -> bytes:
        """The public key of ``principal``; :class:`CryptoError` if it is unknown."""
        try:
            return self._public_keys[principal]
        except KeyError:
            raise CryptoError(f"the keyring has no key for {principal!r}") from None

    def __repr__(self) -> str:
        return f"Ed25519Keyring(principals={self._principals!r})"
