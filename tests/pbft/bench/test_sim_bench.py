"""``pbft bench sim`` runs and names every figure (values are the machine's, never asserted)."""

from __future__ import annotations

import json

import pytest

from pbft.cli import main


def test_bench_sim_prints_each_figure_in_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "sim", "--requests", "8", "--seconds", "0.02"]) == 0
    out = capsys.readouterr().out
    for name in (
        "sign/s",
        "verify/s",
        "batch",
        "done",
        "wall-s",
        "CPU-s",
        "sign/",
        "verify/",
        "bound",
        "ratio",
    ):
        assert name in out
    assert "Simulated throughput vs crypto bound" in out


def test_bench_sim_json_has_every_figure_for_every_batch_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "sim", "--requests", "8", "--seconds", "0.02", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["sign_per_s"] > 0
    assert figures["verify_per_s"] > 0
    assert [row["batch_size"] for row in figures["rows"]] == [1, 10, 100]
    for row in figures["rows"]:
        assert row["completed"] == row["requests"]  # every simulated request completed
        for key in ("requests_per_wall_s", "requests_per_cpu_s", "bound_requests_per_s", "ratio"):
            assert row[key] > 0


@pytest.mark.parametrize("arguments", [["--requests", "0"], ["--seconds", "nan"]])
def test_bench_sim_refuses_bad_arguments_with_exit_code_2(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "sim", *arguments])
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err
