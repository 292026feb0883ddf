"""chord bench's read roof (``chord.bench.read_roof`` and ``machine.copy_bandwidth``): every probe
variant is measured on every page size the OS offers, and the roof is the best figure. The roof
taken beside each memory-bound case (kernels M=1): the record's fields, its fraction computed from
them, the host-mode flag at the tolerance, the group's span, the report's table, and the probe
itself (``read_roof.AdjacentProbe``)."""

from __future__ import annotations

import itertools

import pytest
import torch

from chord import host_memory
from chord.backends import cpu as cpu_backend
from chord.bench import machine, read_roof, report, results, rotation, runner
from chord.bench.config import BenchConfig
from chord.bench.timing import TimingPolicy

needs_cpp = pytest.mark.skipif(not cpu_backend.HAVE_CPP, reason="C++ extension not built")


@needs_cpp
def test_every_variant_on_every_page_size():
    got = read_roof.stream_read(host_memory.MIN_BYTES, threads=2, repeats=2, chunk_bytes=1 << 20)
    pages = ["4k"] + (["2m"] if host_memory.hugepages_available() else [])
    assert sorted(got) == sorted(f"{p}/{v[0]}" for p in pages for v in read_roof.VARIANTS)
    assert all(g > 0 and g == g for g in got.values())


@needs_cpp
def test_roof_is_the_best_reader():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bw = machine.copy_bandwidth(nbytes=8 << 20, repeats=2, chunk_bytes=2 << 20)
    finally:
        torch.set_num_threads(old)
    assert bw["read_GBps"] == max([bw["read_sum_GBps"], *bw["read_stream_GBps"].values()])
    assert bw["read_stream_GBps"] and bw["copy_GBps"] > 0


class FakeProbe:
    """Scripted GB/s, one per probe call, in order; records what it was asked."""

    def __init__(self, values):
        self.values = iter(values)
        self.calls: list[tuple[int, int, float]] = []

    def __call__(self, threads, nbytes, seconds):
        self.calls.append((threads, nbytes, seconds))
        return {"GBps": next(self.values), "page": "2m", "slice_bytes": nbytes, "seconds": seconds}


def _cfg(**kw):
    base = dict(
        suites=("kernels",),
        threads=(1,),
        shapes=("1x64x32", "4x64x32"),
        mixes=("mix3",),
        paths=("act8",),
        baselines=("torch_fp32",),
        policy=TimingPolicy.quick(),
        roof_probe_s=0.05,
        roof_tolerance=0.15,
    )
    return BenchConfig(**{**base, **kw})


def _by_impl(doc, M):
    return {r["extra_info"]["impl"]: r for r in doc["benchmarks"] if r["params"]["M"] == M}


def test_memory_bound_records_carry_the_roof_beside_them(fast_bandwidth):
    # torch_fp32: 30 before, 31 after (steady); chord: 40 before, 20 after (changed)
    probe = FakeProbe([30.0, 31.0, 40.0, 20.0])
    doc = runner.run(_cfg(), log=lambda s: None, read_probe=probe)
    m1, m4 = _by_impl(doc, 1), _by_impl(doc, 4)
    assert len(probe.calls) == 4  # two per M=1 record, none for M=4 (not memory-bound)
    assert doc["chord"]["roof_probes"] == 4 and doc["chord"]["roof_probe_elapsed_s"] >= 0
    chord_bytes = m1["chord"]["extra_info"]["bytes_read"]
    assert {c[1] for c in probe.calls} == {chord_bytes}  # one slice size for the group: chord's weight
    assert {c[0] for c in probe.calls} == {1} and {c[2] for c in probe.calls} == {0.05}
    fp, ch = m1["torch_fp32"]["extra_info"], m1["chord"]["extra_info"]
    assert fp["read_GBps_adjacent"]["before"] == 30.0 and fp["read_GBps_adjacent"]["after"] == 31.0
    assert fp["read_GBps_adjacent"]["roof"] == 31.0 and fp["read_GBps_adjacent"]["page"] == "2m"
    assert ch["read_GBps_adjacent"]["roof"] == 40.0
    (b0, a0), (b1, a1) = fp["read_GBps_adjacent"]["at_s"], ch["read_GBps_adjacent"]["at_s"]
    assert 0 <= b0 <= a0 <= b1 <= a1  # seconds since the run began, in the order timed
    # the fraction is the record's GB/s over the larger probe, beside the run-level one (kept)
    assert fp["read_roofline_fraction_adjacent"] == pytest.approx(fp["GBps"] / 31.0)
    assert ch["read_roofline_fraction_adjacent"] == pytest.approx(ch["GBps"] / 40.0)
    assert ch["read_GBps"] == 10.0 and ch["read_roofline_fraction"] == pytest.approx(ch["GBps"] / 10.0)
    assert fp["host_mode_changed"] is False and ch["host_mode_changed"] is True
    # the group: every probe of it, on every record of it
    for ex in (fp, ch):
        assert ex["read_GBps_group"] == {"min": 20.0, "max": 40.0, "probes": 4}
        assert ex["group_mode_changed"] is True
    for r in m4.values():
        assert not any(k.startswith(("read_GBps_adjacent", "host_mode", "read_GBps_group")) for k in r["extra_info"])
    assert results.validate(doc) == []


@pytest.mark.parametrize(
    "before,after,tol,changed",
    [(30.0, 34.4, 0.15, False), (30.0, 34.6, 0.15, True), (34.6, 30.0, 0.15, True), (30.0, 34.6, 0.2, False)],
)
def test_host_mode_flag_at_the_tolerance(before, after, tol, changed):
    rec = {"extra_info": {"GBps": 15.0}}
    results.add_adjacent_roof(rec, {"GBps": before}, {"GBps": after}, tol)
    ex = rec["extra_info"]
    assert ex["host_mode_changed"] is changed
    assert ex["read_roofline_fraction_adjacent"] == pytest.approx(15.0 / max(before, after))


def test_group_span_flag_needs_the_span_over_the_tolerance():
    recs = []
    for impl, (b, a) in zip(("torch_fp32", "chord"), ((30.0, 32.0), (33.0, 34.0))):
        rec = {"group": "g", "extra_info": {"impl": impl, "GBps": 10.0}}
        results.add_adjacent_roof(rec, {"GBps": b}, {"GBps": a}, 0.15)
        recs.append(rec)
    recs.append({"group": "g", "extra_info": {"impl": "other"}})  # no roof beside it: left alone
    results.add_group_roofs(recs, 0.15)
    assert all(r["extra_info"]["group_mode_changed"] is False for r in recs[:2])
    assert recs[0]["extra_info"]["read_GBps_group"] == {"min": 30.0, "max": 34.0, "probes": 4}
    assert "read_GBps_group" not in recs[2]["extra_info"]
    results.add_group_roofs(recs, 0.1)
    assert all(r["extra_info"]["group_mode_changed"] is True for r in recs[:2])


def test_probe_off_and_without_an_extension(fast_bandwidth):
    probe = FakeProbe(itertools.repeat(30.0))
    doc = runner.run(_cfg(roof_probe_s=0.0), log=lambda s: None, read_probe=probe)
    assert probe.calls == [] and not any("read_GBps_adjacent" in r["extra_info"] for r in doc["benchmarks"])
    doc = runner.run(_cfg(shapes=("1x64x32",)), log=lambda s: None, read_probe=lambda t, n, s: None)
    assert not any("read_GBps_adjacent" in r["extra_info"] for r in doc["benchmarks"])


def test_bad_roof_settings_are_errors():
    with pytest.raises(ValueError, match="roof_probe_s: expected >= 0"):
        _cfg(roof_probe_s=-0.1).validate()
    with pytest.raises(ValueError, match="roof_tolerance: expected >= 0"):
        _cfg(roof_tolerance=-1).validate()


def test_report_shows_the_roof_beside_each_row_and_the_mode(fast_bandwidth):
    doc = runner.run(_cfg(threads=(1, 2)), log=lambda s: None, read_probe=FakeProbe([30, 31, 40, 20, 60, 61, 62, 63]))
    md = report.markdown(doc)
    table = md.split("### Memory-bound rows against the read roof taken beside them", 1)[1].split("###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| M=")]
    assert len(rows) == 4  # M=1 at t=1 and t=2, fp32 and chord; no M=4 row
    assert "30.0 / 31.0" in rows[0] and rows[0].endswith("| steady |")
    assert "40.0 / 20.0" in rows[1] and rows[1].endswith("| **changed** |")
    frac = doc["benchmarks"][1]["extra_info"]["read_roofline_fraction_adjacent"]
    assert f"| {frac:.0%} |" in rows[1]
    assert all(r.endswith("| steady |") for r in rows[2:])
    assert "more than 15%" in table
    # the t=1 group spans 20-40 GB/s: named under the table; the t=2 group (60-63) is not
    assert "M=1 K=64 N=32 t=1 (20.0–40.0 GB/s)" in table and "t=2 (" not in table
    assert "on 2 MiB pages" in md and "†" not in table
    # a row faster than the roof beside it: its fraction is marked and the mark explained
    doc["benchmarks"][1]["extra_info"]["read_roofline_fraction_adjacent"] = 1.08
    table = report.adjacent_roof_table(doc["benchmarks"], "min", 0.15)
    assert "| 108% † |" in table and "† above 100 %" in table


@needs_cpp
def test_adjacent_probe_cycles_through_its_footprint_on_chords_page_kind():
    clock = itertools.count(0.0, 0.001)  # a fake clock: the window is the minimum reads, fast
    probe = read_roof.AdjacentProbe(
        llc_bytes=1 << 20, clock=lambda: next(clock), target_bytes=8 << 20, max_slice_bytes=6 << 20
    )
    got = probe(1, 1 << 20, 0.0)
    assert got["GBps"] > 0 and got["variant"] in {v[0] for v in read_roof.VARIANTS}
    assert got["reads"] == 2 * len(read_roof.VARIANTS) and got["slice_bytes"] == 1 << 20
    assert got["page"] == ("2m" if host_memory.hugepages_available() else "4k")
    assert got["footprint_bytes"] == probe._buf.size == 8 << 20  # 8 slices of 1 MiB: the target
    cursor = probe._cursor
    probe(2, 1 << 20, 0.0)
    assert probe._cursor == (cursor + 10 * (1 << 20)) % (8 << 20)  # continues, never rereads
    big = probe(1, 200 << 20, 0.0)  # capped slice; two of them (12 MiB) to reach the target
    assert big["slice_bytes"] == 6 << 20 and big["footprint_bytes"] == probe._buf.size == 12 << 20
    small = probe(1, 1 << 20, 0.0)  # the grown buffer stays; the reads cycle through 8 MiB of it
    assert small["footprint_bytes"] == 8 << 20 and probe._cursor <= 8 << 20


@pytest.mark.parametrize("llc", sorted({machine.last_level_cache_bytes(), 1 << 20, 32 << 20, 96 << 20, 512 << 20}))
def test_probe_footprint_is_past_the_cache_by_the_rotation_rule(llc):
    # the sizing rule alone: whole slices, at least the kernels suite's target, which is at least
    # KERNEL_FACTOR x the last-level cache (read from this machine, or any cache size)
    target = rotation.kernel_target_bytes(llc)
    assert target >= rotation.KERNEL_FACTOR * llc and target >= rotation.KERNEL_MIN_MB << 20
    for slice_bytes in (4096, 1 << 20, 6_340_000, 16_826_368, 25_165_824, 64 << 20, 1 << 30):
        fp = rotation.probe_footprint_bytes(slice_bytes, target)
        assert fp % slice_bytes == 0 and fp >= 2 * slice_bytes  # a slice is never reread at once
        assert fp >= target >= 4 * llc
        assert fp < target + slice_bytes or fp == 2 * slice_bytes  # no more than needed


def test_probe_reads_as_many_bytes_as_the_case_rotates(monkeypatch):
    # the runner's probe and its cases share the rule: for weights of the M = 1 shapes (6.3-64 MB)
    # the probe cycles through exactly the bytes the case rotates; a grid's rotation settings move
    # both. Where the case's kernel_max_sets cap leaves it short of the target, the probe still
    # reads the whole target (its roof stays the memory's)
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 32 << 20)
    for cfg in (BenchConfig(), BenchConfig(kernel_rotate_mb=512), BenchConfig(kernel_rotate_factor=16.0)):
        ctx = runner.RunContext(cfg, log=lambda s: None)
        target = max(cfg.kernel_rotate_mb << 20, cfg.kernel_rotate_factor * (32 << 20))
        for mw_bytes in (6_340_000, 16_826_368, 25_165_824, 64 << 20):
            assert ctx.read_probe.footprint(mw_bytes) == ctx.n_sets(mw_bytes, kernels=True) * mw_bytes
        assert ctx.read_probe.footprint(1 << 20) >= target > ctx.n_sets(1 << 10, kernels=True) * (1 << 10)


def test_run_level_roof_reads_the_rotation_target(monkeypatch):
    monkeypatch.setattr(machine, "last_level_cache_bytes", lambda: 64 << 20)
    asked = []
    monkeypatch.setattr(
        machine,
        "copy_bandwidth",
        lambda nbytes=None, device="cpu": asked.append(nbytes) or {"copy_GBps": 1.0, "read_GBps": 1.0},
    )
    ctx = runner.RunContext(BenchConfig(), log=lambda s: None)
    ctx.bandwidth(1)
    assert asked == [256 << 20] == [ctx.rotation_target(kernels=True)]  # max(256 MiB, 4 x 64 MiB)
