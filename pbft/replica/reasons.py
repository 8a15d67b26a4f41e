"""Named reasons for rejecting a message: the keys of :attr:`Replica.rejections`.

Every message a peer, client or the network can send either changes the replica's state, is
a harmless duplicate or late vote (ignored without a count), or is rejected under exactly one
of these reasons. The names are stable: traces and scenario checkers match on them.
"""

from __future__ import annotations

from typing import Final

UNKNOWN_SENDER: Final = "unknown-sender"
"""The envelope's sender is not a principal of this cluster (or of the right kind)."""
WRONG_SENDER: Final = "wrong-sender"
"""The payload names another replica or client than the one that signed it."""
BAD_SIGNATURE: Final = "bad-signature"
"""The envelope's signature does not verify under its sender's key."""
UNEXPECTED_MESSAGE: Final = "unexpected-message"
"""A message kind replicas never receive on its own (Reply, PreparedCertificate)."""
WRONG_VIEW: Final = "wrong-view"
"""The message belongs to another view than the one the replica is in."""
VIEW_CHANGE_IN_PROGRESS: Final = "view-change-in-progress"
"""A normal-case pre-prepare arrived while the replica waits for a NEW-VIEW."""
NOT_FROM_PRIMARY: Final = "not-from-primary"
"""A pre-prepare or NEW-VIEW that the view's primary did not sign."""
FROM_PRIMARY: Final = "prepare-from-primary"
"""A PREPARE signed by the view's primary, which never prepares (§4.2)."""
OUTSIDE_WINDOW: Final = "outside-window"
"""The sequence number is not in (low mark, high mark]."""
CONFLICTING_PRE_PREPARE: Final = "conflicting-pre-prepare"
"""Another pre-prepare with another digest was already accepted for the same (view, seq)."""
CONFLICTING_VOTE: Final = "conflicting-vote"
"""The same replica already voted for another digest at the same (view, seq)."""
BAD_DIGEST: Final = "bad-digest"
"""A pre-prepare's digest is not the digest of its batch."""
BAD_REQUEST: Final = "bad-request"
"""A batch member or request is malformed (not a request, sender is not its client)."""
BAD_CLIENT_SIGNATURE: Final = "bad-client-signature"
"""A request inside a batch is not validly signed by its client."""
STALE: Final = "stale"
"""A request older than the client's last executed one, or state older than ours."""
INVALID_CERTIFICATE: Final = "invalid-certificate"
"""A checkpoint proof, prepared or commit certificate, or view-change set does not check."""
WRONG_NEW_VIEW: Final = "wrong-new-view"
"""A NEW-VIEW whose pre-prepares differ from the O recomputed from its view changes."""
BAD_CHECKPOINT: Final = "bad-checkpoint"
"""A CHECKPOINT at a sequence number that is not a positive multiple of K."""
BAD_SNAPSHOT: Final = "bad-snapshot"
"""A state snapshot that does not match its proven digest or cannot be restored."""
CONFLICTING_CERTIFICATE: Final = "conflicting-certificate"
"""A commit certificate for a slot already committed with another digest."""
