"""The "fast" scheme: keyed BLAKE2b, for large simulated campaigns only.

A signature is BLAKE2b-512 of the data keyed with the principal's 32-byte secret
(RFC 7693 §2.5 keyed hashing, i.e. a MAC). It is roughly two orders of magnitude cheaper
than Ed25519, which lets a simulation run many more requests.

It is not a public-key scheme: the keyring holds every principal's secret. A simulated
faulty node is handed only its own :class:`FastSigner`, never the keyring, so it still
cannot sign as anyone else; the keyring stands in for a trusted verification service.
Never use it across a process boundary: anyone who can verify can also forge.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from crypto.interface import SIGNATURE_SIZE, CryptoError, Scheme, check_principal

SECRET_SIZE = 32
"""Length in bytes of a principal's secret (BLAKE2b accepts keys up to 64 bytes)."""


class FastSigner:
    """One principal's BLAKE2b secret."""

    __slots__ = ("_principal", "_secret")

    def __init__(self, *, principal: str, secret: bytes) -> None:
        self._principal = check_principal(principal)
        if not isinstance(secret, bytes) or len(secret) != SECRET_SIZE:
            raise CryptoError(f"a fast-scheme secret must be {SECRET_SIZE} bytes")
        self._secret = secret

    @property
    def principal(self) -> str:
        return self._principal

    @property
    def scheme(self) -> Scheme:
        return "fast"

    @property
    def secret(self) -> bytes:
        return self._secret

    def sign(self, data: bytes) -> bytes:
        """BLAKE2b-512 of ``data`` keyed with this principal's secret: 64 bytes."""
        return hashlib.blake2b(data, key=self._secret, digest_size=SIGNATURE_SIZE).digest()

    def __repr__(self) -> str:
        return f"FastSigner(principal={self._principal!r})"


class FastKeyring:
    """Every principal's BLAKE2b secret; verifies by recomputing the keyed hash."""

    __slots__ = ("_principals", "_secrets")

    def __init__(self, secrets: Mapping[str, bytes]) -> None:
        checked: dict[str, bytes] = {}
        owners: dict[bytes, str] = {}
        for principal in sorted(secrets):
            check_principal(principal)
            secret = secrets[principal]
            if not isinstance(secret, bytes) or len(secret) != SECRET_SIZE:
                raise CryptoError(f"the secret of {principal!r} must be {SECRET_SIZE} bytes")
            # One secret for two names would let either principal sign as the other.
            owner = owners.get(secret)
            if owner is not None:
                raise CryptoError(f"{principal!r} has the same secret as {owner!r}")
            owners[secret] = principal
            checked[principal] = secret
        self._secrets = checked
        self._principals = tuple(checked)

    @classmethod
    def of(cls, signers: Iterable[FastSigner]) -> FastKeyring:
        """The keyring that verifies each of ``signers``; principals must be distinct."""
        secrets: dict[str, bytes] = {}
        for signer in signers:
            if signer.principal in secrets:
                raise CryptoError(f"duplicate principal {signer.principal!r}")
            secrets[signer.principal] = signer.secret
        return cls(secrets)

    @property
    def scheme(self) -> Scheme:
        return "fast"

    def verify(self, principal: str, data: bytes, signature: bytes) -> bool:
        try:
            secret = self._secrets.get(principal)
            if secret is None or len(signature) != SIGNATURE_SIZE:
                return False
            expected = hashlib.blake2b(data, key=secret, digest_size=SIGNATURE_SIZE).digest()
            # Constant time, so that timing does not reveal how much of a forgery was right.
            return hmac.compare_digest(expected, signature)
        except TypeError:  # data or signature of a type that is not bytes-like
            return False

    def knows(self, principal: str) -> bool:
        return principal in self._secrets

    def principals(self) -> tuple[str, ...]:
        return self._principals

    def __repr__(self) -> str:
        return f"FastKeyring(principals={self._principals!r})"
