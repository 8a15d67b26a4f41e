"""The ``pbft`` entry point: subcommands are listed and misuse exits 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pbft.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "keys", "bench"):
        assert command in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_bench_without_a_benchmark_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "crypto" in err
    assert "sim" in err


@pytest.mark.parametrize("argv", [["frobnicate"], ["bench", "nothing"], ["run", "--seed", "x"]])
def test_unknown_commands_and_bad_arguments_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["run", "--bogus"], "usage: pbft run "),
        (["bench", "crypto", "extra"], "usage: pbft bench crypto "),
        (["keys", "show", "a.json", "b.json"], "usage: pbft keys "),
    ],
)
def test_unrecognized_arguments_are_reported_with_the_subcommands_usage(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert f"error: unrecognized arguments: {argv[-1]}" in err


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback() -> None:
    """`pbft run --json | head -c 10`: the pipe closes before the command writes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pbft.cli", "run", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # before the interpreter has even started the run
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141
    assert b"Traceback" not in err
    assert b"Exception ignored" not in err
