"""Run traces: the record vocabulary (:mod:`pbft.trace.records`) and JSON-lines I/O."""

from pbft.trace.io import parse_trace, read_trace, trace_sha256, write_trace
from pbft.trace.records import Record, TraceFormatError, from_json, to_json

__all__ = [
    "Record",
    "TraceFormatError",
    "from_json",
    "parse_trace",
    "read_trace",
    "to_json",
    "trace_sha256",
    "write_trace",
]
