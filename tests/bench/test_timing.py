"""chord.bench.timing.per_call: single calls timed alone, after the untimed warm-up ones."""

from __future__ import annotations

import pytest

from chord.bench.timing import per_call


def test_per_call_times_each_call_alone_after_warmup():
    seen = []
    # a fake clock that advances one tick per reading, plus i ticks inside call i
    state = {"t": 0.0}

    def clock():
        state["t"] += 1.0
        return state["t"]

    def fn(i):
        seen.append(i)
        state["t"] += i * 10.0

    out = per_call(fn, 3, warmup=2, clock=clock)
    assert seen == [0, 1, 0, 1, 2]  # warm-up indices, then the timed ones from 0
    assert out == [1.0, 11.0, 21.0]  # sorted; one tick between the two readings plus the call's own


def test_per_call_rejects_no_calls():
    with pytest.raises(ValueError, match="n: expected at least one"):
        per_call(lambda i: None, 0)
