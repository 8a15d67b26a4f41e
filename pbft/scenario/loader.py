"""Read scenario files (TOML) into :class:`~pbft.scenario.model.Scenario` values.

Every mistake in a file becomes a :class:`ScenarioError` that names the file, the dotted key
(``faults[2].replicas``) and what is wrong with it, so ``pbft run`` can print one line and exit
with status 2 instead of a traceback. The schema, with every key, type, default and range, is
documented in docs/scenarios.md; the tests in tests/pbft/scenario/test_loader.py hold the two
together.

Durations are strings with a unit (``"500us"``, ``"150ms"``, ``"2s"``, ``"1m"``); a bare number
is refused because "at = 2" does not say whether it means seconds or milliseconds.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, cast, get_args

import attrs

from pbft.config import Config, ConfigError
from pbft.ids import MAX_U64, ReplicaId, replica_of, replica_principal
from pbft.scenario.model import (
    FAULT_ACTIONS,
    AppName,
    ByzantineSpec,
    ClusterSpec,
    CryptoScheme,
    Delay,
    DelayDist,
    ExpectSpec,
    FaultSpec,
    LinkModel,
    LinkOverride,
    NetworkSpec,
    Scenario,
    WorkloadSpec,
)

T = TypeVar("T")


class ScenarioError(ValueError):
    """A scenario file or dict is invalid; ``source`` and ``key`` say where, the text says why."""

    def __init__(self, message: str, *, source: str, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.reason = message
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


MAX_N: Final = 1000
MAX_CLIENTS: Final = 1000
MAX_REQUESTS: Final = 1_000_000
MAX_DURATION_S: Final = 365 * 24 * 3600.0
# Scenario files are a few kilobytes; the cap stops `pbft run /dev/zero` from reading forever.
MAX_FILE_BYTES: Final = 1 << 20

_DURATION = re.compile(r"\s*(-?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(us|µs|ms|s|m|h)\s*")
_UNIT_S: Final = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

# The keys each table may hold; any other key is an error.
_TOP_KEYS: Final = (
    "name",
    "description",
    "seed",
    "cluster",
    "network",
    "workload",
    "faults",
    "byzantine",
    "expect",
)
_CLUSTER_KEYS: Final = (
    "f",
    "n",
    "unsafe",
    "batch_size",
    "batch_delay",
    "checkpoint_interval",
    "window",
    "view_change_timeout",
    "adaptive_timeouts",
    "crypto",
    "app",
)

# Which keys of a [[faults]] entry each action uses; any other key is an error.
_FAULT_KEYS: Final[dict[str, frozenset[str]]] = {
    "crash": frozenset({"replicas"}),
    "restart": frozenset({"replicas"}),
    "pause": frozenset({"replicas", "duration"}),
    "partition": frozenset({"groups", "oneway"}),
    "heal": frozenset(),
    "clock_skew": frozenset({"replicas", "offset", "drift"}),
    "slow": frozenset({"replicas", "duration", "delay"}),
}
assert set(_FAULT_KEYS) == set(FAULT_ACTIONS)

# The mix a workload uses when the file gives none: the app's read and write operations.
DEFAULT_MIX: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "kv": (("put", 0.5), ("get", 0.5)),
    "counter": (("add", 0.5), ("read", 0.5)),
    "lock": (("acquire", 0.4), ("write", 0.4), ("release", 0.2)),
}

# Which keys of a delay table each distribution reads.
_DELAY_KEYS: Final[dict[str, frozenset[str]]] = {
    "fixed": frozenset({"value"}),
    "uniform": frozenset({"low", "high"}),
    "exponential": frozenset({"mean"}),
    "lognormal": frozenset({"mean", "sigma"}),
}


def parse_duration(text: str) -> float:
    """Seconds in a duration string such as ``"150ms"``; ValueError if it is not one."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit (us, ms, s, m, h), "
            'e.g. "150ms" or "2s"'
        )
    sign, number, unit = match.groups()
    value = float(number) * _UNIT_S[unit]
    return -value if sign else value


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` (``0.15 -> "150ms"``) that parse_duration reads back."""
    if seconds != 0 and abs(seconds) < 1e-3:
        return f"{_plain_number(seconds * 1e6)}us"
    if abs(seconds) < 1:
        return f"{_plain_number(seconds * 1e3)}ms"
    return f"{_plain_number(seconds)}s"


def _plain_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``; raise :class:`ScenarioError`."""
    source = str(path)
    try:
        with open(path, "rb") as stream:
            text = stream.read(MAX_FILE_BYTES + 1)  # bounded: a device or pipe may never end
    except OSError as error:
        raise ScenarioError(
            f"cannot read the file: {error.strerror or error}", source=source
        ) from None
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"larger than {MAX_FILE_BYTES} bytes: not a scenario file", source=source
        )
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ScenarioError(f"not UTF-8 text (byte {error.start})", source=source) from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        if "end of document" in message:
            message += f" (line {len(text.splitlines()) or 1})"
        raise ScenarioError(f"TOML syntax error: {message}", source=source) from None
    return scenario_from_dict(data, source=source, default_name=Path(path).stem)


def scenario_from_dict(
    data: Mapping[str, Any], *, source: str = "<memory>", default_name: str | None = None
) -> Scenario:
    """Validate a parsed TOML document and build its :class:`Scenario`."""
    return _ScenarioReader(source).read(data, default_name)


class _Table:
    """One TOML table being read: fetches typed values and reports unknown keys by path."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(
                f"must be a table, got {_type_name(data)}", source=source, key=path or None
            )
        self.data: Mapping[str, Any] = data
        self.path = path
        self.source = source

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> ScenarioError:
        return ScenarioError(message, source=self.source, key=self.key(name))

    def check_keys(self, allowed: Sequence[str] | frozenset[str], why: str = "") -> None:
        for name in self.data:
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise self.error(name, f"unknown key{why} (known keys: {known})")

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, kind: type[T], default: T) -> T:
        if name not in self.data:
            return default
        return self.value(name, kind)

    def value(self, name: str, kind: type[T]) -> T:
        if name not in self.data:
            raise self.error(name, "is required")
        value = self.data[name]
        if not _is_kind(value, kind):
            raise self.error(
                name, f"must be {_KIND_NAMES.get(kind, kind.__name__)}, got {_type_name(value)}"
            )
        if kind is float:
            if not math.isfinite(value):
                raise self.error(name, f"must be a finite number, got {value}")
            return cast(T, float(value))
        return cast(T, value)

    def integer(
        self, name: str, default: int | None, *, low: int, high: int = MAX_U64
    ) -> int | None:
        if name not in self.data:
            return default
        value = self.value(name, int)
        if not low <= value <= high:
            raise self.error(name, f"out of range: {value} (allowed {low}..{high})")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        value = self.get(name, float, default)
        if not low <= value <= high:
            raise self.error(name, f"out of range: {value} (allowed {low:g} to {high:g})")
        return value

    def duration(
        self, name: str, default: float, *, positive: bool = False, negative_ok: bool = False
    ) -> float:
        if name not in self.data:
            return default
        raw = self.data[name]
        if not isinstance(raw, str):
            raise self.error(
                name,
                f'must be a duration string such as "150ms" or "2s", got {_type_name(raw)}',
            )
        try:
            seconds = parse_duration(raw)
        except ValueError as error:
            raise self.error(name, str(error)) from None
        if seconds < 0 and not negative_ok:
            raise self.error(name, f"must not be negative, got {raw!r}")
        if positive and seconds <= 0:
            raise self.error(name, f"must be greater than zero, got {raw!r}")
        if abs(seconds) > MAX_DURATION_S:
            raise self.error(name, f"out of range: {raw!r} (at most a year)")
        return seconds

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self.get(name, str, default)
        if value not in choices:
            raise self.error(name, f"unknown value {value!r} (choose one of: {', '.join(choices)})")
        return value

    def table(self, name: str) -> _Table | None:
        if name not in self.data:
            return None
        return _Table(self.data[name], self.key(name), self.source)

    def array(self, name: str) -> list[Any]:
        if name not in self.data:
            return []
        value = self.data[name]
        if not isinstance(value, list):
            raise self.error(name, f"must be an array, got {_type_name(value)}")
        return value


def _is_kind(value: object, kind: type[Any]) -> bool:
    """TOML booleans are ints in Python, so exclude them; a number key accepts an integer."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


_KIND_NAMES: Final[dict[type[Any], str]] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def _type_name(value: object) -> str:
    match value:
        case bool():
            return f"a boolean ({str(value).lower()})"
        case int():
            return f"an integer ({value})"
        case float():
            return f"a number ({value})"
        case str():
            return f"a string ({value!r})"
        case list():
            return "an array"
        case Mapping():
            return "a table"
    return type(value).__name__


class _ScenarioReader:
    """Reads the sections in dependency order: the cluster size bounds replica ids, etc."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.config: Config | None = None  # set by _cluster

    def read(self, data: Mapping[str, Any], default_name: str | None) -> Scenario:
        top = _Table(data, "", self.source)
        top.check_keys(_TOP_KEYS)
        if default_name is None and not top.has("name"):
            raise top.error("name", "is required")
        name = top.get("name", str, default_name or "")
        if not name.strip():
            raise top.error("name", "must not be empty")
        description = top.get("description", str, "")
        seed = top.integer("seed", 1, low=0)
        assert seed is not None

        cluster = self._cluster(top.table("cluster"))
        network_table = top.table("network")
        network = self._network(network_table)
        workload = self._workload(top.table("workload"), cluster)
        if network_table is not None and network_table.has("links"):
            # Node names are checked against the clients, so links wait for [workload].
            links = self._links(network_table, network.after, cluster.size, workload.clients)
            network = attrs.evolve(network, links=links)
        expect = self._expect(top.table("expect"))
        faults = tuple(
            self._fault(entry, f"faults[{index}]", cluster, workload, expect)
            for index, entry in enumerate(top.array("faults"))
        )
        byzantine = self._byzantine(top.array("byzantine"), cluster, workload)
        if network.gst_s >= expect.within_s:
            raise ScenarioError(
                f"gst ({format_duration(network.gst_s)}) must come before expect.within "
                f"({format_duration(expect.within_s)}), or the run never stabilises",
                source=self.source,
                key="network.gst",
            )
        return Scenario(
            name=name,
            description=description,
            seed=seed,
            cluster=cluster,
            network=network,
            workload=workload,
            faults=faults,
            byzantine=byzantine,
            expect=expect,
            source=self.source,
        )

    def _cluster(self, table: _Table | None) -> ClusterSpec:
        if table is None:
            table = _Table({}, "cluster", self.source)
        table.check_keys(_CLUSTER_KEYS)
        default = ClusterSpec()
        f = table.integer("f", default.f, low=0, high=(MAX_N - 1) // 3)
        assert f is not None
        n = table.integer("n", None, low=1, high=MAX_N)
        unsafe = table.get("unsafe", bool, False)
        size = n if n is not None else 3 * f + 1
        if size < 3 * f + 1 and not unsafe:
            raise table.error(
                "n",
                f"n = {size} cannot tolerate f = {f}: PBFT needs n >= 3f + 1 = {3 * f + 1} "
                "(set cluster.unsafe = true to run it anyway, for demonstrations)",
            )
        if size > MAX_N:
            raise table.error("f", f"3f + 1 = {size} replicas exceeds the maximum of {MAX_N}")
        batch_size = table.integer("batch_size", default.batch_size, low=1, high=10_000)
        checkpoint_interval = table.integer(
            "checkpoint_interval", default.checkpoint_interval, low=1, high=1_000_000
        )
        assert checkpoint_interval is not None
        default_window = (
            default.window if default.window % checkpoint_interval == 0 else 2 * checkpoint_interval
        )
        window = table.integer("window", default_window, low=1, high=10_000_000)
        assert window is not None and batch_size is not None
        if window < checkpoint_interval or window % checkpoint_interval != 0:
            raise table.error(
                "window",
                f"must be a multiple of checkpoint_interval ({checkpoint_interval}), got {window}",
            )
        spec = ClusterSpec(
            f=f,
            n=n,
            unsafe=unsafe,
            batch_size=batch_size,
            batch_delay_s=table.duration("batch_delay", default.batch_delay_s),
            checkpoint_interval=checkpoint_interval,
            window=window,
            view_change_timeout_s=table.duration(
                "view_change_timeout", default.view_change_timeout_s, positive=True
            ),
            adaptive_timeouts=table.get("adaptive_timeouts", bool, default.adaptive_timeouts),
            crypto=cast(
                CryptoScheme, table.choice("crypto", default.crypto, get_args(CryptoScheme))
            ),
            app=cast(AppName, table.choice("app", default.app, get_args(AppName))),
        )
        try:  # the protocol's own validation is the last word on what a cluster may be
            self.config = spec.config()
        except ConfigError as error:
            raise ScenarioError(str(error), source=self.source, key="cluster") from None
        return spec

    def _network(self, table: _Table | None) -> NetworkSpec:
        if table is None:
            return NetworkSpec()
        table.check_keys(
            ("delay", "loss", "duplicate", "reorder", "gst", "bound", "before_gst", "links")
        )
        default = NetworkSpec()
        after = self._link(table, default.after)
        before_table = table.table("before_gst")
        before = None
        if before_table is not None:
            before_table.check_keys(("delay", "loss", "duplicate", "reorder"))
            before = self._link(before_table, after)
        gst_s = table.duration("gst", default.gst_s)
        if before is not None and not table.has("gst"):
            raise table.error("gst", "is required when [network.before_gst] is given")
        return NetworkSpec(
            after=after,
            before_gst=before,
            gst_s=gst_s,
            bound_s=table.duration("bound", default.bound_s, positive=True),
        )

    def _links(
        self, table: _Table, base: LinkModel, n: int, clients: int
    ) -> tuple[LinkOverride, ...]:
        """The ``[[network.links]]`` overrides; a key left out inherits from ``base``."""
        overrides: list[LinkOverride] = []
        for index, entry in enumerate(table.array("links")):
            link = _Table(entry, f"{table.key('links')}[{index}]", self.source)
            link.check_keys(("from", "to", "both_ways", "delay", "loss", "duplicate", "reorder"))
            overrides.append(
                LinkOverride(
                    src=self._nodes(link, "from", n, clients),
                    dst=self._nodes(link, "to", n, clients),
                    model=self._link(link, base),
                    both_ways=link.get("both_ways", bool, True),
                )
            )
        return tuple(overrides)

    def _nodes(self, table: _Table, name: str, n: int, clients: int) -> tuple[str, ...]:
        if not table.has(name):
            raise table.error(name, 'is required, e.g. ["r0", "r1"]')
        raw = table.array(name)
        if not raw:
            raise table.error(name, "must name at least one node")
        names: list[str] = []
        for i, node in enumerate(raw):
            problem = _node_problem(node, n, clients)
            if problem is not None:
                raise table.error(f"{name}[{i}]", problem)
            if node in names:
                raise table.error(f"{name}[{i}]", f"{node} is named twice")
            names.append(node)
        return tuple(names)

    def _link(self, table: _Table, default: LinkModel) -> LinkModel:
        delay_table = table.table("delay")
        delay = default.delay if delay_table is None else self._delay(delay_table)
        return LinkModel(
            delay=delay,
            loss=table.number("loss", default.loss, low=0.0, high=1.0),
            duplicate=table.number("duplicate", default.duplicate, low=0.0, high=1.0),
            reorder=table.number("reorder", default.reorder, low=0.0, high=10.0),
        )

    def _delay(self, table: _Table) -> Delay:
        dist = table.choice("dist", "uniform", get_args(DelayDist))
        table.check_keys(_DELAY_KEYS[dist] | {"dist"}, f" for dist = {dist!r}")
        default = Delay()
        low_s = table.duration("low", default.low_s)
        high_s = table.duration("high", max(default.high_s, low_s))
        if high_s < low_s:
            raise table.error("high", f"must be at least low ({format_duration(low_s)})")
        return Delay(
            dist=cast(DelayDist, dist),
            value_s=table.duration("value", default.value_s),
            low_s=low_s,
            high_s=high_s,
            mean_s=table.duration("mean", default.mean_s, positive=True),
            sigma=table.number("sigma", default.sigma, low=0.0, high=5.0),
        )

    def _workload(self, table: _Table | None, cluster: ClusterSpec) -> WorkloadSpec:
        default = WorkloadSpec()
        if table is None:
            return attrs.evolve(default, mix=DEFAULT_MIX[cluster.app])
        table.check_keys(("clients", "requests", "client_timeout", "start", "think", "mix", "keys"))
        clients = table.integer("clients", default.clients, low=0, high=MAX_CLIENTS)
        requests = table.integer("requests", default.requests, low=0, high=MAX_REQUESTS)
        keys = table.integer("keys", default.keys, low=1, high=1_000_000)
        assert clients is not None and requests is not None and keys is not None
        return WorkloadSpec(
            clients=clients,
            requests=requests,
            client_timeout_s=table.duration(
                "client_timeout", default.client_timeout_s, positive=True
            ),
            start_s=table.duration("start", default.start_s),
            think_s=table.duration("think", default.think_s),
            mix=self._mix(table, cluster.app),
            keys=keys,
        )

    def _mix(self, table: _Table, app: str) -> tuple[tuple[str, float], ...]:
        mix = table.table("mix")
        if mix is None:
            return DEFAULT_MIX[app]
        kinds = operation_kinds(app)
        entries: list[tuple[str, float]] = []
        for kind in mix.data:
            if kind not in kinds:
                raise mix.error(
                    kind,
                    f"unknown operation for app = {app!r} (known: {', '.join(kinds)})",
                )
            entries.append((kind, mix.number(kind, 0.0, low=0.0, high=1e9)))
        if not entries or sum(weight for _, weight in entries) <= 0:
            raise ScenarioError(
                "needs at least one operation with a weight above zero",
                source=self.source,
                key=mix.path,
            )
        return tuple(entries)

    def _fault(
        self,
        entry: Any,
        path: str,
        cluster: ClusterSpec,
        workload: WorkloadSpec,
        expect: ExpectSpec,
    ) -> FaultSpec:
        table = _Table(entry, path, self.source)
        action = table.choice("action", "", FAULT_ACTIONS) if table.has("action") else None
        if action is None:
            raise table.error("action", f"is required (one of: {', '.join(FAULT_ACTIONS)})")
        table.check_keys(_FAULT_KEYS[action] | {"at", "action"}, f" for action = {action!r}")
        at_s = table.duration("at", 0.0) if table.has("at") else None
        if at_s is None:
            raise table.error("at", 'is required (a duration such as "2s")')
        if at_s >= expect.within_s:
            raise table.error(
                "at",
                f"{format_duration(at_s)} is not before expect.within "
                f"({format_duration(expect.within_s)}): the fault would never happen",
            )
        uses = _FAULT_KEYS[action]
        replicas: tuple[int, ...] = ()
        if "replicas" in uses:
            replicas = self._replicas(table, cluster.size)
        groups: tuple[tuple[str, ...], ...] = ()
        if "groups" in uses:
            groups = self._groups(table, cluster.size, workload.clients)
        duration_s = 0.0
        if "duration" in uses:
            duration_s = table.duration("duration", 0.0, positive=True)
            if not table.has("duration"):
                raise table.error("duration", f"is required for action = {action!r}")
        delay_s = 0.0
        if "delay" in uses:
            if not table.has("delay"):
                raise table.error("delay", f"is required for action = {action!r}")
            delay_s = table.duration("delay", 0.0, positive=True)
        offset_s = table.duration("offset", 0.0, negative_ok=True)
        drift = table.number("drift", 0.0, low=-0.5, high=0.5)
        if action == "clock_skew" and not (table.has("offset") or table.has("drift")):
            raise table.error("offset", "clock_skew needs offset, drift or both")
        return FaultSpec(
            at_s=at_s,
            action=action,
            replicas=replicas,
            groups=groups,
            oneway=table.get("oneway", bool, False),
            duration_s=duration_s,
            offset_s=offset_s,
            drift=drift,
            delay_s=delay_s,
        )

    def _replicas(self, table: _Table, n: int) -> tuple[int, ...]:
        if not table.has("replicas"):
            raise table.error("replicas", "is required: the replica ids it applies to")
        raw = table.array("replicas")
        if not raw:
            raise table.error("replicas", "must name at least one replica")
        seen: list[int] = []
        for index, value in enumerate(raw):
            key = f"replicas[{index}]"
            if not isinstance(value, int) or isinstance(value, bool):
                raise table.error(key, f"must be a replica id (integer), got {_type_name(value)}")
            if not 0 <= value < n:
                raise table.error(key, f"replica id {value} out of range: n = {n} (ids 0..{n - 1})")
            if value in seen:
                raise table.error(key, f"replica {value} is listed twice")
            seen.append(value)
        return tuple(seen)

    def _groups(self, table: _Table, n: int, clients: int) -> tuple[tuple[str, ...], ...]:
        if not table.has("groups"):
            raise table.error("groups", 'is required, e.g. groups = [["r0", "r1"], ["r2", "r3"]]')
        raw = table.array("groups")
        if not raw:
            raise table.error("groups", "must hold at least one group")
        placed: dict[str, str] = {}
        groups: list[tuple[str, ...]] = []
        for g, group in enumerate(raw):
            if not isinstance(group, list) or not group:
                raise table.error(
                    f"groups[{g}]", f"must be a non-empty array of node names, got {group!r}"
                )
            names: list[str] = []
            for i, name in enumerate(group):
                key = f"groups[{g}][{i}]"
                problem = _node_problem(name, n, clients)
                if problem is not None:
                    raise table.error(key, problem)
                if name in placed:
                    raise table.error(key, f"{name} is already in {placed[name]}")
                placed[name] = f"groups[{g}]"
                names.append(name)
            groups.append(tuple(names))
        return tuple(groups)

    def _byzantine(
        self, entries: list[Any], cluster: ClusterSpec, workload: WorkloadSpec
    ) -> tuple[ByzantineSpec, ...]:
        specs: list[ByzantineSpec] = []
        names: tuple[str, ...] | None = None
        for index, entry in enumerate(entries):
            table = _Table(entry, f"byzantine[{index}]", self.source)
            table.check_keys(("replica", "behavior", "params"))
            if not table.has("replica"):
                raise table.error("replica", "is required")
            replica = table.integer("replica", 0, low=0, high=MAX_N)
            assert replica is not None
            if replica >= cluster.size:
                raise table.error(
                    "replica",
                    f"replica id {replica} out of range: n = {cluster.size} "
                    f"(ids 0..{cluster.size - 1})",
                )
            if any(spec.replica == replica for spec in specs):
                raise table.error("replica", f"replica {replica} already has a behavior")
            behavior = table.value("behavior", str)
            if names is None:
                names = behavior_names()
            if behavior not in names:
                raise table.error(
                    "behavior", f"unknown behavior {behavior!r} (known: {', '.join(names)})"
                )
            params_table = table.table("params")
            params = dict(params_table.data) if params_table is not None else {}
            spec = ByzantineSpec(replica=replica, behavior=behavior, params=params)
            problem = self._behavior_problem(spec, cluster, workload)
            if problem is not None:
                raise table.error("params", problem)
            specs.append(spec)
        if len(specs) > cluster.f and not cluster.unsafe:
            raise ScenarioError(
                f"{len(specs)} Byzantine replicas but f = {cluster.f}: PBFT promises nothing "
                "beyond f (set cluster.unsafe = true to demonstrate what breaks)",
                source=self.source,
                key="byzantine",
            )
        return tuple(specs)

    def _behavior_problem(
        self, spec: ByzantineSpec, cluster: ClusterSpec, workload: WorkloadSpec
    ) -> str | None:
        """Why the behaviour refuses ``spec.params``, found by building it once, or None.

        Behaviours check their params when built; doing that here lets a typo in a params
        table fail at load time with its key, instead of in the middle of a run.
        """
        import crypto
        from adversary.behavior import BehaviorContext, make_behavior
        from pbft.app import make_service
        from pbft.replica import Replica

        config = self.config
        assert config is not None
        replica = ReplicaId(spec.replica)
        signers, keyring = crypto.cluster_keys("fast", b"params check", config.replica_principals)
        signer = signers[replica_principal(replica)]

        def make_honest() -> Replica:
            service = make_service(cluster.app)
            return Replica(
                config=config, replica=replica, signer=signer, keyring=keyring, service=service
            )

        context = BehaviorContext(
            config=config,
            replica=replica,
            signer=signer,
            keyring=keyring,
            params=spec.params,
            collusion={},
            make_honest=make_honest,
            clients=tuple(f"c{index}" for index in range(workload.clients)),
        )
        try:
            make_behavior(spec.behavior, context)
        except (ValueError, TypeError) as error:  # a params table of the wrong shape
            return str(error)
        return None

    def _expect(self, table: _Table | None) -> ExpectSpec:
        default = ExpectSpec()
        if table is None:
            return default
        table.check_keys(("safety", "liveness", "within", "min_committed", "max_view"))
        min_committed = table.integer("min_committed", 0, low=0)
        assert min_committed is not None
        return ExpectSpec(
            safety=table.get("safety", bool, default.safety),
            liveness=table.get("liveness", bool, default.liveness),
            within_s=_within(table, default.within_s),
            min_committed=min_committed,
            max_view=table.integer("max_view", None, low=0),
        )


def _node_problem(name: object, n: int, clients: int) -> str | None:
    """Why ``name`` is not a node of this scenario ("r<i>" with i < n, "c<j>" with j < clients)."""
    if not isinstance(name, str):
        return f'must be a node name such as "r0" or "c0", got {_type_name(name)}'
    replica = replica_of(name)
    if replica is not None:
        if replica >= n:
            return f"replica {name} out of range: n = {n} (r0..r{n - 1})"
        return None
    client = re.fullmatch(r"c(0|[1-9][0-9]*)", name)
    if client is None:
        return f'unknown node {name!r}: write "r<i>" for a replica or "c<j>" for a client'
    if int(client.group(1)) >= clients:
        return f"client {name} out of range: workload.clients = {clients}"
    return None


def operation_kinds(app: str) -> tuple[str, ...]:
    """The operation kinds a workload for ``app`` may mix (from the app's workload module)."""
    from pbft.app.workload import OPERATION_KINDS

    return tuple(OPERATION_KINDS.get(app, ()))


def behavior_names() -> tuple[str, ...]:
    """The Byzantine behaviours the adversary registry knows, sorted."""
    from adversary.behavior import behavior_names as registered

    return tuple(sorted(registered()))


MAX_WITHIN_S = 3600.0


def _within(table: _Table, default_s: float) -> float:
    """The run's virtual-time deadline, capped: a stalled run lasts until it, trace in memory."""
    within_s = table.duration("within", default_s, positive=True)
    if within_s > MAX_WITHIN_S:
        raise table.error(
            "within",
            f"at most 1h of virtual time, got {format_duration(within_s)}: a run that stalls "
            "goes on until the deadline and keeps its whole trace in memory",
        )
    return within_s
