"""Hypothesis strategies that build valid operations for every built-in service."""

from __future__ import annotations

from hypothesis import strategies as st

from pbft.app import counter, kv, lock

# A small key space so operations collide on keys and exercise overwrites and deletes.
keys = st.sampled_from(["a", "b", "k0", "k1", "ключ", "x" * 256])
values = st.binary(max_size=16)
owners = st.sampled_from(["alice", "bob", "carol"])
tokens = st.integers(min_value=-2, max_value=12)

kv_operations = st.one_of(
    st.builds(kv.put, keys, values),
    st.builds(kv.get, keys),
    st.builds(kv.delete, keys),
    st.builds(kv.cas, keys, st.none() | values, values),
)
counter_operations = st.one_of(
    st.builds(counter.add, st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.builds(counter.add, st.integers(min_value=-5, max_value=5)),
    st.just(counter.read()),
)
lock_operations = st.one_of(
    st.builds(lock.acquire, owners, steal=st.booleans()),
    st.builds(lock.release, owners),
    st.builds(lock.write, keys, values, tokens),
    st.builds(lock.read, keys),
)

OPERATIONS = {"kv": kv_operations, "counter": counter_operations, "lock": lock_operations}
