"""`pbft run`: exit codes, JSON lines, trace files and their naming rule, re-judging."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import attrs
import pytest

from pbft.scenario import command
from pbft.scenario.loader import load_scenario, scenario_from_dict
from pbft.trace import records as tr
from pbft.trace.io import read_trace, trace_sha256, write_trace

from .traces import honest_trace

ROOT = Path(__file__).resolve().parents[3]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pbft run")
    command.add_arguments(parser)
    return command.main(parser.parse_args(argv))


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_builtin_quickstart_is_a_copy_of_scenarios_quickstart() -> None:
    builtin = ROOT / "pbft" / "scenario" / "builtin" / "quickstart.toml"
    assert builtin.read_bytes() == (ROOT / "scenarios" / "quickstart.toml").read_bytes()
    packaged = command.builtin_quickstart()
    from_file = load_scenario(ROOT / "scenarios" / "quickstart.toml")
    assert packaged == attrs.evolve(from_file, source=packaged.source)


def test_an_invalid_file_exits_2_naming_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'name = "x"\n[[faults]]\nat = "1s"\naction = "crash"\nreplicas = [9]\n')
    assert run([path]) == 2
    err = capsys.readouterr().err
    assert path in err
    assert "faults[0].replicas[0]" in err
    assert "Traceback" not in err


def test_a_toml_syntax_error_exits_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([write(tmp_path, 'name = "x"\nseed = \n')]) == 2
    assert "line 2" in capsys.readouterr().err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--seed", "x"], ["--seed", "-1"], ["--repeat", "0"]])
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(argv)
    assert caught.value.code == 2


def save(tmp_path: Path, records: list[tr.Record]) -> str:
    path = tmp_path / "saved.jsonl"
    write_trace(path, records)
    return str(path)


def test_judging_a_saved_trace_prints_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = honest_trace()
    assert run(["--judge", save(tmp_path, trace), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert body["passed"] is True
    assert body["safety"] == {"ok": True, "violations": []}
    assert (body["liveness"]["completed"], body["liveness"]["expected"]) == (2, 2)
    assert body["trace_sha256"] == trace_sha256(trace)
    for key in ("scenario", "seed", "committed", "views", "virtual_time_s"):
        assert key in body


def test_judging_a_violating_trace_exits_1_and_shows_the_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = honest_trace()
    trace.insert(-1, tr.LogSize(t=0.65, replica=2, slots=99, window=32))
    assert run(["--judge", save(tmp_path, trace)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "bounded_log" in out
    assert "replicas r2; t=0.650s" in out
    assert "99 log slots" in out


def test_judging_against_a_scenario_file_uses_its_expectations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, 'name = "hand"\n[workload]\nrequests = 5\n', "hand.toml")
    assert run(["--judge", save(tmp_path, honest_trace()), scenario]) == 1
    assert "2/5 requests" in capsys.readouterr().out


def test_judging_a_corrupt_trace_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "corrupt.jsonl"
    path.write_text('{"record": "Nonsense"}\n')
    assert run(["--judge", str(path)]) == 2
    assert "corrupt.jsonl" in capsys.readouterr().err


def test_judging_a_trace_without_run_started_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--judge", save(tmp_path, honest_trace()[1:])]) == 2
    assert "RunStarted" in capsys.readouterr().err


def test_judging_a_trace_without_run_started_names_the_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(["--judge", str(empty)]) == 2
    assert f"cannot judge {empty}: a trace must hold exactly one RunStarted" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("file_text", "described"),
    [
        ("[cluster]\nf = 2\n", "n=7 f=2 Byzantine []"),
        ('[[byzantine]]\nreplica = 3\nbehavior = "silent"\n', "n=4 f=1 Byzantine [r3]"),
    ],
)
def test_judging_against_a_file_for_another_cluster_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file_text: str, described: str
) -> None:
    scenario = write(tmp_path, 'name = "hand"\n' + file_text, "other.toml")
    assert run(["--judge", save(tmp_path, honest_trace()), scenario]) == 2
    err = capsys.readouterr().err
    assert "the trace is of n=4 f=1 Byzantine [] (scenario 'hand')" in err
    assert f"the file describes {described}" in err


def test_judging_against_a_file_for_the_same_cluster_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, '[[byzantine]]\nreplica = 3\nbehavior = "silent"\n', "same.toml")
    trace = save(tmp_path, honest_trace(faulty=("r3",)))
    assert run(["--judge", trace, scenario]) == 1  # judged: 2 of the file's 10 requests
    captured = capsys.readouterr()
    assert "2/10 requests" in captured.out
    assert captured.err == ""


def test_a_key_that_looks_like_rich_markup_is_reported_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([write(tmp_path, '"[/red]" = 1\n"[bold]x" = 2\n')]) == 2
    err = capsys.readouterr().err
    assert "[/red]: unknown key" in err
    assert "Traceback" not in err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_judging_a_device_exits_2_instead_of_reading_for_ever(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--judge", "/dev/zero"]) == 2
    assert "cannot judge /dev/zero: a device, not a trace file" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--trace", "--judge"])
def test_an_empty_file_name_is_a_bad_argument(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        run([option, ""])
    assert caught.value.code == 2
    assert f"argument {option}: must name a file" in capsys.readouterr().err


def test_judge_with_two_files_names_the_expect_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--judge", save(tmp_path, honest_trace()), "a.toml", "b.toml"]) == 2
    assert "at most one scenario FILE (for its [expect])" in capsys.readouterr().err


def test_judge_refuses_run_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--judge", save(tmp_path, honest_trace()), "--trace", "x.jsonl"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_one_run_writes_its_trace_to_the_given_path(tmp_path: Path) -> None:
    s = scenario_from_dict({"name": "a"})
    assert command.trace_paths(str(tmp_path / "t.jsonl"), [(s, 1)]) == [tmp_path / "t.jsonl"]
    assert command.trace_paths(None, [(s, 1)]) == [None]


def test_several_runs_name_their_traces_after_scenario_and_seed(tmp_path: Path) -> None:
    a, b = scenario_from_dict({"name": "a"}), scenario_from_dict({"name": "b c/d"})
    runs = [(a, 1), (a, 2), (b, 1), (a, 1)]
    assert command.trace_paths(str(tmp_path / "out.jsonl"), runs) == [
        tmp_path / "out-a-seed1.jsonl",
        tmp_path / "out-a-seed2.jsonl",
        tmp_path / "out-b-c-d-seed1.jsonl",
        tmp_path / "out-a-2-seed1.jsonl",
    ]
    assert command.trace_paths(str(tmp_path), runs[:1]) == [tmp_path / "a-seed1.jsonl"]
    assert command.trace_paths(str(tmp_path / "new") + "/", runs[:2]) == [
        tmp_path / "new" / "a-seed1.jsonl",
        tmp_path / "new" / "a-seed2.jsonl",
    ]


def test_a_trace_path_under_a_file_exits_2_saying_it_is_not_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("")
    assert run(["--trace", str(blocker / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write trace {blocker / 't.jsonl'}: {blocker} is not a directory" in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_an_unwritable_trace_path_exits_2_with_the_system_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--trace", "/dev/full"]) == 2
    assert "cannot write trace /dev/full: No space left on device" in capsys.readouterr().err


QUICK = """# a tiny run for command tests
name = "tiny"
seed = 5
[workload]
requests = 3
[expect]
within = "10s"
min_committed = 3
"""


def test_a_run_prints_json_and_writes_a_trace_that_hashes_to_the_reported_sha(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, QUICK, "tiny.toml")
    out = tmp_path / "traces" / "tiny.jsonl"
    assert run([path, "--json", "--trace", str(out)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["scenario"] == "tiny"
    assert body["seed"] == 5
    assert body["passed"] is True
    assert body["committed"] == 3
    assert body["trace_sha256"] == trace_sha256(read_trace(out))


def test_seed_and_repeat_choose_the_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, QUICK, "tiny.toml")
    assert run([path, "--json", "--seed", "40", "--repeat", "2", "--trace", str(tmp_path)]) == 0
    seeds = [json.loads(line)["seed"] for line in capsys.readouterr().out.splitlines()]
    assert seeds == [40, 41]
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == [
        "tiny-seed40.jsonl",
        "tiny-seed41.jsonl",
    ]


def test_an_unmet_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, QUICK.replace("min_committed = 3", "min_committed = 4"), "tiny.toml")
    assert run([path]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "min_committed" in out


def test_without_a_file_the_builtin_quickstart_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"] == "quickstart"


def test_the_pbft_command_wires_run_with_exit_code_2_for_invalid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pbft.cli import main as pbft_main

    assert pbft_main(["run", write(tmp_path, "name = 3\n")]) == 2
    assert "name: must be a string" in capsys.readouterr().err


def test_the_progress_bar_shows_virtual_time_on_a_terminal_only() -> None:
    import io

    from rich.console import Console

    s = scenario_from_dict({"name": "bar", "expect": {"within": "4s"}})
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with command._progress(console, s, 3, enabled=True) as on_progress:
        assert on_progress is not None
        on_progress(2.0)
        on_progress(9.0)  # past the deadline: clamped
    assert "bar seed 3" in screen.getvalue()
    with command._progress(console, s, 3, enabled=False) as on_progress:
        assert on_progress is None


def test_wire_mode_sends_every_message_through_the_codec_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lossy = str(ROOT / "scenarios" / "lossy-network.toml")
    hashes = []
    for extra in ([], ["--wire"]):
        assert run([lossy, "--json", *extra]) == 0
        hashes.append(json.loads(capsys.readouterr().out.splitlines()[0])["trace_sha256"])
    assert hashes[0] == hashes[1]


def test_judge_refuses_wire_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--judge", save(tmp_path, honest_trace()), "--wire"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
