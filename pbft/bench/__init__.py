"""Benchmarks behind ``pbft bench``: figures for this machine, printed, never asserted.

:mod:`pbft.bench.crypto` measures the signature schemes and the codec and derives the
"crypto bound" that simulated and real throughput can be set against.
"""
