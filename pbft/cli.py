"""The ``pbft`` command: run scenarios, benchmarks and key management.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``; this file only wires them up. Exit codes: 0 success, 1 an expectation
was not met, 2 invalid input (bad arguments, invalid scenario file), 130 interrupted; output
cut short by a closed pipe (``| head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

# (command, module, help). Benchmarks nest one level deeper: ``pbft bench crypto``.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "pbft.scenario.command", "run scenario files in the simulator and judge them"),
    ("keys", "crypto.command", "generate and inspect key files"),
)
BENCHMARKS: tuple[tuple[str, str, str], ...] = (
    ("crypto", "pbft.bench.crypto", "sign/verify/encode/decode rates for both schemes"),
    ("sim", "pbft.bench.sim", "simulated throughput against the crypto bound"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse returns NoReturn
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pbft",
        description="PBFT: Byzantine fault tolerant state machine replication, "
        "with a deterministic simulator and an adversary.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in COMMANDS:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(module=module, command_parser=sub)
        _load(module).add_arguments(sub)
    bench = commands.add_parser(
        "bench",
        help="print performance figures for this machine",
        description="Print performance figures for this machine (never part of the tests).",
    )
    bench.set_defaults(help_parser=bench, command_parser=bench)
    benchmarks = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK", parser_class=_Parser)
    for name, module, help_text in BENCHMARKS:
        sub = benchmarks.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(module=module, command_parser=sub)
        _load(module).add_arguments(sub)
    return parser


def _load(module: str) -> ModuleType:
    return importlib.import_module(module)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        # parse_args would blame the top-level parser and print its usage; the subcommand's
        # usage is the one that shows what it does accept.
        command_parser: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    module = getattr(args, "module", None)
    if module is None:
        getattr(args, "help_parser", parser).print_help(sys.stderr)
        return 2
    try:
        code: int = _load(module).main(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`pbft run ... | head`): stop quietly, as a SIGPIPE'd tool
        # would, and point stdout at devnull so the flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
