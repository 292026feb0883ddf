"""chord.bench.report.thread_ratio_table: the contended "More threads against 1" table: ratios of
the min and median (bold above the issue's 1.2) and what the pool did in the many-thread row (jobs
alone, jobs a worker helped, the caller's mean wait per shared job)."""

from __future__ import annotations

from chord.bench import report


def _rec(threads: int, mn: float, med: float, pool: dict | None) -> dict:
    return {
        "group": f"kernels M=1 K=64 N=64 t={threads}",
        "params": {"M": 1, "K": 64, "N": 64, "threads": threads, "path": "act8"},
        "stats": {"min": mn, "median": med},
        "extra_info": {"impl": "chord", "role": "chord", "threads": threads, "pool": pool},
    }


def test_ratios_and_pool_columns():
    pool = {"shared": 80, "alone": 20, "stragglers": 2, "helped": 60, "wait_us": 4000}
    md = report.thread_ratio_table([_rec(1, 1e-3, 2e-3, None), _rec(2, 1.3e-3, 1.0e-3, pool)])
    row = md.splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[-5:] == ["**1.30**", "0.50", "20%", "75%", "50"], row


def test_without_new_pool_fields():
    # results written before the pool counted help and waits: those cells stay empty
    md = report.thread_ratio_table([_rec(1, 1e-3, 1e-3, None), _rec(2, 1e-3, 1e-3, {"shared": 10, "alone": 0})])
    cells = [c.strip() for c in md.splitlines()[2].strip("|").split("|")]
    assert cells[-5:] == ["1.00", "1.00", "0%", "", ""]
