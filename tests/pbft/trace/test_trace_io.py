"""Trace files: JSON lines written and read back exactly, bad lines named by number."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from pbft.trace import records as rec
from pbft.trace.io import parse_trace, read_trace, trace_sha256, write_trace


def sample_records() -> list[rec.Record]:
    return [
        rec.RunStarted(t=0.0, scenario="demo", seed=7, n=4, f=1, faulty=("r3",)),
        rec.Sent(t=0.0, src="c0", dst="r0", kind="Request", msg=1),
        rec.Dropped(t=0.0, src="c0", dst="r1", kind="Request", msg=2, reason="loss"),
        rec.Duplicated(t=0.0, src="c0", dst="r2", kind="Request", msg=3),
        rec.Delivered(t=0.004, src="c0", dst="r0", kind="Request", msg=1),
        rec.Tampered(t=0.005, node="r3", kind="PrePrepare", msg=-1, how="equivocated"),
        rec.TimerFired(t=0.1, node="r0", timer="status"),
        rec.Crashed(t=0.2, node="r1"),
        rec.Restarted(t=0.3, node="r1"),
        rec.Paused(t=0.4, node="r2", duration_s=0.5),
        rec.Resumed(t=0.9, node="r2"),
        rec.ClockChanged(t=1.0, node="r0", offset_s=-0.25, drift=0.01),
        rec.NetworkChanged(t=1.0, action="heal", detail="every partition removed"),
        rec.Submitted(t=1.0, client="c0", timestamp=1, operation="00ff"),
        rec.Executed(
            t=1.1,
            replica=0,
            view=0,
            seq=1,
            digest="ab" * 32,
            requests=(
                rec.ExecutedRequest(client="c0", timestamp=1, operation="00ff", signed=True),
            ),
            results=("01",),
        ),
        rec.Completed(t=1.2, client="c0", timestamp=1, operation="00ff", result="01"),
        rec.ViewEntered(t=1.3, replica=0, view=1),
        rec.CheckpointStabilized(t=1.4, replica=0, seq=16, state_digest="cd" * 32),
        rec.Rejected(t=1.5, node="r0", sender="r3", reason="bad-signature"),
        rec.LogSize(t=1.6, replica=0, slots=3, window=32),
        rec.RunEnded(t=2.0, reason="quiescent"),
    ]


def test_every_record_type_survives_a_write_and_read_round_trip(tmp_path: Path) -> None:
    records = sample_records()
    assert {type(record).__name__ for record in records} == set(rec.RECORD_TYPES)
    path = tmp_path / "run.jsonl"
    write_trace(path, records)
    assert read_trace(path) == records


def test_trace_sha256_is_the_hash_of_the_written_file(tmp_path: Path) -> None:
    records = sample_records()
    path = tmp_path / "run.jsonl"
    write_trace(str(path), records)
    assert trace_sha256(records) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert trace_sha256(records[:-1]) != trace_sha256(records)


def test_write_trace_accepts_an_open_stream_and_read_trace_reads_one_back() -> None:
    stream = io.StringIO()
    write_trace(stream, sample_records())
    assert stream.getvalue().count("\n") == len(sample_records())
    stream.seek(0)
    assert read_trace(stream) == sample_records()


def test_integers_in_time_fields_are_read_as_floats_so_the_hash_is_canonical() -> None:
    (record,) = parse_trace('{"record":"RunEnded","t":3,"reason":"deadline"}\n')
    assert record == rec.RunEnded(t=3.0, reason="deadline")
    assert isinstance(record.t, float)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "must be an object"),
        ('{"record": "Nope", "t": 0}', "unknown record 'Nope'"),
        ('{"record": "RunEnded", "t": 0}', "bad RunEnded record"),
        ('{"record": "RunEnded", "t": 0, "reason": "x", "extra": 1}', "bad RunEnded record"),
        ('{"record": "RunEnded", "t": "soon", "reason": "x"}', "field 't' must be a number"),
        ('{"record": "RunEnded", "t": true, "reason": "x"}', "field 't' must be a number"),
        ('{"record": "RunEnded", "t": NaN, "reason": "x"}', "field 't' must be finite"),
        ('{"record": "RunEnded", "t": 0, "reason": 5}', "field 'reason' must be a string"),
        (
            '{"record": "Sent", "t": 0, "src": "a", "dst": "b", "kind": "k", "msg": 1.5}',
            "field 'msg' must be an integer",
        ),
        (
            '{"record": "Submitted", "t": 0, "client": "c0", "timestamp": 1, "operation": "zz"}',
            "field 'operation' must be a hex string",
        ),
        (
            '{"record": "RunStarted", "t": 0, "scenario": "s", "seed": 1, "n": 4, "f": 1,'
            ' "faulty": [3]}',
            "field 'faulty' must be a list of strings",
        ),
        (
            '{"record": "Executed", "t": 0, "replica": 0, "view": 0, "seq": 1, "digest": "",'
            ' "requests": [{"client": "c0"}], "results": []}',
            "bad Executed record",
        ),
        (
            '{"record": "Executed", "t": 0, "replica": 0, "view": 0, "seq": 1, "digest": "",'
            ' "requests": [{"client": "c0", "timestamp": 1, "operation": "00", "signed": 1}],'
            ' "results": []}',
            "must be true or false",
        ),
        (
            '{"record": "Executed", "t": 0, "replica": 0, "view": 0, "seq": 1, "digest": "",'
            ' "requests": [], "results": ["xyz"]}',
            "results[0] is not hex",
        ),
    ],
)
def test_a_bad_line_is_reported_with_its_file_and_line_number(line: str, problem: str) -> None:
    good = rec.to_json(rec.RunEnded(t=0.0, reason="quiescent"))
    with pytest.raises(rec.TraceFormatError) as raised:
        parse_trace(f"{good}\n{good}\n{line}\n", name="run.jsonl")
    assert str(raised.value).startswith("run.jsonl:3: ")
    assert problem in str(raised.value)


def test_an_empty_line_in_the_middle_is_an_error() -> None:
    good = rec.to_json(rec.RunEnded(t=0.0, reason="quiescent"))
    with pytest.raises(rec.TraceFormatError, match=r"<string>:2: empty line"):
        parse_trace(f"{good}\n\n{good}\n")


def test_a_missing_file_is_a_trace_format_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(rec.TraceFormatError, match=r"nope\.jsonl: cannot read trace"):
        read_trace(missing)


def test_a_file_that_is_not_utf8_is_a_trace_format_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.jsonl"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(rec.TraceFormatError, match=r"binary\.jsonl: not UTF-8"):
        read_trace(path)


def test_an_empty_file_is_an_empty_trace(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert read_trace(path) == []
