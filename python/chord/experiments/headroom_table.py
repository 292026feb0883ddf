"""Markdown table of ``chord headroom`` results (one row per cell)."""

from __future__ import annotations

import json
from pathlib import Path

from .significance import format_ci


def load_results(d) -> dict:
    """``<d>/results.json`` of a ``chord headroom --out`` dir; a clear error when it is not one."""
    path = Path(d) / "results.json"
    if not path.is_file():
        raise ValueError(f"--table: {d} has no results.json (expected a `chord headroom --out` directory)")
    try:
        res = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"--table: {path} is not valid JSON ({e})") from None
    if not isinstance(res, dict) or not isinstance(res.get("cells"), dict):
        raise ValueError(f"--table: {path} has no 'cells' object (not written by `chord headroom`)")
    return res


def markdown(out_dirs) -> str:
    """``<dir>/results.json`` of each ``chord headroom --out`` dir -> one markdown table."""
    lines = [
        "| cell | search items | users | groups | fp32 | population | oracle | oracle - population NDCG@10 [95 % CI] "
        "| shuffled oracle | oracle - shuffled [95 % CI] | valid loss pop -> oracle |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in out_dirs:
        res = load_results(d)
        for key, c in res["cells"].items():
            t = {m: v["NDCG@10"] for m, v in c["test"].items()}
            vl = c["valid_loss"]
            lines.append(
                f"| {key} | {c.get('search_items', 1)} | {c['users']} | {c['groups']} | {t['fp32']:.4f} "
                f"| {t['population']:.4f} | {t['oracle']:.4f} | {format_ci(c['oracle_minus_population']['NDCG@10'])} "
                f"| {t['oracle-shuffled']:.4f} | {format_ci(c['oracle_minus_shuffled']['NDCG@10'])} "
                f"| {vl['population']:.3f} -> {vl['oracle']:.3f} |"
            )
    return "\n".join(lines)


def markdown_by_round(out_dirs) -> str:
    """The oracle's test NDCG@10 minus population after each search round (cells that recorded it)."""
    lines = ["| cell | search items | round | oracle NDCG@10 | minus population [95 % CI] |", "|---|---|---|---|---|"]
    for d in out_dirs:
        res = load_results(d)
        for key, c in res["cells"].items():
            for r, v in c.get("oracle_by_round", {}).items():
                lines.append(
                    f"| {key} | {c.get('search_items', 1)} | {r} | {v['NDCG@10']:.4f} "
                    f"| {format_ci(v['minus_population'])} |"
                )
    return "\n".join(lines)
