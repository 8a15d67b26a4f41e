"""The one digest function of pbft: SHA-256.

Everything that names data by its hash (request batches, checkpoints of the service state,
signed payloads in certificates) uses :func:`digest`, so two parts of the system can never
disagree on what a digest is. SHA-256 is collision resistant, which is all PBFT asks of D(m)
(OSDI '99 §2), and hashlib computes it in C.
"""

from __future__ import annotations

import hashlib

DIGEST_SIZE = 32
"""Length in bytes of every :func:`digest` output."""


def digest(data: bytes) -> bytes:
    """SHA-256 of ``data``: 32 bytes (FIPS 180-4)."""
    return hashlib.sha256(data).digest()
