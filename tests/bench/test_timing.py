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


def test_measure_interleaved_alternates_the_keys_round_by_round():
    from chord.bench.timing import TimingPolicy, measure_interleaved

    seen, inside = [], []
    pol = TimingPolicy(warmup=2, min_rounds=4, max_rounds=4, min_time_s=0.0, max_time_s=10.0, rel_ci=0.0)
    cur = {}

    def mk(key):
        def fn(i):
            assert cur.get("key") == key  # every call runs between its key's enter and leave
            seen.append((key, i))

        return fn

    out = measure_interleaved(
        {1: mk(1), 2: mk(2)},
        pol,
        enter=lambda k: (cur.update(key=k), inside.append(("enter", k))),
        leave=lambda k: (cur.pop("key"), inside.append(("leave", k))),
    )
    # warm-up: both calls of a key inside one enter/leave, then rounds 1 2 | 2 1 | 1 2 | 2 1
    keys = [k for k, _ in seen]
    assert keys[:4] == [1, 1, 2, 2]
    rounds = [k for a, k in inside[4:] if a == "enter"]
    assert rounds == [1, 2, 2, 1, 1, 2, 2, 1]
    # one call index over every key: no key re-reads the weight set another just used
    assert [i for _, i in seen] == list(range(len(seen)))
    assert sorted(out) == [1, 2] and all(o["rounds"] == 4 and o["converged"] is False for o in out.values())
    assert all(o["timer"] == "perf_counter" for o in out.values())


def test_measure_interleaved_stops_at_the_summed_budget_with_equal_rounds():
    import time

    from chord.bench.timing import TimingPolicy, measure_interleaved

    pol = TimingPolicy(warmup=1, min_rounds=2, max_rounds=10_000, min_time_s=0.0, max_time_s=0.05, rel_ci=0.0)
    t0 = time.perf_counter()
    out = measure_interleaved({"a": lambda i: time.sleep(0.002), "b": lambda i: None}, pol)
    took = time.perf_counter() - t0
    assert out["a"]["rounds"] == out["b"]["rounds"] >= 2
    assert took < 1.0  # max_time_s x 2 keys of rounds, plus warm-up and slack
    with pytest.raises(ValueError, match="fns: expected at least one"):
        measure_interleaved({}, pol)


def test_measure_interleaved_times_a_pathological_variant_once():
    import time

    from chord.bench.timing import TimingPolicy, measure_interleaved

    pol = TimingPolicy(warmup=1, min_rounds=3, max_rounds=5, min_time_s=0.0, max_time_s=0.01, rel_ci=1.0)
    out = measure_interleaved({"slow": lambda i: time.sleep(0.05), "fast": lambda i: None}, pol)
    assert out["slow"]["rounds"] == 1 and out["slow"]["single_call"] is True
    assert out["fast"]["rounds"] >= 3 and "single_call" not in out["fast"]


def test_measure_interleaved_rounds_start_warm():
    """The first call after a switch of count is untimed: at 2 threads it pays the pool's wake-up
    (its workers slept through the other count's round), which a row timed alone does not."""
    import time

    from chord.bench.timing import TimingPolicy, measure_interleaved

    cold = {}

    def fn(i):
        if cold.pop("now", False):
            time.sleep(0.02)

    pol = TimingPolicy(
        warmup=1, min_rounds=4, max_rounds=4, min_time_s=0.0, max_time_s=5.0, rel_ci=0.0, min_round_s=0.0
    )
    out = measure_interleaved({1: fn, 2: fn}, pol, enter=lambda k: cold.update(now=True))
    assert all(o["rounds"] == 4 and o["iterations"] == 1 for o in out.values())
    assert all(o["max"] < 0.01 for o in out.values()), out  # no timed round took the cold call
