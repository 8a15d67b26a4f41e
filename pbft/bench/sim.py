"""``pbft bench sim``: simulated throughput set against the crypto bound.

For batch sizes 1, 10 and 100 this runs a healthy n = 4, f = 1 cluster with Ed25519
signatures in the simulator and counts the requests clients saw complete per wall-clock
second and per CPU second. In the same process it measures Ed25519 sign and verify rates and
turns them into the *crypto bound*: the requests per second that the signing and verifying of
PBFT's normal case alone would allow when one process plays the whole cluster, as the
simulator does (per-request counts: :func:`pbft.bench.crypto.normal_case_crypto_per_request`,
formula in docs/simulator.md). The ratio says how much of the time goes to anything but
crypto: the protocol cores, the codec, the simulator.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import time
from functools import partial

import attrs
from rich.console import Console
from rich.table import Table

import crypto
from pbft.bench.crypto import (
    SchemeRates,
    bound_requests_per_s,
    normal_case_crypto_per_request,
    rate_per_s,
    typical_prepare,
)
from pbft.config import Config
from pbft.messages import signing_bytes
from pbft.scenario.model import (
    ClusterSpec,
    Delay,
    ExpectSpec,
    LinkModel,
    NetworkSpec,
    Scenario,
    WorkloadSpec,
)
from pbft.sim import simulate
from pbft.trace import records as rec

BATCH_SIZES = (1, 10, 100)
REQUESTS_DEFAULT = 2000
SECONDS_DEFAULT = 0.5
SEED = 1
_CLUSTER_SEED = b"pbft-bench-sim"


@attrs.frozen(kw_only=True)
class SimRow:
    """One simulated run and the crypto bound at its batch size."""

    batch_size: int
    clients: int
    requests: int
    completed: int
    virtual_s: float
    wall_s: float
    cpu_s: float
    requests_per_wall_s: float
    requests_per_cpu_s: float
    signs_per_request: float
    verifies_per_request: float
    bound_requests_per_s: float
    ratio: float  # requests_per_cpu_s / bound_requests_per_s


@attrs.frozen(kw_only=True)
class Results:
    """Every figure of the benchmark; ``attrs.asdict`` of it is what ``--json`` prints."""

    python: str
    machine: str
    n: int
    f: int
    checkpoint_interval: int
    sign_per_s: float
    verify_per_s: float
    rows: tuple[SimRow, ...]
    profile: str


def bench_scenario(*, batch_size: int, requests: int) -> Scenario:
    """A healthy n = 4 cluster with enough clients to fill batches of ``batch_size``."""
    config = Config.for_f(1)
    clients = max(4, batch_size)
    return Scenario(
        name=f"bench-sim-batch-{batch_size}",
        seed=SEED,
        cluster=ClusterSpec(
            f=1,
            batch_size=batch_size,
            batch_delay_s=0.002,
            checkpoint_interval=config.checkpoint_interval,
            window=config.window_size,
            crypto="ed25519",
            app="kv",
        ),
        network=NetworkSpec(after=LinkModel(delay=Delay(dist="fixed", value_s=0.001))),
        workload=WorkloadSpec(
            clients=clients,
            requests=max(1, requests // clients),
            client_timeout_s=1.0,
            mix=(("put", 0.5), ("get", 0.5)),
        ),
        expect=ExpectSpec(within_s=3600.0),
    )


def measure(
    *, requests: int, seconds: float, batch_sizes: tuple[int, ...] = BATCH_SIZES, profile: bool
) -> Results:
    """Measure the crypto rates, then simulate each batch size once."""
    config = Config.for_f(1)
    signers, keyring = crypto.cluster_keys("ed25519", _CLUSTER_SEED, ["r1"])
    message = signing_bytes(typical_prepare())
    signature = signers["r1"].sign(message)
    rates = SchemeRates(
        scheme="ed25519",
        sign_per_s=rate_per_s(partial(signers["r1"].sign, message), seconds),
        verify_per_s=rate_per_s(partial(keyring.verify, "r1", message, signature), seconds),
    )
    rows = []
    profile_text = ""
    for batch_size in batch_sizes:
        scenario = bench_scenario(batch_size=batch_size, requests=requests)
        profiler = cProfile.Profile() if profile and batch_size == max(batch_sizes) else None
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        run = simulate(scenario)
        if profiler is not None:
            profiler.disable()
        wall_s = time.perf_counter() - wall_start
        cpu_s = time.process_time() - cpu_start
        if profiler is not None:
            profile_text = _hot_spots(profiler)
        completed = sum(1 for record in run.records if isinstance(record, rec.Completed))
        counts = normal_case_crypto_per_request(
            n=config.n, batch_size=batch_size, checkpoint_interval=config.checkpoint_interval
        )
        bound = bound_requests_per_s(
            signs=counts.cluster_signs, verifies=counts.cluster_verifies, rates=rates
        )
        per_cpu_s = completed / cpu_s if cpu_s > 0 else 0.0
        rows.append(
            SimRow(
                batch_size=batch_size,
                clients=scenario.workload.clients,
                requests=scenario.workload.clients * scenario.workload.requests,
                completed=completed,
                virtual_s=run.end_time_s,
                wall_s=wall_s,
                cpu_s=cpu_s,
                requests_per_wall_s=completed / wall_s if wall_s > 0 else 0.0,
                requests_per_cpu_s=per_cpu_s,
                signs_per_request=counts.cluster_signs,
                verifies_per_request=counts.cluster_verifies,
                bound_requests_per_s=bound,
                ratio=per_cpu_s / bound,
            )
        )
    return Results(
        python=platform.python_version(),
        machine=platform.machine(),
        n=config.n,
        f=config.f,
        checkpoint_interval=config.checkpoint_interval,
        sign_per_s=rates.sign_per_s,
        verify_per_s=rates.verify_per_s,
        rows=tuple(rows),
        profile=profile_text,
    )


def _hot_spots(profiler: cProfile.Profile, limit: int = 20) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests",
        type=_positive_int,
        default=REQUESTS_DEFAULT,
        metavar="N",
        help=f"requests per run, spread over the clients (default {REQUESTS_DEFAULT})",
    )
    parser.add_argument(
        "--seconds",
        type=_seconds,
        default=SECONDS_DEFAULT,
        metavar="S",
        help=f"time the sign and verify measurements for S seconds each "
        f"(default {SECONDS_DEFAULT})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the largest batch size (cProfile) and print the hot spots",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def main(args: argparse.Namespace) -> int:
    results = measure(requests=args.requests, seconds=args.seconds, profile=args.profile)
    if args.json:
        print(json.dumps(attrs.asdict(results), indent=2))
    else:
        render(results, Console(highlight=False))
    return 0


def render(results: Results, console: Console) -> None:
    """Print the table of runs against the crypto bound (and the profile, if taken)."""
    console.print(
        f"Python {results.python} on {results.machine}; Ed25519 sign/s "
        f"{_rate(results.sign_per_s)}, verify/s {_rate(results.verify_per_s)}"
    )
    table = Table(
        title=f"Simulated throughput vs crypto bound "
        f"(n={results.n}, f={results.f}, ed25519, K={results.checkpoint_interval})"
    )
    for header in (
        "batch",
        "done",
        "virtual\ns",
        "req/\nwall-s",
        "req/\nCPU-s",
        "sign/\nreq",
        "verify/\nreq",
        "crypto\nbound\nreq/s",
        "ratio",
    ):
        table.add_column(header, justify="right")
    for row in results.rows:
        table.add_row(
            str(row.batch_size),
            str(row.completed),
            f"{row.virtual_s:.2f}",
            _rate(row.requests_per_wall_s),
            _rate(row.requests_per_cpu_s),
            f"{row.signs_per_request:.2f}",
            f"{row.verifies_per_request:.2f}",
            _rate(row.bound_requests_per_s),
            f"{row.ratio:.2f}",
        )
    console.print(table)
    console.print(
        "ratio = requests per CPU-second / crypto bound; the bound counts every node's "
        "signing and verifying on one core (docs/simulator.md)."
    )
    if results.profile:
        console.print(f"Hot spots at batch {results.rows[-1].batch_size}:")
        console.print(results.profile, markup=False, soft_wrap=True)


def _rate(per_s: float) -> str:
    return f"{per_s:,.0f}"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10000000, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 600:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 600, got {text}")
    return value
