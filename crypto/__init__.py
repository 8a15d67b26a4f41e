"""Signatures, keys and the digest function of pbft; nothing protocol-specific.

Two signature schemes share one interface (:class:`Signer`, :class:`Keyring`): "ed25519"
(pynacl) for anything real, and "fast" (keyed BLAKE2b) for large simulated campaigns. Keys
are derived deterministically from a cluster seed and a principal name, so experiments
replay exactly. See docs/crypto.md.
"""

from crypto.derive import DERIVATION_CONTEXT, cluster_keys, derive_seed, derive_signer
from crypto.digest import DIGEST_SIZE, digest
from crypto.ed25519 import Ed25519Keyring, Ed25519Signer
from crypto.fast import FastKeyring, FastSigner
from crypto.interface import (
    SCHEMES,
    SIGNATURE_SIZE,
    CryptoError,
    Keyring,
    Scheme,
    Signer,
    check_principal,
)
from crypto.keyfile import (
    load_key_file,
    load_keyring,
    load_signing_key,
    save_keyring,
    save_signing_key,
)

__all__ = [
    "DERIVATION_CONTEXT",
    "DIGEST_SIZE",
    "SCHEMES",
    "SIGNATURE_SIZE",
    "CryptoError",
    "Ed25519Keyring",
    "Ed25519Signer",
    "FastKeyring",
    "FastSigner",
    "Keyring",
    "Scheme",
    "Signer",
    "check_principal",
    "cluster_keys",
    "derive_seed",
    "derive_signer",
    "digest",
    "load_key_file",
    "load_keyring",
    "load_signing_key",
    "save_keyring",
    "save_signing_key",
]
