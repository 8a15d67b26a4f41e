"""pbft: a reference implementation of Practical Byzantine Fault Tolerance.

The protocol core (:mod:`pbft.replica`, :mod:`pbft.client`) is a pure, deterministic state
machine; :mod:`pbft.sim` and :mod:`pbft.runtime` drive it. See docs/architecture.md.
"""

__version__ = "0.1.0"
