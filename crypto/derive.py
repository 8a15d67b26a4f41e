"""Deterministic keys: the same (scheme, cluster seed, principal) always gives the same key.

Reproducible experiments need reproducible keys: a simulated run is replayed from its
scenario file alone, and a test can name a key by its inputs. The construction (pinned by
known-answer tests, documented in docs/crypto.md) is

    seed32 = SHA-256( lp(b"pbft-key-v1") || lp(scheme) || lp(cluster_seed) || lp(principal) )

where lp(x) is len(x) as a 4-byte big-endian integer followed by x (strings in UTF-8). The
length prefixes keep distinct inputs from running into each other ("r1"+"0" vs "r"+"10"),
and naming the scheme keeps the fast secret of a principal apart from its Ed25519 seed.
An Ed25519 signer uses seed32 as its RFC 8032 private seed; a fast signer uses it as its
BLAKE2b key.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from crypto.ed25519 import Ed25519Keyring, Ed25519Signer
from crypto.fast import FastKeyring, FastSigner
from crypto.interface import CryptoError, Keyring, Scheme, Signer, check_principal, check_scheme

DERIVATION_CONTEXT = b"pbft-key-v1"


def _length_prefixed(field: bytes) -> bytes:
    return len(field).to_bytes(4, "big") + field


def derive_seed(scheme: Scheme, cluster_seed: bytes, principal: str) -> bytes:
    """The 32-byte private seed of ``principal`` in the cluster named by ``cluster_seed``."""
    scheme = check_scheme(scheme)
    check_principal(principal)
    if not isinstance(cluster_seed, bytes):
        raise CryptoError(f"the cluster seed must be bytes, got {type(cluster_seed).__name__}")
    if len(cluster_seed) >= 2**32:
        raise CryptoError("the cluster seed must be shorter than 2**32 bytes")
    material = b"".join(
        _length_prefixed(field)
        for field in (
            DERIVATION_CONTEXT,
            scheme.encode("ascii"),
            cluster_seed,
            principal.encode("utf-8"),
        )
    )
    return hashlib.sha256(material).digest()


def derive_signer(scheme: Scheme, cluster_seed: bytes, principal: str) -> Signer:
    """``principal``'s signer under ``scheme``, derived from ``cluster_seed``."""
    seed = derive_seed(scheme, cluster_seed, principal)
    if scheme == "ed25519":
        return Ed25519Signer(principal=principal, seed=seed)
    return FastSigner(principal=principal, secret=seed)


def cluster_keys(
    scheme: Scheme, cluster_seed: bytes, principals: Iterable[str]
) -> tuple[dict[str, Signer], Keyring]:
    """One derived signer per principal and the keyring that verifies all of them.

    Principals must be distinct. Hand each node only its own signer.
    """
    scheme = check_scheme(scheme)
    if isinstance(principals, str | bytes):
        # A lone name would be iterated letter by letter into a keyring of one-letter names.
        raise CryptoError(f"principals must be a collection of names, got {principals!r}")
    names = [check_principal(p) for p in principals]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise CryptoError(f"duplicate principals: {', '.join(duplicates)}")
    if scheme == "ed25519":
        ed_signers = [
            Ed25519Signer(principal=p, seed=derive_seed(scheme, cluster_seed, p)) for p in names
        ]
        return {s.principal: s for s in ed_signers}, Ed25519Keyring.of(ed_signers)
    fast_signers = [
        FastSigner(principal=p, secret=derive_seed(scheme, cluster_seed, p)) for p in names
    ]
    return {s.principal: s for s in fast_signers}, FastKeyring.of(fast_signers)
