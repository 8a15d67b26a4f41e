"""``pbft bench crypto``: it names every figure, and its per-request counts are right.

The rates themselves depend on the machine, so only their presence and sign are checked.
"""

from __future__ import annotations

import argparse
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.bench.crypto import (
    SchemeRates,
    add_arguments,
    bound_requests_per_s,
    main,
    normal_case_crypto_per_request,
    rate_per_s,
)
from pbft.cli import main as pbft_main


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="pbft bench crypto")
    add_arguments(parser)
    return main(parser.parse_args(argv))


def test_table_output_names_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--seconds", "0.001") == 0
    out = capsys.readouterr().out
    for name in [
        "sign/s",
        "verify/s",
        "encode/s",
        "decode/s",
        "ed25519",
        "fast",
        "Prepare",
        "PrePrepare (10 requests)",
        "Crypto bound",
        "whole cluster",
        "one replica",
        "n=4, f=1",
    ]:
        assert name in out, name


def test_json_output_holds_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--seconds", "0.001", "--json") == 0
    figures = json.loads(capsys.readouterr().out)
    assert [s["scheme"] for s in figures["schemes"]] == ["ed25519", "fast"]
    for scheme in figures["schemes"]:
        assert scheme["sign_per_s"] > 0
        assert scheme["verify_per_s"] > 0
    assert [c["name"] for c in figures["codec"]] == ["Prepare", "PrePrepare (10 requests)"]
    for codec in figures["codec"]:
        assert codec["size_bytes"] > 0
        assert codec["encode_per_s"] > 0
        assert codec["decode_per_s"] > 0
    assert figures["n"] == 4
    assert [row["batch_size"] for row in figures["per_request"]] == [1, 10]
    assert len(figures["bound"]) == 4
    for row in figures["bound"]:
        assert row["cluster_requests_per_s"] > 0
        assert row["replica_requests_per_s"] > row["cluster_requests_per_s"]


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "abc", "1e9"])
def test_bad_seconds_exit_2(seconds: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _run("--seconds", seconds)
    assert caught.value.code == 2
    assert "--seconds" in capsys.readouterr().err


def test_counts_for_four_replicas_match_docs() -> None:
    one = normal_case_crypto_per_request(n=4, batch_size=1, checkpoint_interval=64)
    assert (one.cluster_signs, one.cluster_verifies) == (13.0625, 32.1875)
    assert (one.replica_signs, one.replica_verifies) == (3.015625, 7.046875)
    ten = normal_case_crypto_per_request(n=4, batch_size=10, checkpoint_interval=64)
    assert ten.cluster_signs == pytest.approx(5.80625)
    assert ten.cluster_verifies == pytest.approx(10.41875)


def _count_by_enumeration(n: int, b: int, k: int) -> tuple[float, float, list[float], list[float]]:
    """Walk the normal case message by message: who signs, who verifies (OSDI '99 §4.2-4.3)."""
    replicas = range(n)
    primary = 0
    signs = {node: 0.0 for node in [*replicas, "clients"]}
    verifies = {node: 0.0 for node in [*replicas, "clients"]}
    signs["clients"] += b  # requests
    verifies[primary] += b  # the primary checks each request
    signs[primary] += 1  # PRE-PREPARE
    for backup in replicas:
        if backup != primary:
            verifies[backup] += 1 + b  # the pre-prepare and the requests in its batch
            signs[backup] += 1  # PREPARE, to every other replica
            for other in replicas:
                if other != backup:
                    verifies[other] += 1
    for replica in replicas:
        signs[replica] += 1 + b + 1 / k  # COMMIT, b REPLYs, a share of a CHECKPOINT
        verifies["clients"] += b  # each reply
        for other in replicas:
            if other != replica:
                verifies[other] += 1 + 1 / k  # the COMMIT and the CHECKPOINT share
    per_replica_signs = [signs[r] / b for r in replicas]
    per_replica_verifies = [verifies[r] / b for r in replicas]
    return (
        sum(signs.values()) / b,
        sum(verifies.values()) / b,
        per_replica_signs,
        per_replica_verifies,
    )


@given(
    n=st.integers(min_value=1, max_value=40),
    b=st.integers(min_value=1, max_value=64),
    k=st.sampled_from([1, 16, 64, 128]),
)
def test_counts_agree_with_a_message_by_message_walk(n: int, b: int, k: int) -> None:
    counts = normal_case_crypto_per_request(n=n, batch_size=b, checkpoint_interval=k)
    signs, verifies, replica_signs, replica_verifies = _count_by_enumeration(n, b, k)
    assert counts.cluster_signs == pytest.approx(signs)
    assert counts.cluster_verifies == pytest.approx(verifies)
    # Every replica does the same crypto work in the normal case.
    assert replica_signs == pytest.approx([counts.replica_signs] * n)
    assert replica_verifies == pytest.approx([counts.replica_verifies] * n)


def test_bound_is_the_inverse_of_the_crypto_time_per_request() -> None:
    rates = SchemeRates(scheme="ed25519", sign_per_s=100.0, verify_per_s=50.0)
    assert bound_requests_per_s(signs=1.0, verifies=1.0, rates=rates) == pytest.approx(100 / 3)
    assert bound_requests_per_s(signs=2.0, verifies=0.0, rates=rates) == pytest.approx(50.0)


def test_rate_runs_the_operation_and_reports_a_positive_rate() -> None:
    calls: list[None] = []
    rate = rate_per_s(lambda: calls.append(None), 0.001)
    assert len(calls) >= 2  # a warm-up call and at least one measured call
    assert rate > 0


def test_pbft_cli_wires_the_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert pbft_main(["bench", "crypto", "--seconds", "0.001", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 4
