"""The scenario loader: defaults, every key, and a precise error for every kind of mistake."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbft.scenario.loader import (
    DEFAULT_MIX,
    MAX_FILE_BYTES,
    ScenarioError,
    format_duration,
    load_scenario,
    parse_duration,
    scenario_from_dict,
)
from pbft.scenario.model import Scenario

FULL = """
name = "full"
description = "every key once"
seed = 42

[cluster]
f = 1
n = 4
unsafe = false
batch_size = 5
batch_delay = "1ms"
checkpoint_interval = 8
window = 16
view_change_timeout = "300ms"
adaptive_timeouts = false
crypto = "ed25519"
app = "counter"

[network]
delay = { dist = "lognormal", mean = "4ms", sigma = 0.3 }
loss = 0.01
duplicate = 0.02
reorder = 0.5
gst = "2s"
bound = "50ms"

[network.before_gst]
delay = { dist = "fixed", value = "40ms" }
loss = 0.3

[workload]
clients = 2
requests = 7
client_timeout = "400ms"
start = "10ms"
think = "5ms"
mix = { add = 3, read = 1 }
keys = 4

[[faults]]
at = "1s"
action = "partition"
groups = [["r0", "c1"], ["r1"]]
oneway = true

[[faults]]
at = "1.5s"
action = "heal"

[[faults]]
at = "2s"
action = "clock_skew"
replicas = [2]
offset = "-20ms"
drift = 0.001

[[faults]]
at = "2500ms"
action = "pause"
replicas = [3]
duration = "700ms"

[[faults]]
at = "3s"
action = "slow"
replicas = [1, 2]
duration = "1s"
delay = "30ms"

[[byzantine]]
replica = 0
behavior = "silent"
params = { after_s = 1.0 }

[expect]
safety = true
liveness = true
within = "1m"
min_committed = 10
max_view = 3
"""


def load_text(tmp_path: Path, text: str, name: str = "s.toml") -> Scenario:
    path = tmp_path / name
    path.write_text(text)
    return load_scenario(path)


def error_of(data: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict({"name": "t", **data}, source="t.toml")
    return caught.value


def test_every_key_of_a_full_file_is_read(tmp_path: Path) -> None:
    s = load_text(tmp_path, FULL)
    assert (s.name, s.description, s.seed) == ("full", "every key once", 42)
    c = s.cluster
    assert (c.f, c.n, c.size, c.unsafe, c.batch_size) == (1, 4, 4, False, 5)
    assert (c.batch_delay_s, c.checkpoint_interval, c.window) == (0.001, 8, 16)
    assert (c.view_change_timeout_s, c.adaptive_timeouts, c.crypto, c.app) == (
        0.3,
        False,
        "ed25519",
        "counter",
    )
    net = s.network
    assert net.after.delay.dist == "lognormal"
    assert net.after.delay.mean_s == pytest.approx(0.004)
    assert net.after.delay.sigma == 0.3
    assert (net.after.loss, net.after.duplicate, net.after.reorder) == (0.01, 0.02, 0.5)
    assert (net.gst_s, net.bound_s) == (2.0, 0.05)
    assert net.before_gst is not None
    assert net.before_gst.delay.dist == "fixed"
    assert net.before_gst.delay.value_s == pytest.approx(0.04)
    assert net.before_gst.loss == 0.3
    assert net.before_gst.duplicate == 0.02  # unset keys inherit the after-GST link
    w = s.workload
    assert (w.clients, w.requests, w.client_timeout_s, w.start_s, w.think_s, w.keys) == (
        2,
        7,
        0.4,
        0.01,
        0.005,
        4,
    )
    assert w.mix == (("add", 3.0), ("read", 1.0))
    assert [f.action for f in s.faults] == ["partition", "heal", "clock_skew", "pause", "slow"]
    assert s.faults[0].groups == (("r0", "c1"), ("r1",))
    assert s.faults[0].oneway
    assert s.faults[2].offset_s == pytest.approx(-0.02)
    assert s.faults[2].drift == 0.001
    assert s.faults[3].at_s == 2.5
    assert s.faults[3].duration_s == pytest.approx(0.7)
    assert s.faults[4].delay_s == pytest.approx(0.03)
    assert s.byzantine[0].behavior == "silent"
    assert s.byzantine[0].params == {"after_s": 1.0}
    e = s.expect
    assert (e.safety, e.liveness, e.within_s, e.min_committed, e.max_view) == (
        True,
        True,
        60.0,
        10,
        3,
    )
    assert s.source.endswith("s.toml")


def test_an_empty_file_gets_the_defaults_and_its_name_from_the_file(tmp_path: Path) -> None:
    s = load_text(tmp_path, "", name="tiny.toml")
    assert s.name == "tiny"
    assert s.cluster.size == 4
    assert s.workload.mix == DEFAULT_MIX["kv"]


def test_the_default_mix_follows_the_app() -> None:
    for app, mix in DEFAULT_MIX.items():
        s = scenario_from_dict({"name": "t", "cluster": {"app": app}, "workload": {}})
        assert s.workload.mix == mix


def test_default_window_is_a_multiple_of_the_checkpoint_interval() -> None:
    s = scenario_from_dict({"name": "t", "cluster": {"checkpoint_interval": 10}})
    assert s.cluster.window % 10 == 0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500us", 0.0005),
        ("150ms", 0.15),
        ("2s", 2.0),
        ("1m", 60.0),
        ("1.5s", 1.5),
        ("-5ms", -0.005),
    ],
)
def test_durations_have_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["2", "ms", "2 sec", "1e3ms", "", "--1s"])
def test_a_duration_without_a_known_unit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.floats(min_value=-1000, max_value=1000, allow_nan=False))
def test_formatted_durations_parse_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"colour": 1}, "colour", "unknown key"),
        ({"seed": "one"}, "seed", "must be an integer"),
        ({"seed": -1}, "seed", "out of range"),
        ({"name": ""}, "name", "must not be empty"),
        ({"cluster": 3}, "cluster", "must be a table"),
        ({"cluster": {"f": True}}, "cluster.f", "must be an integer"),
        ({"cluster": {"n": 3}}, "cluster.n", "n >= 3f + 1"),
        ({"cluster": {"f": 400}}, "cluster.f", "out of range"),
        ({"cluster": {"app": "bank"}}, "cluster.app", "unknown value 'bank'"),
        ({"cluster": {"crypto": "rsa"}}, "cluster.crypto", "unknown value"),
        ({"cluster": {"window": 20, "checkpoint_interval": 8}}, "cluster.window", "multiple"),
        ({"cluster": {"view_change_timeout": 2}}, "cluster.view_change_timeout", "duration"),
        ({"cluster": {"view_change_timeout": "0s"}}, "cluster.view_change_timeout", "zero"),
        ({"cluster": {"batch_size": 0}}, "cluster.batch_size", "out of range"),
        ({"cluster": {"n": 1, "f": 1, "unsafe": True}}, "cluster", "quorum"),
        ({"network": {"loss": 1.5}}, "network.loss", "out of range"),
        ({"network": {"loss": "x"}}, "network.loss", "must be a number"),
        ({"network": {"delay": {"dist": "pareto"}}}, "network.delay.dist", "unknown value"),
        (
            {"network": {"delay": {"dist": "fixed", "low": "1ms"}}},
            "network.delay.low",
            "for dist = 'fixed'",
        ),
        (
            {"network": {"delay": {"low": "5ms", "high": "1ms"}}},
            "network.delay.high",
            "at least low",
        ),
        (
            {"network": {"delay": {"mean": "-1ms", "dist": "exponential"}}},
            "network.delay.mean",
            "negative",
        ),
        ({"network": {"before_gst": {"loss": 0.5}}}, "network.gst", "required"),
        ({"network": {"before_gst": {"gst": "1s"}}}, "network.before_gst.gst", "unknown key"),
        ({"network": {"gst": "40s"}}, "network.gst", "before expect.within"),
        ({"workload": {"clients": -1}}, "workload.clients", "out of range"),
        ({"workload": {"mix": {"put": 1, "fly": 1}}}, "workload.mix.fly", "unknown operation"),
        (
            {"cluster": {"app": "counter"}, "workload": {"mix": {"put": 1}}},
            "workload.mix.put",
            "app = 'counter'",
        ),
        ({"workload": {"mix": {"put": 0}}}, "workload.mix", "above zero"),
        ({"workload": {"mix": {"put": -1}}}, "workload.mix.put", "out of range"),
        ({"faults": {"at": "1s"}}, "faults", "must be an array"),
        ({"faults": [3]}, "faults[0]", "must be a table"),
        ({"faults": [{"at": "1s"}]}, "faults[0].action", "required"),
        ({"faults": [{"action": "crash", "replicas": [1]}]}, "faults[0].at", "required"),
        ({"faults": [{"at": "1s", "action": "explode"}]}, "faults[0].action", "unknown value"),
        (
            {"faults": [{"at": "1s", "action": "crash", "replicas": [1], "duration": "1s"}]},
            "faults[0].duration",
            "for action = 'crash'",
        ),
        ({"faults": [{"at": "1s", "action": "crash"}]}, "faults[0].replicas", "required"),
        (
            {"faults": [{"at": "1s", "action": "crash", "replicas": []}]},
            "faults[0].replicas",
            "at least one",
        ),
        (
            {
                "faults": [
                    {"at": "1s", "action": "heal"},
                    {"at": "1s", "action": "crash", "replicas": [4]},
                ]
            },
            "faults[1].replicas[0]",
            "replica id 4 out of range: n = 4",
        ),
        (
            {"faults": [{"at": "1s", "action": "crash", "replicas": [1, 1]}]},
            "faults[0].replicas[1]",
            "twice",
        ),
        (
            {"faults": [{"at": "1s", "action": "crash", "replicas": ["r1"]}]},
            "faults[0].replicas[0]",
            "integer",
        ),
        (
            {"faults": [{"at": "1s", "action": "pause", "replicas": [1]}]},
            "faults[0].duration",
            "required",
        ),
        (
            {"faults": [{"at": "1s", "action": "slow", "replicas": [1], "duration": "1s"}]},
            "faults[0].delay",
            "required",
        ),
        (
            {"faults": [{"at": "1s", "action": "clock_skew", "replicas": [1]}]},
            "faults[0].offset",
            "needs",
        ),
        (
            {"faults": [{"at": "1s", "action": "clock_skew", "replicas": [1], "drift": 2.0}]},
            "faults[0].drift",
            "out of range",
        ),
        ({"faults": [{"at": "31s", "action": "heal"}]}, "faults[0].at", "never happen"),
        ({"faults": [{"at": "-1s", "action": "heal"}]}, "faults[0].at", "negative"),
        ({"faults": [{"at": "1s", "action": "partition"}]}, "faults[0].groups", "required"),
        (
            {"faults": [{"at": "1s", "action": "partition", "groups": [["r0"], ["r9"]]}]},
            "faults[0].groups[1][0]",
            "replica r9 out of range",
        ),
        (
            {"faults": [{"at": "1s", "action": "partition", "groups": [["r0", "c3"]]}]},
            "faults[0].groups[0][1]",
            "workload.clients = 1",
        ),
        (
            {"faults": [{"at": "1s", "action": "partition", "groups": [["r0"], ["x1"]]}]},
            "faults[0].groups[1][0]",
            "unknown node",
        ),
        (
            {"faults": [{"at": "1s", "action": "partition", "groups": [["r0"], ["r0"]]}]},
            "faults[0].groups[1][0]",
            "already in groups[0]",
        ),
        (
            {"faults": [{"at": "1s", "action": "partition", "groups": [[]]}]},
            "faults[0].groups[0]",
            "non-empty",
        ),
        ({"byzantine": [{"behavior": "silent"}]}, "byzantine[0].replica", "required"),
        ({"byzantine": [{"replica": 4, "behavior": "silent"}]}, "byzantine[0].replica", "n = 4"),
        ({"byzantine": [{"replica": 1}]}, "byzantine[0].behavior", "required"),
        (
            {"byzantine": [{"replica": 1, "behavior": "gremlin"}]},
            "byzantine[0].behavior",
            "unknown",
        ),
        (
            {"byzantine": [{"replica": 1, "behavior": "silent", "params": 3}]},
            "byzantine[0].params",
            "table",
        ),
        (
            {
                "byzantine": [
                    {"replica": 1, "behavior": "silent"},
                    {"replica": 2, "behavior": "silent"},
                ]
            },
            "byzantine",
            "2 Byzantine replicas but f = 1",
        ),
        (
            {
                "byzantine": [
                    {"replica": 1, "behavior": "silent"},
                    {"replica": 1, "behavior": "silent"},
                ]
            },
            "byzantine[1].replica",
            "already",
        ),
        (
            {"byzantine": [{"replica": 1, "behavior": "lie", "params": {"colour": "red"}}]},
            "byzantine[0].params",
            "no parameter 'colour'",
        ),
        ({"expect": {"safety": "yes"}}, "expect.safety", "true or false"),
        ({"expect": {"within": "0s"}}, "expect.within", "zero"),
        ({"expect": {"max_view": -1}}, "expect.max_view", "out of range"),
        ({"expect": {"eventually": True}}, "expect.eventually", "unknown key"),
    ],
)
def test_each_mistake_names_its_key(data: dict[str, Any], key: str, words: str) -> None:
    error = error_of(data)
    assert error.key == key
    assert error.source == "t.toml"
    assert words in str(error)
    assert str(error).startswith(f"t.toml: {key}: ")


def test_unsafe_allows_more_byzantine_replicas_than_f() -> None:
    s = scenario_from_dict(
        {
            "name": "t",
            "cluster": {"unsafe": True},
            "byzantine": [
                {"replica": 1, "behavior": "silent"},
                {"replica": 2, "behavior": "silent"},
            ],
        }
    )
    assert len(s.byzantine) == 2


def test_unsafe_allows_n_below_3f_plus_1() -> None:
    s = scenario_from_dict({"name": "t", "cluster": {"n": 3, "f": 1, "unsafe": True}})
    assert s.cluster.size == 3


def test_a_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text(tmp_path, 'name = "x"\n[cluster]\nf = \n')
    assert "TOML syntax error" in str(caught.value)
    assert "line 3" in str(caught.value)
    assert caught.value.source.endswith("s.toml")


def test_a_syntax_error_at_the_end_of_the_file_still_names_a_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"line 2"):
        load_text(tmp_path, 'name = "x"\nseed = [1,\n')


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(tmp_path / "absent.toml")


def test_a_directory_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the file"):
        load_scenario(tmp_path)


def test_a_file_larger_than_any_scenario_is_refused_without_reading_it_all(
    tmp_path: Path,
) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ScenarioError, match=f"larger than {MAX_FILE_BYTES} bytes"):
        load_scenario(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_device_is_refused() -> None:
    with pytest.raises(ScenarioError, match="not a scenario file"):
        load_scenario("/dev/zero")


def test_a_file_that_is_not_utf8_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "bin.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_scenario(path)


def test_a_dict_without_a_name_is_refused() -> None:
    with pytest.raises(ScenarioError, match="name: is required"):
        scenario_from_dict({})


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
sections = st.sampled_from(
    ["name", "seed", "cluster", "network", "workload", "faults", "byzantine", "expect"]
)


@given(st.dictionaries(sections, toml_values, max_size=4))
def test_no_document_makes_the_loader_raise_anything_but_scenario_error(
    data: dict[str, Any],
) -> None:
    with contextlib.suppress(ScenarioError):
        scenario_from_dict({"name": "fuzz", **data})


def test_a_deadline_beyond_an_hour_of_virtual_time_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"expect\.within: at most 1h"):
        scenario_from_dict({"name": "long", "expect": {"within": "2h"}})
    assert scenario_from_dict({"name": "ok", "expect": {"within": "1h"}}).expect.within_s == 3600


def test_a_behaviour_param_naming_a_client_the_workload_lacks_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"byzantine\[0\]\.params: .*does not have: c5"):
        scenario_from_dict(
            {
                "name": "liar",
                "workload": {"clients": 2},
                "byzantine": [{"replica": 1, "behavior": "lie", "params": {"clients": ["c5"]}}],
            }
        )


LINKS = """
name = "links"

[network]
delay = { dist = "fixed", value = "2ms" }
loss = 0.01
duplicate = 0.02

[workload]
clients = 2

[[network.links]]
from = ["r3"]
to = ["r0", "r1", "r2", "c0"]
delay = { dist = "lognormal", mean = "80ms", sigma = 0.4 }
loss = 0.05

[[network.links]]
from = ["c1"]
to = ["r0"]
both_ways = false
reorder = 0.5
"""


def test_link_overrides_are_read_in_order_and_inherit_unset_keys_from_the_network(
    tmp_path: Path,
) -> None:
    net = load_text(tmp_path, LINKS).network
    far, client = net.links
    assert (far.src, far.dst, far.both_ways) == (("r3",), ("r0", "r1", "r2", "c0"), True)
    assert far.model.delay.dist == "lognormal"
    assert far.model.delay.mean_s == pytest.approx(0.08)
    assert (far.model.loss, far.model.duplicate) == (0.05, 0.02)  # duplicate inherited
    assert (client.src, client.dst, client.both_ways) == (("c1",), ("r0",), False)
    assert client.model.delay == net.after.delay
    assert (client.model.loss, client.model.reorder) == (0.01, 0.5)


def test_a_network_without_links_has_no_overrides() -> None:
    assert scenario_from_dict({"name": "x", "network": {"loss": 0.1}}).network.links == ()


def links_error(*entries: dict[str, Any]) -> ScenarioError:
    return error_of({"workload": {"clients": 2}, "network": {"links": list(entries)}})


@pytest.mark.parametrize(
    ("entries", "key", "words"),
    [
        ([{"from": ["r9"], "to": ["r0"]}], "network.links[0].from[0]", "replica r9 out of range"),
        (
            [{"from": ["r0"], "to": ["r1"]}, {"from": ["r0"], "to": ["c2"]}],
            "network.links[1].to[0]",
            "client c2 out of range",
        ),
        ([{"from": ["x1"], "to": ["r0"]}], "network.links[0].from[0]", "unknown node 'x1'"),
        ([{"from": [0], "to": ["r0"]}], "network.links[0].from[0]", "must be a node name"),
        ([{"to": ["r0"]}], "network.links[0].from", "is required"),
        ([{"from": ["r0"]}], "network.links[0].to", "is required"),
        ([{"from": [], "to": ["r0"]}], "network.links[0].from", "at least one node"),
        ([{"from": "r0", "to": ["r1"]}], "network.links[0].from", "must be an array"),
        ([{"from": ["r0", "r0"], "to": ["r1"]}], "network.links[0].from[1]", "named twice"),
        (
            [{"from": ["r0"], "to": ["r1"], "both_ways": "no"}],
            "network.links[0].both_ways",
            "true or false",
        ),
        ([{"from": ["r0"], "to": ["r1"], "loss": 2}], "network.links[0].loss", "out of range"),
        (
            [{"from": ["r0"], "to": ["r1"], "delay": {"dist": "pareto"}}],
            "network.links[0].delay.dist",
            "unknown value",
        ),
        ([{"from": ["r0"], "to": ["r1"], "gst": "1s"}], "network.links[0].gst", "unknown key"),
        (["r0"], "network.links[0]", "must be a table"),
    ],
)
def test_each_link_override_mistake_names_its_key(entries: list[Any], key: str, words: str) -> None:
    error = links_error(*entries)
    assert error.key == key
    assert words in str(error)
    assert str(error).startswith(f"t.toml: {key}: ")


def test_links_that_are_not_an_array_are_refused() -> None:
    error = error_of({"network": {"links": {"from": ["r0"]}}})
    assert error.key == "network.links"
    assert "must be an array" in str(error)
