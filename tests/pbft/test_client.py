"""Tests for the client core, driven by hand-built signed replies (OSDI '99 §4.1)."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import crypto
from pbft.client import RETRANSMIT_TIMER, Client, ClientStatus
from pbft.config import Config
from pbft.effects import Completed, Effect, Rejected, Send, StartTimer, StopTimer
from pbft.ids import ReplicaId, Seq, TimerName, View, replica_principal
from pbft.inputs import Received, Submit, TimerFired
from pbft.messages import Commit, Envelope, Reply, Request, sign, verify

SEED = b"seed"


def cluster(
    f: int = 1, **overrides: object
) -> tuple[Config, dict[str, crypto.Signer], crypto.Keyring]:
    config = Config.for_f(f, **overrides)
    principals = [*config.replica_principals, "c0", "c1"]
    signers, keyring = crypto.cluster_keys("fast", SEED, principals)
    return config, signers, keyring


class Harness:
    """A client plus the replicas' signers, to hand-build the replies it receives."""

    def __init__(self, f: int = 1, **overrides: object) -> None:
        self.config, self.signers, self.keyring = cluster(f, **overrides)
        self.client = Client(
            config=self.config, client="c0", signer=self.signers["c0"], keyring=self.keyring
        )
        self.now_s = 0.0

    def submit(self, operation: bytes = b"op") -> list[Effect]:
        return self.client.step(Submit(operation=operation), now_s=self.now_s)

    def reply(
        self,
        replica: int,
        result: bytes = b"ok",
        *,
        timestamp: int = 1,
        view: int = 0,
        client: str = "c0",
        signer: str | None = None,
    ) -> Envelope:
        payload = Reply(
            view=View(view),
            timestamp=timestamp,
            client=client,
            replica=ReplicaId(replica),
            result=result,
        )
        return sign(self.signers[signer or replica_principal(ReplicaId(replica))], payload)

    def deliver(self, envelope: Envelope) -> list[Effect]:
        return self.client.step(Received(envelope=envelope), now_s=self.now_s)

    def fire(self) -> list[Effect]:
        return self.client.step(TimerFired(timer=RETRANSMIT_TIMER), now_s=self.now_s)


def completed(effects: list[Effect]) -> list[Completed]:
    return [effect for effect in effects if isinstance(effect, Completed)]


def rejected(effects: list[Effect]) -> list[tuple[str, str]]:
    return [(e.sender, e.reason) for e in effects if isinstance(e, Rejected)]


def timer_of(effects: list[Effect]) -> StartTimer:
    (timer,) = [effect for effect in effects if isinstance(effect, StartTimer)]
    return timer


# --- requests ------------------------------------------------------------------------------


def test_first_request_is_signed_and_sent_to_the_primary_of_view_zero() -> None:
    """§4.1: the client sends <REQUEST, o, t, c>σc to the primary it believes current."""
    h = Harness(client_timeout_s=0.5, adaptive_timeouts=False)
    effects = h.submit(b"put x")
    assert len(effects) == 2
    send, timer = effects
    assert isinstance(send, Send)
    assert send.to == "r0"
    assert send.envelope.sender == "c0"
    assert send.envelope.payload == Request(client="c0", timestamp=1, operation=b"put x")
    assert verify(h.keyring, send.envelope)
    assert timer == StartTimer(timer=RETRANSMIT_TIMER, fires_at_s=0.5)
    assert h.client.busy


def test_timestamps_start_at_one_and_strictly_increase() -> None:
    h = Harness()
    stamps = []
    for t in range(1, 4):
        (send, _) = h.submit()
        assert isinstance(send, Send)
        assert isinstance(send.envelope.payload, Request)
        stamps.append(send.envelope.payload.timestamp)
        h.deliver(h.reply(0, timestamp=t))
        h.deliver(h.reply(1, timestamp=t))
        assert not h.client.busy
    assert stamps == [1, 2, 3]


def test_first_timestamp_can_be_chosen_for_a_restarted_client() -> None:
    config, signers, keyring = cluster()
    client = Client(
        config=config, client="c0", signer=signers["c0"], keyring=keyring, first_timestamp=100
    )
    (send, _) = client.step(Submit(operation=b"x"), now_s=0.0)
    assert isinstance(send, Send)
    assert isinstance(send.envelope.payload, Request)
    assert send.envelope.payload.timestamp == 100


def test_submit_while_a_request_is_outstanding_raises_value_error() -> None:
    h = Harness()
    h.submit()
    with pytest.raises(ValueError, match="already has request 1 outstanding"):
        h.submit()
    assert h.client.status().last_timestamp == 1


def test_submit_of_a_request_larger_than_a_frame_raises() -> None:
    h = Harness(max_frame_bytes=1024)
    with pytest.raises(ValueError, match="more than max_frame_bytes"):
        h.submit(b"x" * 1000)  # the envelope around it pushes the frame past 1024 bytes
    assert not h.client.busy
    assert h.client.status().last_timestamp == 0
    (send, _) = h.submit(b"x" * 900)
    assert isinstance(send, Send)


@pytest.mark.parametrize(
    ("client", "signer", "message"),
    [("r1", "r1", "invalid client id"), ("c1", "c0", "signer is 'c0', not client 'c1'")],
)
def test_client_refuses_a_bad_identity(client: str, signer: str, message: str) -> None:
    config, signers, keyring = cluster()
    with pytest.raises(ValueError, match=message):
        Client(config=config, client=client, signer=signers[signer], keyring=keyring)


# --- accepting results -----------------------------------------------------------------------


def test_f_plus_one_matching_replies_complete_the_request() -> None:
    """§4.1: f+1 replies from different replicas with the same t and r: accept r."""
    h = Harness()
    h.submit(b"op")
    assert h.deliver(h.reply(2, b"42")) == []
    effects = h.deliver(h.reply(3, b"42"))
    assert effects == [
        StopTimer(timer=RETRANSMIT_TIMER),
        Completed(client="c0", timestamp=1, operation=b"op", result=b"42"),
    ]
    assert not h.client.busy
    assert h.client.status().completed == 1


@pytest.mark.parametrize("f", [1, 2, 3])
def test_f_matching_replies_do_not_complete(f: int) -> None:
    h = Harness(f)
    h.submit()
    for replica in range(f):
        assert completed(h.deliver(h.reply(replica, b"r"))) == []
    assert h.client.busy
    assert completed(h.deliver(h.reply(f, b"r"))) != []


@pytest.mark.parametrize("f", [1, 2])
def test_f_liars_and_f_plus_one_honest_replicas_yield_the_honest_result(f: int) -> None:
    """The liars even agree with each other and answer first; f of them are not enough."""
    h = Harness(f)
    h.submit()
    effects: list[Effect] = []
    for liar in range(f):
        assert h.deliver(h.reply(liar, b"lie")) == []
    for honest in range(f, 2 * f + 1):
        effects = h.deliver(h.reply(honest, b"truth"))
    (done,) = completed(effects)
    assert done.result == b"truth"
    assert rejected(effects) == [(f"r{liar}", "wrong-result") for liar in range(f)]


def test_duplicate_replies_from_one_replica_count_once() -> None:
    h = Harness()
    h.submit()
    reply = h.reply(1, b"r")
    for _ in range(5):
        assert h.deliver(reply) == []
    assert h.client.busy
    assert h.client.status().duplicate_replies == 4
    assert completed(h.deliver(h.reply(2, b"r")))


def test_a_replica_that_changes_its_result_is_rejected_and_counted_once() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(1, b"a"))
    assert rejected(h.deliver(h.reply(1, b"b"))) == [("r1", "conflicting-reply")]
    assert completed(h.deliver(h.reply(2, b"b"))) == []  # r1's second word does not count
    assert completed(h.deliver(h.reply(3, b"b")))[0].result == b"b"


def test_replies_may_differ_in_view_and_still_match() -> None:
    """§4.1 matches replies on timestamp and result only."""
    h = Harness()
    h.submit()
    h.deliver(h.reply(1, b"r", view=0))
    assert completed(h.deliver(h.reply(2, b"r", view=1)))


# --- rejections ------------------------------------------------------------------------------


def test_bad_signature_is_rejected_and_counted() -> None:
    h = Harness()
    h.submit()
    forged = h.reply(1, b"r", signer="r2")  # r2 signs a reply that claims to be r1's
    relabelled = Envelope(sender="r1", payload=forged.payload, signature=forged.signature)
    assert rejected(h.deliver(relabelled)) == [("r1", "bad-signature")]
    garbage = Envelope(sender="r1", payload=forged.payload, signature=b"\x00" * 64)
    assert rejected(h.deliver(garbage)) == [("r1", "bad-signature")]
    assert h.client.rejections == {"bad-signature": 2}
    assert h.client.busy


def test_forged_replies_never_make_up_a_quorum() -> None:
    """One faulty replica cannot sign as a second one to reach f+1."""
    h = Harness()
    h.submit()
    h.deliver(h.reply(1, b"lie"))
    forged = h.reply(1, b"lie", signer="r1")
    as_r2 = Envelope(
        sender="r2",
        payload=Reply(view=View(0), timestamp=1, client="c0", replica=ReplicaId(2), result=b"lie"),
        signature=forged.signature,
    )
    assert rejected(h.deliver(as_r2)) == [("r2", "bad-signature")]
    assert h.client.busy


def test_reply_for_another_client_is_rejected() -> None:
    h = Harness()
    h.submit()
    assert rejected(h.deliver(h.reply(1, client="c1"))) == [("r1", "wrong-client")]
    assert h.client.status().rejections == {"wrong-client": 1}


def test_reply_from_a_principal_that_is_not_a_replica_is_rejected() -> None:
    h = Harness()
    h.submit()
    from_client = h.reply(1, signer="c1")
    as_client = Envelope(sender="c1", payload=from_client.payload, signature=from_client.signature)
    assert rejected(h.deliver(as_client)) == [("c1", "unknown-sender")]
    beyond_n = Envelope(sender="r9", payload=from_client.payload, signature=b"\x00" * 64)
    assert rejected(h.deliver(beyond_n)) == [("r9", "unknown-sender")]


def test_reply_whose_replica_field_is_not_its_signer_is_rejected() -> None:
    h = Harness()
    h.submit()
    assert rejected(h.deliver(h.reply(1, signer="r2"))) == [("r2", "replica-mismatch")]


def test_reply_for_a_request_never_sent_is_rejected() -> None:
    h = Harness()
    h.submit()
    assert rejected(h.deliver(h.reply(1, timestamp=2))) == [("r1", "future-timestamp")]
    idle = Harness()
    assert rejected(idle.deliver(idle.reply(1, timestamp=1))) == [("r1", "future-timestamp")]


def test_reply_below_the_first_timestamp_is_stale() -> None:
    config, signers, keyring = cluster()
    client = Client(
        config=config, client="c0", signer=signers["c0"], keyring=keyring, first_timestamp=10
    )
    client.step(Submit(operation=b"x"), now_s=0.0)
    old = sign(
        signers["r1"],
        Reply(view=View(0), timestamp=3, client="c0", replica=ReplicaId(1), result=b""),
    )
    effects = client.step(Received(envelope=old), now_s=0.0)
    assert rejected(effects) == [("r1", "stale-timestamp")]


def test_non_reply_messages_are_rejected() -> None:
    h = Harness()
    h.submit()
    commit = sign(
        h.signers["r1"],
        Commit(view=View(0), seq=Seq(1), digest=b"\x00" * 32, replica=ReplicaId(1)),
    )
    effects = h.deliver(commit)
    assert effects == [Rejected(sender="r1", reason="unexpected-message", detail="Commit")]


def test_late_replies_for_a_completed_request_are_counted_not_rejected() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(0, b"r"))
    h.deliver(h.reply(1, b"r"))
    assert h.deliver(h.reply(2, b"r")) == []
    h.submit()
    assert h.deliver(h.reply(3, b"r", timestamp=1)) == []  # still the tail of request 1
    status = h.client.status()
    assert status.late_replies == 2
    assert status.rejections == {}


def test_late_reply_that_contradicts_the_accepted_result_is_a_wrong_result() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(0, b"r"))
    h.deliver(h.reply(1, b"r"))
    assert rejected(h.deliver(h.reply(3, b"lie"))) == [("r3", "wrong-result")]


# --- retransmission and timeouts -----------------------------------------------------------------


def test_timeout_retransmits_to_all_replicas_and_doubles_the_timer() -> None:
    """§4.1: on timeout the client broadcasts the request to all replicas."""
    h = Harness(client_timeout_s=0.5, adaptive_timeouts=False, timeout_s_max=30.0)
    (send, first_timer) = h.submit()
    assert isinstance(send, Send)
    assert isinstance(first_timer, StartTimer)
    expected_fires = []
    timers = []
    for attempt in range(1, 4):
        h.now_s += 0.5 * 2 ** (attempt - 1)
        effects = h.fire()
        sends = [effect for effect in effects if isinstance(effect, Send)]
        assert [s.to for s in sends] == ["r0", "r1", "r2", "r3"]
        assert all(s.envelope == send.envelope for s in sends)
        timers.append(timer_of(effects).fires_at_s)
        expected_fires.append(h.now_s + 0.5 * 2**attempt)
    assert timers == pytest.approx(expected_fires)
    assert h.client.status().retransmissions == 3


def test_backoff_stops_at_timeout_s_max() -> None:
    h = Harness(client_timeout_s=1.0, adaptive_timeouts=False, timeout_s_max=3.0)
    h.submit()
    for _ in range(5):
        effects = h.fire()
    assert timer_of(effects).fires_at_s == pytest.approx(h.now_s + 3.0)


def test_completion_stops_the_timer_and_a_stale_expiry_does_nothing() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(0))
    effects = h.deliver(h.reply(1))
    assert StopTimer(timer=RETRANSMIT_TIMER) in effects
    assert h.fire() == []
    assert h.client.status().retransmissions == 0


def test_unknown_timer_is_a_programming_error() -> None:
    h = Harness()
    with pytest.raises(ValueError, match="never arms timer 'view-change'"):
        h.client.step(TimerFired(timer=TimerName("view-change")), now_s=0.0)


def test_backed_off_timer_is_kept_until_a_request_completes_on_its_first_attempt() -> None:
    """Karn's rule: a retransmitted request neither gives a sample nor resets the backoff."""
    h = Harness(client_timeout_s=1.0, adaptive_timeouts=False)
    h.submit()
    h.now_s = 1.0
    h.fire()
    h.deliver(h.reply(0))
    h.deliver(h.reply(1))
    assert timer_of(h.submit()).fires_at_s == pytest.approx(h.now_s + 2.0)
    h.deliver(h.reply(0, timestamp=2))
    h.deliver(h.reply(1, timestamp=2))
    assert timer_of(h.submit()).fires_at_s == pytest.approx(h.now_s + 1.0)


def test_adaptive_timeout_follows_the_latency_of_completed_requests() -> None:
    h = Harness(client_timeout_s=1.0, adaptive_timeouts=True, timeout_s_min=0.001)
    for t in range(1, 30):
        h.submit()
        h.now_s += 0.01
        h.deliver(h.reply(0, timestamp=t))
        h.deliver(h.reply(1, timestamp=t))
    # The estimate of a steady 10 ms latency is far below the 1 s initial timeout.
    assert h.client.status().timeout_s < 0.1
    assert timer_of(h.submit()).fires_at_s == pytest.approx(h.now_s + h.client.status().timeout_s)


def test_fixed_timeout_ignores_observed_latency() -> None:
    h = Harness(client_timeout_s=1.0, adaptive_timeouts=False)
    h.submit()
    h.now_s += 0.01
    h.deliver(h.reply(0))
    h.deliver(h.reply(1))
    assert h.client.status().timeout_s == 1.0


# --- views -----------------------------------------------------------------------------------


def test_client_follows_the_view_of_f_plus_one_replies_to_the_new_primary() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(1, view=2))
    h.deliver(h.reply(2, view=2))
    assert h.client.status().view == 2
    (send, _) = h.submit()
    assert isinstance(send, Send)
    assert send.to == "r2"  # primary of view 2 is replica 2 mod 4


def test_one_faulty_replica_cannot_move_the_view_estimate_on_its_own() -> None:
    h = Harness()
    h.submit()
    h.deliver(h.reply(3, view=1000))
    h.deliver(h.reply(1, view=0))
    assert h.client.status().view == 0


# --- status and robustness --------------------------------------------------------------------


def test_status_reports_progress() -> None:
    h = Harness(client_timeout_s=0.5, adaptive_timeouts=False)
    h.submit()
    status = h.client.status()
    assert status == ClientStatus(
        client="c0",
        view=View(0),
        last_timestamp=1,
        outstanding=1,
        completed=0,
        retransmissions=0,
        timeout_s=0.5,
        late_replies=0,
        duplicate_replies=0,
        rejections={},
    )


_, FUZZ_SIGNERS, FUZZ_KEYRING = cluster()


@st.composite
def arbitrary_replies(draw: st.DrawFn) -> Envelope:
    """Mostly well-formed replies, some with one field wrong or forged."""
    replica = draw(st.integers(min_value=0, max_value=3))
    fields = {
        "view": View(draw(st.integers(min_value=0, max_value=3))),
        "timestamp": draw(st.sampled_from([1, 1, 1, 2, 2, 3])),
        "client": "c0",
        "replica": ReplicaId(replica),
        "result": draw(st.sampled_from([b"a", b"a", b"b"])),
    }
    signer = replica_principal(ReplicaId(replica))
    sender: str | None = None
    match draw(st.sampled_from(["none", "none", "signer", "sender", "field"])):
        case "signer":
            signer = draw(st.sampled_from(["r0", "r1", "r2", "r3", "c1"]))
        case "sender":
            sender = draw(st.sampled_from(["r0", "r1", "r2", "r3", "r4", "c0", "c1"]))
        case "field":
            fields.update(
                draw(
                    st.sampled_from(
                        [
                            {"client": "c1"},
                            {"timestamp": 0},
                            {"timestamp": 9},
                            {"replica": ReplicaId((replica + 1) % 4)},
                            {"replica": ReplicaId(7)},
                        ]
                    )
                )
            )
        case _:
            pass
    envelope = sign(FUZZ_SIGNERS[signer], Reply(**fields))  # type: ignore[arg-type]
    if sender is not None:
        envelope = Envelope(sender=sender, payload=envelope.payload, signature=envelope.signature)
    return envelope


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(arbitrary_replies(), arbitrary_replies(), st.sampled_from(["submit", "timer"])),
        min_size=4,
        max_size=40,
    )
)
def test_client_never_raises_and_accepts_exactly_when_f_plus_one_valid_replies_agree(
    events: list[Envelope | str],
) -> None:
    """A reference model counts, per result, the distinct replicas whose first valid reply
    for the outstanding request carried it; the client must complete when and only when
    one result reaches f+1 in that model."""
    h = Harness()
    h.submit()
    first_votes: dict[str, bytes] = {}
    for item in events:
        h.now_s += 0.1
        if item == "submit":
            if not h.client.busy:
                h.submit()
                first_votes = {}
            continue
        if item == "timer":
            h.fire()
            continue
        assert isinstance(item, Envelope)
        outstanding = h.client.status().outstanding
        payload = item.payload
        assert isinstance(payload, Reply)
        valid = (
            outstanding is not None
            and item.sender in h.config.replica_principals
            and item.sender == replica_principal(payload.replica)
            and verify(h.keyring, item)
            and payload.client == "c0"
            and payload.timestamp == outstanding
        )
        if valid:
            first_votes.setdefault(item.sender, payload.result)
        support = max(
            (list(first_votes.values()).count(result) for result in set(first_votes.values())),
            default=0,
        )
        done = completed(h.deliver(item))
        if support >= h.config.weak_quorum and outstanding is not None:
            assert len(done) == 1
            assert done[0].timestamp == outstanding
            assert list(first_votes.values()).count(done[0].result) >= h.config.weak_quorum
            first_votes = {}
            event("a request completed")
        else:
            assert done == []
        assert h.client.busy == (h.client.status().outstanding is not None)
