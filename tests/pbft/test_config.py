"""Cluster configuration: quorum arithmetic and validation (OSDI '99 §4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.config import Config, ConfigError, max_faulty, quorum_size
from pbft.ids import View


@given(n=st.integers(min_value=1, max_value=1000))
def test_two_quorums_always_share_a_correct_replica(n: int) -> None:
    f = max_faulty(n)
    q = quorum_size(n, f)
    assert n >= 3 * f + 1
    assert 2 * q - n >= f + 1  # any two quorums overlap in at least one correct replica


@given(n=st.integers(min_value=1, max_value=1000))
def test_a_quorum_is_reachable_with_f_replicas_silent(n: int) -> None:
    f = max_faulty(n)
    assert quorum_size(n, f) <= n - f


@pytest.mark.parametrize(("f", "quorum"), [(0, 1), (1, 3), (2, 5), (3, 7)])
def test_standard_cluster_has_the_papers_2f_plus_1_quorum(f: int, quorum: int) -> None:
    config = Config.for_f(f)
    assert config.n == 3 * f + 1
    assert config.quorum == quorum == 2 * f + 1
    assert config.weak_quorum == f + 1


def test_primary_of_a_view_is_view_mod_n() -> None:
    config = Config.for_f(1)
    assert [config.primary(View(v)) for v in range(6)] == [0, 1, 2, 3, 0, 1]


def test_too_few_replicas_for_f_is_refused_with_the_bound_named() -> None:
    with pytest.raises(ConfigError, match=r"n >= 3f \+ 1 = 4"):
        Config(n=3, f=1)


def test_too_few_replicas_is_allowed_behind_the_unsafe_flag() -> None:
    config = Config(n=3, f=1, unsafe=True)
    assert config.quorum == 3


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"f": -1}, "f must be"),
        ({"batch_size_max": 0}, "batch_size_max"),
        ({"checkpoint_interval": 0}, "checkpoint_interval"),
        ({"window_size": 8, "checkpoint_interval": 16}, "window_size"),
        ({"window_size": 24, "checkpoint_interval": 16}, "multiple of checkpoint_interval"),
        ({"view_change_timeout_s": 0.0}, "view_change_timeout_s"),
        ({"timeout_s_min": 2.0, "timeout_s_max": 1.0}, "timeout_s_min"),
        ({"max_frame_bytes": 10}, "max_frame_bytes"),
    ],
)
def test_each_invalid_field_is_named_in_the_error(overrides: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"n": 4, "f": 1}
    base.update(overrides)
    with pytest.raises(ConfigError, match=field):
        Config(**base)  # type: ignore[arg-type]
