"""``pbft bench crypto``: sign, verify, encode and decode rates, and the crypto bound.

Every PBFT message is signed here (no MAC authenticators, see docs/crypto.md), so signing
and verifying bound throughput. This benchmark measures both schemes on a typical small
message (the signing bytes of a Prepare), the codec on a signed Prepare and on a PrePrepare
carrying a 10-request batch, and turns the rates into the requests per second that signing
and verifying alone would allow in PBFT's normal case (:func:`normal_case_crypto_per_request`).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial

import attrs
from rich.console import Console
from rich.table import Table

import crypto
from pbft.config import Config
from pbft.ids import ReplicaId, Seq, View
from pbft.messages import (
    Prepare,
    PrePrepare,
    Request,
    batch_digest,
    decode,
    encode,
    sign,
    signing_bytes,
)

SECONDS_DEFAULT = 1.0
SECONDS_MAX = 600.0
BOUND_BATCH_SIZES = (1, 10)
_CLUSTER_SEED = b"pbft-bench-crypto"


@attrs.frozen(kw_only=True)
class CryptoPerRequest:
    """Signatures made and checked per client request, amortized over a batch.

    ``cluster_*`` counts every node, clients included (what one process simulating the whole
    cluster pays); ``replica_*`` counts one replica (every replica does the same work in the
    normal case, so it is also the busiest one's).
    """

    batch_size: int
    cluster_signs: float
    cluster_verifies: float
    replica_signs: float
    replica_verifies: float


@attrs.frozen(kw_only=True)
class SchemeRates:
    scheme: str
    sign_per_s: float
    verify_per_s: float


@attrs.frozen(kw_only=True)
class CodecRates:
    name: str
    size_bytes: int
    encode_per_s: float
    decode_per_s: float


@attrs.frozen(kw_only=True)
class BoundRow:
    scheme: str
    batch_size: int
    cluster_requests_per_s: float
    replica_requests_per_s: float


@attrs.frozen(kw_only=True)
class Results:
    """Every figure of the benchmark; ``attrs.asdict`` of it is what ``--json`` prints."""

    python: str
    machine: str
    seconds_per_measurement: float
    message_bytes: int
    schemes: tuple[SchemeRates, ...]
    codec: tuple[CodecRates, ...]
    n: int
    f: int
    checkpoint_interval: int
    per_request: tuple[CryptoPerRequest, ...]
    bound: tuple[BoundRow, ...]


def normal_case_crypto_per_request(
    *, n: int, batch_size: int, checkpoint_interval: int
) -> CryptoPerRequest:
    """Count signs and verifies per request of PBFT's normal case (OSDI '99 §4.2, §4.3).

    Per batch of b requests, with every message signed by its sender and verified once by
    each receiver: clients sign b requests; the primary verifies them, signs one PRE-PREPARE,
    and each of the n-1 backups verifies it with its b requests; n-1 backups sign a PREPARE
    that n-1 replicas verify; n replicas sign a COMMIT that n-1 replicas verify; each replica
    signs a REPLY per request that its client verifies; and once per checkpoint interval K the
    n replicas sign a CHECKPOINT that n-1 replicas verify. Derivation in docs/crypto.md.
    """
    assert n >= 1
    assert batch_size >= 1
    assert checkpoint_interval >= 1
    b = float(batch_size)
    k = float(checkpoint_interval)
    cluster_signs_per_batch = b + 1 + (n - 1) + n + n * b + n / k
    cluster_verifies_per_batch = (
        b + (n - 1) * (1 + b) + (n - 1) ** 2 + n * (n - 1) + n * b + n * (n - 1) / k
    )
    replica_signs_per_batch = 2 + b + 1 / k
    replica_verifies_per_batch = b + 2 * (n - 1) + (n - 1) / k
    return CryptoPerRequest(
        batch_size=batch_size,
        cluster_signs=cluster_signs_per_batch / b,
        cluster_verifies=cluster_verifies_per_batch / b,
        replica_signs=replica_signs_per_batch / b,
        replica_verifies=replica_verifies_per_batch / b,
    )


def bound_requests_per_s(*, signs: float, verifies: float, rates: SchemeRates) -> float:
    """Requests per second if ``signs`` signs and ``verifies`` verifies were all the work."""
    return 1.0 / (signs / rates.sign_per_s + verifies / rates.verify_per_s)


def rate_per_s(operation: Callable[[], object], seconds: float) -> float:
    """How many times per second ``operation`` runs, measured for about ``seconds``."""
    operation()  # warm caches and lazy imports outside the measurement
    count = 0
    rounds = 1
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        round_start = time.perf_counter()
        for _ in range(rounds):
            operation()
        now = time.perf_counter()
        count += rounds
        if now >= deadline:
            return count / (now - start)
        # Grow rounds until one takes ~10 ms, so the clock is read rarely but the
        # measurement still ends close to its deadline.
        if now - round_start < 0.01:
            rounds *= 2


def typical_prepare() -> Prepare:
    """The most frequent message of the normal case, with realistic field sizes."""
    return Prepare(view=View(0), seq=Seq(1), digest=crypto.digest(b"batch"), replica=ReplicaId(1))


def typical_pre_prepare(signer: crypto.Signer, batch_size: int) -> PrePrepare:
    """A pre-prepare of ``batch_size`` signed requests of ~30-byte key-value operations."""
    batch = tuple(
        sign(signer, Request(client=signer.principal, timestamp=t, operation=_operation(t)))
        for t in range(1, batch_size + 1)
    )
    return PrePrepare(view=View(0), seq=Seq(1), digest=batch_digest(batch), batch=batch)


def _operation(timestamp: int) -> bytes:
    return f"put key-{timestamp:04} value-{timestamp}".encode()


def measure(seconds: float) -> Results:
    """Run every measurement for about ``seconds`` each (8 measurements)."""
    config = Config.for_f(1)
    principals = [*config.replica_principals, "c0"]
    prepare = typical_prepare()
    message = signing_bytes(prepare)

    schemes = []
    for scheme in crypto.SCHEMES:
        signers, keyring = crypto.cluster_keys(scheme, _CLUSTER_SEED, principals)
        signature = signers["r1"].sign(message)
        assert keyring.verify("r1", message, signature)
        schemes.append(
            SchemeRates(
                scheme=scheme,
                sign_per_s=rate_per_s(partial(signers["r1"].sign, message), seconds),
                verify_per_s=rate_per_s(partial(keyring.verify, "r1", message, signature), seconds),
            )
        )

    signers, _ = crypto.cluster_keys("ed25519", _CLUSTER_SEED, principals)
    pre_prepare = typical_pre_prepare(signers["c0"], config.batch_size_max)
    envelopes = {
        "Prepare": sign(signers["r1"], prepare),
        f"PrePrepare ({config.batch_size_max} requests)": sign(signers["r0"], pre_prepare),
    }
    codec = []
    for name, envelope in envelopes.items():
        data = encode(envelope)
        assert decode(data) == envelope
        codec.append(
            CodecRates(
                name=name,
                size_bytes=len(data),
                encode_per_s=rate_per_s(partial(encode, envelope), seconds),
                decode_per_s=rate_per_s(partial(decode, data), seconds),
            )
        )

    per_request = tuple(
        normal_case_crypto_per_request(
            n=config.n, batch_size=batch_size, checkpoint_interval=config.checkpoint_interval
        )
        for batch_size in BOUND_BATCH_SIZES
    )
    bound = []
    for rates in schemes:
        for counts in per_request:
            bound.append(
                BoundRow(
                    scheme=rates.scheme,
                    batch_size=counts.batch_size,
                    cluster_requests_per_s=bound_requests_per_s(
                        signs=counts.cluster_signs,
                        verifies=counts.cluster_verifies,
                        rates=rates,
                    ),
                    replica_requests_per_s=bound_requests_per_s(
                        signs=counts.replica_signs,
                        verifies=counts.replica_verifies,
                        rates=rates,
                    ),
                )
            )
    return Results(
        python=platform.python_version(),
        machine=platform.machine(),
        seconds_per_measurement=seconds,
        message_bytes=len(message),
        schemes=tuple(schemes),
        codec=tuple(codec),
        n=config.n,
        f=config.f,
        checkpoint_interval=config.checkpoint_interval,
        per_request=per_request,
        bound=tuple(bound),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds",
        type=_seconds,
        default=SECONDS_DEFAULT,
        metavar="S",
        help=f"time each of the 8 measurements for S seconds (default {SECONDS_DEFAULT})",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def main(args: argparse.Namespace) -> int:
    results = measure(args.seconds)
    if args.json:
        print(json.dumps(attrs.asdict(results), indent=2))
    else:
        render(results, Console(highlight=False))
    return 0


def render(results: Results, console: Console) -> None:
    """Print the tables: signature rates, codec rates, per-request counts, crypto bound."""
    console.print(
        f"Python {results.python} on {results.machine}, "
        f"{results.seconds_per_measurement:g} s per measurement"
    )
    schemes = Table(title=f"Signing a {results.message_bytes}-byte Prepare")
    schemes.add_column("scheme")
    schemes.add_column("sign/s", justify="right")
    schemes.add_column("verify/s", justify="right")
    for rates in results.schemes:
        schemes.add_row(rates.scheme, _rate(rates.sign_per_s), _rate(rates.verify_per_s))
    console.print(schemes)

    codec = Table(title="Codec: signed envelopes")
    codec.add_column("message")
    codec.add_column("bytes", justify="right")
    codec.add_column("encode/s", justify="right")
    codec.add_column("decode/s", justify="right")
    for message in results.codec:
        codec.add_row(
            message.name,
            str(message.size_bytes),
            _rate(message.encode_per_s),
            _rate(message.decode_per_s),
        )
    console.print(codec)

    counts = Table(
        title=f"Signs/verifies per request (n={results.n}, f={results.f}, "
        f"K={results.checkpoint_interval})"
    )
    counts.add_column("batch", justify="right")
    for header in ("cluster\nsigns", "cluster\nverifies", "replica\nsigns", "replica\nverifies"):
        counts.add_column(header, justify="right")
    for row in results.per_request:
        counts.add_row(
            str(row.batch_size),
            f"{row.cluster_signs:.2f}",
            f"{row.cluster_verifies:.2f}",
            f"{row.replica_signs:.2f}",
            f"{row.replica_verifies:.2f}",
        )
    console.print(counts)

    bound = Table(title="Crypto bound (normal case)")
    bound.add_column("scheme")
    bound.add_column("batch", justify="right")
    bound.add_column("whole cluster\nrequests/s", justify="right")
    bound.add_column("one replica\nrequests/s", justify="right")
    for limit in results.bound:
        bound.add_row(
            limit.scheme,
            str(limit.batch_size),
            _rate(limit.cluster_requests_per_s),
            _rate(limit.replica_requests_per_s),
        )
    console.print(bound)
    console.print(
        "Crypto bound: requests/s if signing and verifying were all the work.\n"
        "cluster / whole cluster: every node's crypto on one core, as in the simulator.\n"
        "replica / one replica: each replica on its own core, clients elsewhere.\n"
        "Counts and assumptions: docs/crypto.md."
    )


def _rate(per_s: float) -> str:
    return f"{per_s:,.0f}"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= SECONDS_MAX:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {SECONDS_MAX:g}, got {text}")
    return value
