"""Operations for simulated workloads: one operation from (service, kind, key index, value).

The simulator draws a kind from the scenario's mix, a key index and a value with its own
seeded random source, and asks :func:`operation_for` for the bytes; this module holds no
randomness. Scenario validation checks a mix against :data:`OPERATION_KINDS`.

How the arguments map (docs/services.md):

- kv: key ``f"k{key_index}"``; ``put`` stores ``value``; ``cas`` stores ``value`` only if the
  key is absent (create-if-absent), since a generator without state cannot know the current
  value; ``get`` and ``delete`` ignore ``value``.
- counter: ``add`` adds 1 (so the final count equals the number of adds executed); ``read``.
  Both ignore ``key_index`` and ``value``.
- lock: owner ``f"o{key_index}"`` for ``acquire``, ``steal`` (acquire with steal=True, i.e.
  a lease expired) and ``release``; ``write`` stores ``value`` under ``f"k{key_index}"`` with
  fencing token ``key_index + 1``, standing for a client that holds a possibly old token, so
  the store both accepts and refuses writes as tokens advance; ``read`` reads that key.
"""

from __future__ import annotations

from collections.abc import Callable

from pbft.app import counter, kv, lock

OperationBuilder = Callable[[int, bytes], bytes]


def _kv_key(key_index: int) -> str:
    return f"k{key_index}"


def _owner(key_index: int) -> str:
    return f"o{key_index}"


_BUILDERS: dict[str, dict[str, OperationBuilder]] = {
    "kv": {
        "put": lambda i, value: kv.put(_kv_key(i), value),
        "get": lambda i, value: kv.get(_kv_key(i)),
        "delete": lambda i, value: kv.delete(_kv_key(i)),
        "cas": lambda i, value: kv.cas(_kv_key(i), None, value),
    },
    "counter": {
        "add": lambda i, value: counter.add(1),
        "read": lambda i, value: counter.read(),
    },
    "lock": {
        "acquire": lambda i, value: lock.acquire(_owner(i)),
        "steal": lambda i, value: lock.acquire(_owner(i), steal=True),
        "release": lambda i, value: lock.release(_owner(i)),
        "write": lambda i, value: lock.write(_kv_key(i), value, token=i + 1),
        "read": lambda i, value: lock.read(_kv_key(i)),
    },
}

OPERATION_KINDS: dict[str, tuple[str, ...]] = {
    app: tuple(kinds) for app, kinds in _BUILDERS.items()
}
"""The operation kinds a workload mix may name, per service."""


def operation_for(app: str, kind: str, key_index: int, value: bytes) -> bytes:
    """The operation bytes of ``kind`` on service ``app`` (see the module docstring).

    Raises ValueError naming the problem for an unknown service or kind, a negative
    ``key_index`` or a ``value`` that is not bytes: those are scenario or simulator bugs,
    which validation should have caught before the run.
    """
    builders = _BUILDERS.get(app)
    if builders is None:
        raise ValueError(f"unknown service {app!r} (known: {', '.join(sorted(_BUILDERS))})")
    builder = builders.get(kind)
    if builder is None:
        raise ValueError(
            f"unknown operation kind {kind!r} for service {app!r} "
            f"(known: {', '.join(OPERATION_KINDS[app])})"
        )
    if type(key_index) is not int or key_index < 0:
        raise ValueError(f"key_index must be a non-negative int, got {key_index!r}")
    if not isinstance(value, bytes):
        raise ValueError(f"value must be bytes, got {type(value).__name__}")
    return builder(key_index, value)
