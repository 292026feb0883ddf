"""chord.bench.timing.per_call (single calls timed alone, after the untimed warm-up ones), per_call_for
(bounded by time), per_call_threads (thread counts alternated call by call) and threads_row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chord.bench.timing import per_call, per_call_for, per_call_threads, threads_row


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


def test_per_call_for_times_calls_from_start_until_the_time_is_up():
    seen = []
    out = per_call_for(lambda i: seen.append(i), 0.02, start=5)
    assert seen == list(range(5, 5 + len(seen))) and len(out) == len(seen) > 0
    assert out == sorted(out)


def test_per_call_threads_alternates_the_counts_and_their_order():
    before = torch.get_num_threads()
    seen = []
    try:
        out = per_call_threads(lambda i: seen.append((i, torch.get_num_threads())), 3, threads=(1, 2), warmup=1)
    finally:
        torch.set_num_threads(before)
    # one warm-up call at each count, then rounds 1 2 | 2 1 | 1 2, i counting the timed calls
    assert seen == [(0, 1), (0, 2), (0, 1), (1, 2), (2, 2), (3, 1), (4, 1), (5, 2)]
    assert sorted(out) == [1, 2] and all(len(v) == 3 and v == sorted(v) for v in out.values())
    with pytest.raises(ValueError, match="n: expected at least one"):
        per_call_threads(lambda i: None, 0)


def test_threads_row_reads_as_numpy_computes_it():
    g = np.random.default_rng(0)
    a, c = sorted(g.random(11) * 1e-3), sorted(g.random(11) * 1e-3)
    A, C = np.array(a) * 1e3, np.array(c) * 1e3
    want = (
        f"{'pack':6s} t1 min {A.min():8.2f} med {np.median(A):8.2f} | t2 min {C.min():8.2f} med {np.median(C):8.2f}"
        f" p90 {np.percentile(C, 90):8.2f} | t2/t1 min {C.min() / A.min():.2f} med {np.median(C) / np.median(A):.2f}"
    )
    assert threads_row("pack", {1: a, 2: c}, p90=True) == want
    assert threads_row("pack", {1: a, 2: c}) == want.replace(f" p90 {np.percentile(C, 90):8.2f}", "")
