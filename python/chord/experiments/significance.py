"""Paired bootstrap confidence intervals for differences between two methods on the same users.

Every row of the experiment table is evaluated on the same test users, so two methods are compared
user by user: the per-user metric difference ``d_u = m_a(u) - m_b(u)`` is resampled over users with
replacement (the same users for both methods: paired), and the 2.5 / 97.5 percentiles of the
resampled mean difference give a 95 % interval. An interval that excludes 0 means the ordering of the
two methods is unlikely to flip on another draw of users from the same population; it says nothing
about another training seed.

Ranks follow :mod:`chord.eval.metrics`: 0-based, pessimistic on ties.
"""

from __future__ import annotations

import numpy as np

METRICS = ("HR@10", "NDCG@10")


def per_user(ranks, metric: str) -> np.ndarray:
    """ranks int [n] (0-based) -> float64 [n]: the metric of each user.

    ``HR@k``: 1 if rank < k else 0. ``NDCG@k``: 1 / log2(rank + 2) if rank < k else 0 (one relevant item).
    The mean over users equals :func:`chord.eval.metrics.metrics_from_ranks`."""
    r = np.asarray(ranks, dtype=np.float64)
    name, _, k = metric.partition("@")
    if not k.isdigit() or name not in ("HR", "NDCG"):
        raise ValueError(f"metric: expected 'HR@k' or 'NDCG@k', got {metric!r}")
    k = int(k)
    if name == "HR":
        return (r < k).astype(np.float64)
    return np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0)


def paired_bootstrap(a, b, resamples: int = 1000, seed: int = 0, level: float = 0.95, chunk: int = 100) -> dict:
    """Per-user values a, b float [n] (same users, same order) -> paired bootstrap of mean(a - b).

    Returns ``{"diff": mean(a - b), "lo": .., "hi": .. (percentile interval at ``level``),
    "significant": lo > 0 or hi < 0, "resamples": .., "users": n}``. Seeded: the same inputs and seed
    give the same interval. Resamples are drawn ``chunk`` at a time to bound memory (``chunk`` x n)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"a, b: expected two non-empty 1-D arrays of one shape, got {a.shape} and {b.shape}")
    d, n = a - b, a.size
    return _interval(d, lambda rng, m: d[rng.integers(0, n, size=(m, n))].mean(1), resamples, seed, level, chunk)


def seed_user_bootstrap(a, b, resamples: int = 1000, seed: int = 0, level: float = 0.95, chunk: int = 100) -> dict:
    """a float [S, n]: one method's per-user values under S training seeds; b float [n] (the same
    users, one fixed method) or [S, n] (a baseline that comes with each seed) -> bootstrap of the
    mean over seeds and users of ``a - b``.

    Each resample draws the users (paired: the same users for a and b) *and* the seeds, both with
    replacement, so the interval covers the training seed as well as the draw of users (with few
    seeds only coarsely: 3 seeds give 10 distinct seed multisets). Same return keys as
    :func:`paired_bootstrap`, plus ``"seeds": S``; S = 1 gives exactly its interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or b.shape not in (a.shape[1:], a.shape):
        raise ValueError(f"a, b: expected a [S, n] and b [n] or [S, n] (non-empty), got {a.shape} and {b.shape}")
    S, n = a.shape
    b = np.broadcast_to(b, a.shape)
    if S == 1:
        return {**paired_bootstrap(a[0], b[0], resamples, seed, level, chunk), "seeds": 1}
    d = a - b

    def draw(rng, m):
        su, uu = rng.integers(0, S, size=(m, S)), rng.integers(0, n, size=(m, n))
        return d[su[:, :, None], uu[:, None, :]].mean((1, 2))

    return {**_interval(d, draw, resamples, seed, level, chunk), "seeds": int(S)}


def _interval(d: np.ndarray, draw, resamples: int, seed: int, level: float, chunk: int) -> dict:
    """Percentile interval of ``draw(rng, m) -> m resampled means of d`` (float [..., n] differences)."""
    if resamples < 1:
        raise ValueError(f"resamples: expected >= 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for s in range(0, resamples, chunk):
        m = min(chunk, resamples - s)
        means[s : s + m] = draw(rng, m)
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return {
        "diff": float(d.mean()),
        "lo": float(lo),
        "hi": float(hi),
        "significant": bool(lo > 0 or hi < 0),
        "resamples": int(resamples),
        "users": int(d.shape[-1]),
    }


def compare(ranks: dict, reference: str, others, metrics=METRICS, **kw) -> dict:
    """ranks {method: int [n]} (same users) -> {other: {metric: paired_bootstrap(ref, other)}}:
    ``reference`` minus each of ``others`` (a positive diff means the reference scores higher)."""
    if reference not in ranks:
        raise KeyError(f"reference: {reference!r} not among {sorted(ranks)}")
    out = {}
    for o in others:
        if o == reference or o not in ranks:
            continue
        out[o] = {m: paired_bootstrap(per_user(ranks[reference], m), per_user(ranks[o], m), **kw) for m in metrics}
    return out


def format_ci(r: dict, digits: int = 4) -> str:
    """``+0.0012 [-0.0008, +0.0031]`` with a trailing ``*`` when the interval excludes 0."""
    f = f"{{:+.{digits}f}}"
    return f"{f.format(r['diff'])} [{f.format(r['lo'])}, {f.format(r['hi'])}]" + ("*" if r["significant"] else "")
