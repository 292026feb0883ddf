"""The paper-style table from results.json (markdown)."""

from __future__ import annotations

from .runner import METHODS

METRICS = ("HR@5", "HR@10", "NDCG@5", "NDCG@10")
#: row order: the grid's methods, "population" as its two cells (searched on the pretrained and on
#: the random-init CHORD system)
ORDER = tuple(c for m in METHODS for c in ((f"{m}-pretrained", f"{m}-random") if m == "population" else (m,)))


def _row_key(method: str):
    base = method.split("@")[0]
    return (ORDER.index(base) if base in ORDER else len(ORDER), method)


def table(results: dict, budget: float | None = 3.0) -> str:
    """Rows: dataset/backbone x method (at ``budget`` for budgeted methods; None = all budgets);
    columns: full-ranking and 1+99 metrics, average bits, runtime."""
    cells = results["cells"]
    pairs = sorted({"/".join(k.split("/")[:2]) for k in cells})
    head = (
        "| dataset/backbone | method | "
        + " | ".join(f"{m} full" for m in METRICS)
        + " | "
        + " | ".join(f"{m} 1+99" for m in METRICS)
        + " | avg bits | runtime s |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for pair in pairs:
        rows = []
        for k, v in cells.items():
            if not k.startswith(pair + "/") or "test" not in v:
                continue
            meth = k[len(pair) + 1 :]
            if "@" in meth and budget is not None and abs(float(meth.split("@")[1]) - budget) > 1e-9:
                continue
            rows.append((meth, v))
        for meth, v in sorted(rows, key=lambda r: _row_key(r[0])):
            f, s = v["test"]["full"], v["test"]["sampled"]
            lines.append(
                f"| {pair} | {meth} | "
                + " | ".join(f"{f[m]:.4f}" for m in METRICS)
                + " | "
                + " | ".join(f"{s[m]:.4f}" for m in METRICS)
                + f" | {v.get('avg_bits', float('nan')):.2f} | {v.get('runtime_s', 0):.0f} |"
            )
    return "\n".join(lines)


def device_table(results: dict) -> str:
    cells = results["cells"]
    lines = [
        "| dataset/backbone | strategy bytes (named / compact) | fp32 weight bytes | packed bytes | "
        "adapt ms | rerank ms (quantized / fp32, 1+99) |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in sorted(cells.items()):
        if k.endswith("/device"):
            lines.append(
                f"| {'/'.join(k.split('/')[:2])} ({k.split('/')[2]}) | {v['wire_bytes']} / "
                f"{v['wire_bytes_compact']} | {v['fp32_weight_bytes']} | {v['packed_bytes']} | "
                f"{v['adapt_ms']:.2f} | {v['rerank_ms']:.2f} / {v['rerank_fp32_ms']:.2f} |"
            )
    return "\n".join(lines)


def significance_table(results: dict) -> str:
    """CHORD minus each other row on the same test users (full ranking): mean difference and paired
    bootstrap 95 % interval of HR@10 and NDCG@10; ``*`` = the interval excludes 0."""
    from .significance import format_ci

    sig = results.get("significance", {})
    lines = [
        "| dataset/backbone | CHORD row | minus | dHR@10 [95 % CI] | dNDCG@10 [95 % CI] | users |",
        "|---|---|---|---|---|---|",
    ]
    for pair, refs in sorted(sig.items()):
        for ref, others in sorted(refs.items()):
            for other, m in sorted(others.items(), key=lambda r: _row_key(r[0])):
                lines.append(
                    f"| {pair} | {ref} | {other} | {format_ci(m['HR@10'])} | {format_ci(m['NDCG@10'])} | "
                    f"{m['HR@10']['users']} |"
                )
    return "\n".join(lines)
