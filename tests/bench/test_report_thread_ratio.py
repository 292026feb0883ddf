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
    assert cells[-6:] == ["**1.30**", "0.50", "", "20%", "75%", "50"], row  # row after row: no paired ratio


def test_without_new_pool_fields():
    # results written before the pool counted help and waits: those cells stay empty
    md = report.thread_ratio_table([_rec(1, 1e-3, 1e-3, None), _rec(2, 1e-3, 1e-3, {"shared": 10, "alone": 0})])
    cells = [c.strip() for c in md.splitlines()[2].strip("|").split("|")]
    assert cells[-6:] == ["1.00", "1.00", "", "0%", "", ""]


def test_paired_ratio_of_interleaved_rows():
    """Interleaved rows: the median of round-by-round ratios. Here the 1-thread row had one lucky
    round (the ratio of the mins reads 1.5) while every pair of rounds reads 1.0-1.1."""
    one = _rec(1, 1e-3, 1.5e-3, None)
    many = _rec(2, 1.5e-3, 1.55e-3, {"shared": 5, "alone": 0})
    one["stats"]["data"] = [1.5e-3, 1.0e-3, 1.5e-3, 1.6e-3, 1.5e-3]
    many["stats"]["data"] = [1.5e-3, 1.6e-3, 1.65e-3, 1.6e-3, 1.5e-3]
    assert report.paired_ratio(one, many) is None  # not interleaved: rounds are not pairs
    for r in (one, many):
        r["extra_info"]["interleaved_threads"] = [1, 2]
    assert report.paired_ratio(one, many) == 1.0  # median of 1, 1.6, 1.1, 1, 1
    cells = [c.strip() for c in report.thread_ratio_table([one, many]).splitlines()[2].strip("|").split("|")]
    assert cells[-6:-3] == ["**1.50**", "1.03", "1.00"]
    many["stats"]["data"] = many["stats"]["data"][:-1]  # unequal rounds: no pairs
    assert report.paired_ratio(one, many) is None
