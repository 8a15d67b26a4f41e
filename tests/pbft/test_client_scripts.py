"""Golden interaction scripts for the client core (in the manner of raft's datadriven tests).

Each file under ``tests/pbft/testdata/client/`` is a story: unindented lines are inputs fed to
a fresh client of an n = 4, f = 1 cluster (fixed timeout 1 s unless a ``config`` line says
otherwise), and the indented lines under each input are the effects the client returned, in
order. The test replays the inputs and compares the whole rendering with the file, so a change
in behaviour shows up as a readable diff. After a deliberate change, regenerate the files with
``PBFT_REWRITE_GOLDEN=1 .venv/bin/python -m pytest tests/pbft/test_client_scripts.py`` and
review the diff like code.

Input lines (``#`` starts a comment):

    config <field>=<value> ...          Config overrides, before any other input
    at <t> submit <operation text>
    at <t> fire                         the retransmission timer expired
    at <t> reply r<i> t=<ts> result=<text> [view=<v>] [client=<c>] [signer=<principal>]
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import crypto
from pbft.client import RETRANSMIT_TIMER, Client
from pbft.config import Config
from pbft.effects import Completed, Effect, Rejected, Send, StartTimer, StopTimer
from pbft.ids import ReplicaId, View
from pbft.inputs import Received, Submit, TimerFired
from pbft.messages import Envelope, Reply, Request, sign

TESTDATA = Path(__file__).parent / "testdata" / "client"
REWRITE = os.environ.get("PBFT_REWRITE_GOLDEN") == "1"


def render(effect: Effect) -> str:
    match effect:
        case Send(to=to, envelope=Envelope(payload=Request() as request)):
            operation = request.operation.decode()
            return f"Send to={to} Request t={request.timestamp} operation={operation}"
        case StartTimer(timer=timer, fires_at_s=fires_at_s):
            return f"StartTimer {timer} fires_at={fires_at_s:.3f}"
        case StopTimer(timer=timer):
            return f"StopTimer {timer}"
        case Completed(timestamp=timestamp, result=result):
            return f"Completed t={timestamp} result={result.decode()}"
        case Rejected(sender=sender, reason=reason, detail=detail):
            return f"Rejected sender={sender} reason={reason} {detail}".rstrip()
        case _:
            return f"unexpected effect {effect!r}"


def parse_fields(words: list[str]) -> dict[str, str]:
    return dict(word.split("=", 1) for word in words)


def parse_value(text: str) -> bool | int | float:
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() else float(text)


def run_script(text: str) -> str:
    """Replay the inputs of a script and return it with freshly rendered effects."""
    lines = [line for line in text.splitlines() if not line.startswith("  ")]
    overrides: dict[str, object] = {"adaptive_timeouts": False, "client_timeout_s": 1.0}
    output: list[str] = []
    client: Client | None = None
    signers: dict[str, crypto.Signer] = {}
    for line in lines:
        output.append(line)
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "config":
            assert client is None, "config must come before the first input"
            for key, value in parse_fields(words[1:]).items():
                overrides[key] = parse_value(value)
            continue
        if client is None:
            config = Config.for_f(1, **overrides)
            signers, keyring = crypto.cluster_keys(
                "fast", b"golden", [*config.replica_principals, "c0", "c1"]
            )
            client = Client(config=config, client="c0", signer=signers["c0"], keyring=keyring)
        assert words[0] == "at", f"input lines start with 'at <time>': {line!r}"
        now_s = float(words[1])
        match words[2]:
            case "submit":
                effects = client.step(Submit(operation=" ".join(words[3:]).encode()), now_s=now_s)
            case "fire":
                effects = client.step(TimerFired(timer=RETRANSMIT_TIMER), now_s=now_s)
            case "reply":
                replica = words[3]
                fields = parse_fields(words[4:])
                payload = Reply(
                    view=View(int(fields.get("view", "0"))),
                    timestamp=int(fields["t"]),
                    client=fields.get("client", "c0"),
                    replica=ReplicaId(int(replica[1:])),
                    result=fields["result"].encode(),
                )
                envelope = sign(signers[fields.get("signer", replica)], payload)
                if "signer" in fields:
                    envelope = Envelope(
                        sender=replica, payload=payload, signature=envelope.signature
                    )
                effects = client.step(Received(envelope=envelope), now_s=now_s)
            case other:
                raise AssertionError(f"unknown input {other!r} in {line!r}")
        output.extend(f"  {render(effect)}" for effect in effects)
    return "\n".join(output) + "\n"


def scripts() -> list[Path]:
    return sorted(TESTDATA.glob("*.txt"))


def test_there_are_scripts_to_replay() -> None:
    assert len(scripts()) >= 3


@pytest.mark.parametrize("path", scripts(), ids=lambda path: path.stem)
def test_client_script_replays_to_its_recorded_effects(path: Path) -> None:
    expected = path.read_text(encoding="utf-8")
    actual = run_script(expected)
    if REWRITE:
        path.write_text(actual, encoding="utf-8")
    assert actual == expected


def test_a_script_with_a_wrong_effect_fails() -> None:
    """The comparison is real: a script that records a wrong effect does not replay."""
    script = "at 0 submit x\n  Send to=r1 Request t=1 operation=x\n"
    assert run_script(script) != script
