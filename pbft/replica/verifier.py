"""Signature checks for the replica core, with a small cache of verified envelopes.

The same signed message reaches a replica many times: a client request arrives on its own,
then inside the primary's PRE-PREPARE, and again inside prepared certificates and NEW-VIEW
messages. Verifying an Ed25519 signature costs far more than a dict lookup, so every
successful verification is remembered under (sender, signature); a later envelope with that
key is accepted without the public-key operation only if its payload is the very same object
or compares equal to the one that was verified. Failed verifications are not cached, so a
forged envelope can never ride on a cached entry.
"""

from __future__ import annotations

import crypto
from pbft.config import Config
from pbft.ids import ReplicaId, is_valid_client_id, replica_of
from pbft.messages import Envelope, Payload, verify

DEFAULT_CAPACITY = 1 << 16


class Verifier:
    """Checks senders and signatures of envelopes for one replica (bounded cache)."""

    def __init__(
        self, *, config: Config, keyring: crypto.Keyring, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        assert capacity > 0
        self._config = config
        self._keyring = keyring
        self._capacity = capacity
        self._verified: dict[tuple[str, bytes], Payload] = {}

    def replica_sender(self, envelope: Envelope) -> ReplicaId | None:
        """The replica id of the envelope's sender, or None if it is not one of ours."""
        sender: object = envelope.sender  # typed str, but a faulty peer may send anything
        if not isinstance(sender, str):
            return None
        replica = replica_of(sender)
        if replica is None or replica >= self._config.n:
            return None
        if not self._keyring.knows(envelope.sender):
            return None
        return replica

    def is_client(self, principal: str) -> bool:
        """True iff ``principal`` is a well-formed client name the keyring knows."""
        return (
            isinstance(principal, str)
            and is_valid_client_id(principal)
            and self._keyring.knows(principal)
        )

    def is_valid(self, envelope: Envelope) -> bool:
        """True iff ``envelope`` carries its sender's valid signature over its payload."""
        key = (envelope.sender, envelope.signature)
        cached = self._verified.get(key)
        if cached is not None and (cached is envelope.payload or cached == envelope.payload):
            return True
        if not verify(self._keyring, envelope):
            return False
        self.remember(envelope)
        return True

    def remember(self, envelope: Envelope) -> None:
        """Record ``envelope`` as verified (also used for envelopes this replica signed)."""
        if len(self._verified) >= self._capacity:
            # Dicts keep insertion order: drop the oldest entry (FIFO is enough here).
            del self._verified[next(iter(self._verified))]
        self._verified[(envelope.sender, envelope.signature)] = envelope.payload
