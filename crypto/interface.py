"""What every signature scheme offers: a signer per principal and a keyring that checks them.

A node is handed only its own :class:`Signer`; the :class:`Keyring` is the cluster's public
knowledge of who owns which key. Both schemes ("ed25519" and "fast") implement these two
protocols, so protocol code never names a scheme.
"""

from __future__ import annotations

import re
from typing import Final, Literal, Protocol, get_args

Scheme = Literal["ed25519", "fast"]
SCHEMES: Final[tuple[Scheme, ...]] = get_args(Scheme)

SIGNATURE_SIZE = 64
"""Length in bytes of a signature, for both schemes."""

# Generic on purpose: crypto knows nothing of replicas and clients, but a principal name must
# be safe as a file name (key files are "<principal>.key.json") and unambiguous in a keyring.
_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class CryptoError(ValueError):
    """A key, key file or argument is unusable; the message names the problem."""


class Signer(Protocol):
    """The private half of one principal's key: signs as that principal and no one else."""

    @property
    def principal(self) -> str: ...

    @property
    def scheme(self) -> Scheme: ...

    def sign(self, data: bytes) -> bytes:
        """A :data:`SIGNATURE_SIZE`-byte signature of ``data`` by :attr:`principal`."""
        ...


class Keyring(Protocol):
    """Verifies any known principal's signatures."""

    def verify(self, principal: str, data: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is ``principal``'s signature of ``data``.

        False, never an exception, for an unknown principal or a signature of the wrong
        length, type or value: signatures come from the network.
        """
        ...

    def knows(self, principal: str) -> bool:
        """True iff the keyring holds a key for ``principal``."""
        ...

    def principals(self) -> tuple[str, ...]:
        """Every principal the keyring knows, sorted."""
        ...


def check_principal(principal: object) -> str:
    """Return ``principal`` if it is a valid principal name, else raise :class:`CryptoError`."""
    if not isinstance(principal, str):
        raise CryptoError(f"a principal name must be a string, got {type(principal).__name__}")
    if _PRINCIPAL.fullmatch(principal) is None:
        raise CryptoError(
            f"invalid principal name {principal!r}: use 1 to 64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return principal


def check_scheme(scheme: object) -> Scheme:
    """Return ``scheme`` if it names a known scheme, else raise :class:`CryptoError`."""
    for known in SCHEMES:
        if scheme == known:
            return known
    expected = " or ".join(repr(s) for s in SCHEMES)
    raise CryptoError(f"unknown signature scheme {scheme!r}; expected {expected}")
