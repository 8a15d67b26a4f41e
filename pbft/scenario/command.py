"""``pbft run``: run scenario files in the simulator and judge them, or re-judge a trace.

Exit status: 0 when every run met its expectations, 1 when one did not, 2 for invalid input
(an invalid scenario file, an unreadable trace, bad arguments). With ``--trace OUT`` and more
than one run, OUT names a directory (when it exists or ends in a slash) that receives
``<scenario>-seed<seed>.jsonl``, or a file name that gets ``-<scenario>-seed<seed>`` before its
suffix (docs/scenarios.md, "Running").
"""

from __future__ import annotations

import argparse
import errno
import json
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pbft.config import ConfigError
from pbft.scenario.checkers import JudgeError
from pbft.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from pbft.scenario.model import Scenario
from pbft.scenario.report import print_report, result_to_json
from pbft.scenario.run import RunResult, judge_trace, run_scenario
from pbft.trace.io import read_trace, write_trace
from pbft.trace.records import Record, RunStarted, TraceFormatError

BUILTIN = "quickstart.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="scenario files (TOML); without any, the built-in quickstart runs",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=None,
        metavar="N",
        help="run with seed N instead of the file's seed",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        metavar="K",
        help="run each file K times, with seeds N, N+1, ... (N: --seed or the file's seed)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per run (JSON lines)"
    )
    parser.add_argument(
        "--trace",
        metavar="OUT",
        type=_not_empty,
        default=None,
        help="write the JSON-lines trace to OUT (several runs: see the naming rule)",
    )
    parser.add_argument(
        "--wire",
        action="store_true",
        help="encode and strictly decode every delivered message, as a real network would",
    )
    parser.add_argument(
        "--judge",
        metavar="TRACE",
        type=_not_empty,
        default=None,
        help="re-judge a saved trace instead of running; FILE, if given, supplies [expect]",
    )


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**64 - 1, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value


def _not_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file, got an empty string")
    return text


def _is_device(path: str) -> bool:
    """True for /dev/zero and friends: reading one may never end (pipes and files are fine)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False  # read_trace reports a missing or unreadable file with its reason
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def main(args: argparse.Namespace) -> int:
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if args.judge is not None:
        return _judge(args, out, err)
    try:
        scenarios = [load_scenario(path) for path in args.files] or [builtin_quickstart()]
    except ScenarioError as error:
        err.print(f"[red]invalid scenario[/] {escape(str(error))}", markup=True)
        return 2
    runs = [
        (scenario, seed)
        for scenario in scenarios
        for seed in _seeds(scenario, args.seed, args.repeat)
    ]
    traces = trace_paths(args.trace, runs)
    show_progress = not args.json and out.is_terminal
    passed = True
    for (scenario, seed), trace_path in zip(runs, traces, strict=True):
        try:
            with _progress(err, scenario, seed, enabled=show_progress) as on_progress:
                result = run_scenario(scenario, seed, on_progress=on_progress, wire=args.wire)
        except (ConfigError, ValueError) as error:
            err.print(f"cannot run {scenario.source}: {error}", markup=False)
            return 2
        if trace_path is not None:
            try:
                _write(trace_path, result)
            except OSError as error:
                err.print(f"cannot write trace {trace_path}: {error.strerror}", markup=False)
                return 2
        _emit(out, result, as_json=args.json, trace_path=trace_path)
        passed = passed and result.passed
    return 0 if passed else 1


def _judge(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.trace is not None or args.repeat != 1 or args.seed is not None or args.wire:
        err.print("pbft run: --judge cannot be combined with --trace, --seed, --repeat or --wire")
        return 2
    if _is_device(args.judge):
        err.print(f"cannot judge {args.judge}: a device, not a trace file", markup=False)
        return 2
    if len(args.files) > 1:
        err.print(
            "pbft run: --judge takes at most one scenario FILE (for its [expect])", markup=False
        )
        return 2
    try:
        scenario = load_scenario(args.files[0]) if args.files else None
        records = read_trace(args.judge)
        result = judge_trace(records, scenario)
    except (ScenarioError, TraceFormatError) as error:
        err.print(f"cannot judge: {error}", markup=False)  # the message names the file
        return 2
    except JudgeError as error:
        err.print(f"cannot judge {args.judge}: {error}", markup=False)
        return 2
    if scenario is not None and (mismatch := cluster_mismatch(records, scenario)) is not None:
        err.print(f"cannot judge {args.judge} against {scenario.source}: {mismatch}", markup=False)
        return 2
    _emit(out, result, as_json=args.json, trace_path=None)
    return 0 if result.passed else 1


def _emit(out: Console, result: RunResult, *, as_json: bool, trace_path: Path | None) -> None:
    if as_json:
        # Plain print: rich would wrap long lines and break the one-object-per-line contract.
        sys.stdout.write(json.dumps(result_to_json(result), sort_keys=True) + "\n")
        sys.stdout.flush()
    else:
        print_report(out, result, trace_path=None if trace_path is None else str(trace_path))


def cluster_mismatch(records: Sequence[Record], scenario: Scenario) -> str | None:
    """Why ``scenario`` cannot judge a trace of another cluster, or None when it can.

    The checkers count quorums and correct replicas from the trace, and the report prints
    them from the scenario: a FILE for a different n, f or set of Byzantine replicas would
    give a verdict about neither run.
    """
    started = next(record for record in records if isinstance(record, RunStarted))
    byzantine = tuple(sorted(f"r{entry.replica}" for entry in scenario.byzantine))
    ours = (scenario.cluster.size, scenario.cluster.f, byzantine)
    theirs = (started.n, started.f, tuple(sorted(started.faulty)))
    if ours == theirs:
        return None
    return (
        f"the trace is of n={theirs[0]} f={theirs[1]} Byzantine [{', '.join(theirs[2])}] "
        f"(scenario {started.scenario!r}), the file describes n={ours[0]} f={ours[1]} "
        f"Byzantine [{', '.join(ours[2])}]"
    )


def _write(path: Path, result: RunResult) -> None:
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        # mkdir would report "File exists", which hides what is wrong.
        raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a directory")
    if parent != Path(""):
        parent.mkdir(parents=True, exist_ok=True)
    write_trace(path, result.records)


def _seeds(scenario: Scenario, seed: int | None, repeat: int) -> list[int]:
    first = scenario.seed if seed is None else seed
    return [(first + i) % 2**64 for i in range(repeat)]


def trace_paths(out: str | None, runs: list[tuple[Scenario, int]]) -> list[Path | None]:
    """Where each run's trace goes under the documented naming rule (None: not written)."""
    if out is None:
        return [None] * len(runs)
    target = Path(out)
    as_directory = out.endswith(("/", "\\")) or target.is_dir()
    if len(runs) == 1 and not as_directory:
        return [target]
    paths: list[Path | None] = []
    used: set[Path] = set()
    for scenario, seed in runs:
        label = _safe(scenario.name)
        path = _named(target, as_directory, f"{label}-seed{seed}")
        copy = 2
        while path in used:
            path = _named(target, as_directory, f"{label}-{copy}-seed{seed}")
            copy += 1
        used.add(path)
        paths.append(path)
    return paths


def _named(target: Path, as_directory: bool, label: str) -> Path:
    if as_directory:
        return target / f"{label}.jsonl"
    suffix = target.suffix or ".jsonl"
    return target.with_name(f"{target.stem}-{label}{suffix}")


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned or "scenario"


def builtin_quickstart() -> Scenario:
    """The quickstart scenario shipped inside the package (equal to scenarios/quickstart.toml)."""
    import tomllib

    text = resources.files("pbft.scenario").joinpath("builtin", BUILTIN).read_text("utf-8")
    return scenario_from_dict(tomllib.loads(text), source=f"<built-in>/{BUILTIN}")


@contextmanager
def _progress(
    console: Console, scenario: Scenario, seed: int, *, enabled: bool
) -> Iterator[Callable[[float], None] | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.1f}/{task.total:.0f} virtual s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(
            f"{escape(scenario.name)} seed {seed}", total=scenario.expect.within_s
        )

        def on_progress(now_s: float) -> None:
            progress.update(task, completed=min(now_s, scenario.expect.within_s))

        yield on_progress
