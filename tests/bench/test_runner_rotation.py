"""How much weight each benchmark case rotates through (so every call streams from memory, not
from the last-level cache), and where the ggml peer's weights live."""

from __future__ import annotations

import argparse

import pytest

from chord.bench import cli, machine, runner
from chord.bench.config import BenchConfig


@pytest.fixture
def ctx(monkeypatch):
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 32 << 20)
    return runner.RunContext(BenchConfig(), log=lambda s: None)


def test_kernels_rotate_past_the_caches(ctx):
    # 2 x a 32 MiB L3 (64 MB) left part of an M = 1 weight rotation cached: the kernels suite
    # rotates >= max(256 MiB, 4 x L3), the other suites keep 2 x L3
    assert ctx.rotation_target(kernels=True) == 256 << 20
    assert ctx.rotation_target() == 64 << 20
    mix3 = 6.34e6  # chord mix3 4096^2, bytes per call
    n = ctx.n_sets(mix3, kernels=True)
    assert n * mix3 >= 256 << 20 and (n - 1) * mix3 < 256 << 20  # the target plus at most one set
    assert ctx.n_sets(mix3) == 11  # other suites: 2 x L3, as before
    assert ctx.n_sets(1000, kernels=True) == 256 and ctx.n_sets(1000) == 32  # tiny sets: capped
    assert ctx.n_sets(1 << 30, kernels=True) == 2  # one set past the target: two still rotate
    assert ctx.doc["chord"]["kernel_rotation_target_bytes"] == 256 << 20


def test_a_large_cache_raises_the_kernel_rotation(monkeypatch):
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 256 << 20)
    c = runner.RunContext(BenchConfig(), log=lambda s: None)
    assert c.rotation_target(kernels=True) == 4 * (256 << 20)


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"peer_pages": ("own", "1g")}, "peer_pages"),
        ({"peer_pages": ()}, "peer_pages"),
        ({"kernel_rotate_mb": -1}, "kernel_rotate_mb"),
        ({"kernel_max_sets": 1}, "kernel_max_sets"),
    ],
)
def test_bad_rotation_or_pages_settings_are_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        BenchConfig(**kw).validate()


def test_peer_pages_from_the_command_line():
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    assert cli.build_config(p.parse_args([])).peer_pages == ("own", "2m")  # both by default
    assert cli.build_config(p.parse_args(["--peer-pages", "2m"])).peer_pages == ("2m",)


def test_time_case_interleaves_thread_counts_and_names_records_alike(monkeypatch):
    """``RunContext.time_case``: row after row by default; with ``interleave_threads`` one
    implementation at a time, its counts' rounds alternating, the calls running at the count of
    their round; the records (names, params, groups) are the same either way."""
    import torch

    from chord.bench.baselines import Prepared
    from chord.bench.timed import Timed
    from chord.bench.timing import TimingPolicy

    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 32 << 20)
    # one call a round (min_round_s 0), three rounds
    pol = TimingPolicy(
        warmup=1, min_rounds=3, max_rounds=3, min_time_s=0.0, max_time_s=1.0, rel_ci=0.0, min_round_s=0.0
    )
    before = torch.get_num_threads()

    def run(interleave):
        cfg = BenchConfig(threads=(1, 2), interleave_threads=interleave, policy=pol, roof_probe_s=0)
        ctx = runner.RunContext(cfg, log=lambda s: None)
        ctx.bandwidth = lambda t: {"copy_GBps": 1.0, "read_GBps": 1.0}
        calls = []

        def item(impl):
            def prepare(t):
                assert torch.get_num_threads() == t  # prepared under its own count
                return Prepared(lambda i: calls.append((impl, torch.get_num_threads())), 8, 1, impl)

            return Timed(impl, "chord", {"M": 1, "threads": None, "path": "x"}, prepare, extra={"k": impl})

        ctx.time_case("kernels", lambda t: f"kernels M=1 t={t}", [item("a"), item("b")])
        return ctx, calls

    try:
        seq_ctx, seq = run(False)
        il_ctx, il = run(True)
    finally:
        torch.set_num_threads(before)
    assert not seq_ctx.interleaving() and il_ctx.interleaving()
    # row after row: a and b at 1 thread, then both at 2
    assert [k for k in dict.fromkeys(seq)] == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    # interleaved: a's counts alternate (two warm-up calls at each, then rounds 1 2 | 2 1 | 1 2,
    # each an untimed call and a timed one), then b's
    a_calls = [t for impl, t in il if impl == "a"]
    assert a_calls == [1, 1, 2, 2] + [1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2] and il.index(("b", 1)) == len(a_calls)
    names = lambda c: [(r["name"], r["group"], r["params"]["threads"]) for r in c.records]  # noqa: E731
    assert sorted(names(seq_ctx)) == sorted(names(il_ctx))
    assert all(r["extra_info"]["interleaved_threads"] == [1, 2] for r in il_ctx.records)
    assert not any("interleaved_threads" in r["extra_info"] for r in seq_ctx.records)
    assert all(r["extra_info"]["k"] == r["extra_info"]["impl"] for r in il_ctx.records)
    # contended runs interleave unless told not to
    assert runner.RunContext(BenchConfig(contend=1), log=lambda s: None).interleaving()
    assert not runner.RunContext(BenchConfig(contend=1, interleave_threads=False), log=lambda s: None).interleaving()
