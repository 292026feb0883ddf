"""PNG plots of a results document (matplotlib, Agg backend: no display needed).

* ``speedup_vs_m.png``: chord's speedup over same-run torch fp32 against M, one line per bit
  mix x activation path, one panel per thread count (kernels suite, most common K x N).
* ``bandwidth.png``: effective GB/s of every kernels-suite implementation at M=1, against the
  same-run copy bandwidth (the roofline), one panel per thread count.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def _plt():
    import matplotlib  # noqa: PLC0415 - optional dependency ([plot] extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _kernel_recs(doc):
    return [r for r in doc.get("benchmarks", []) if r["extra_info"].get("suite") == "kernels"]


def speedup_vs_m(doc: dict, path: str | Path) -> Path | None:
    recs = [
        r
        for r in _kernel_recs(doc)
        if r["extra_info"]["role"] == "chord" and (r["extra_info"].get("ratios") or {}).get("torch_fp32")
    ]
    if not recs:
        return None
    kn = Counter((r["params"]["K"], r["params"]["N"]) for r in recs).most_common(1)[0][0]
    recs = [r for r in recs if (r["params"]["K"], r["params"]["N"]) == kn]
    threads = sorted({r["params"]["threads"] for r in recs})
    plt = _plt()
    fig, axes = plt.subplots(1, len(threads), figsize=(5.5 * len(threads), 4), squeeze=False)
    for ax, t in zip(axes[0], threads):
        lines: dict[str, list] = {}
        for r in recs:
            if r["params"]["threads"] == t:
                lines.setdefault(f"{r['params']['mix']} {r['params']['path']}", []).append(
                    (r["params"]["M"], r["extra_info"]["ratios"]["torch_fp32"])
                )
        mixes = sorted({label.split(" ")[0] for label in lines})
        for label, pts in sorted(lines.items()):
            pts.sort()
            mix, act = label.split(" ", 1)
            # colour = bit mix, line style = activation path
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                label=label,
                color=f"C{mixes.index(mix)}",
                ls="-" if act == "act8" else "--",
            )
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("M (rows of x)")
        ax.set_ylabel("speedup over torch fp32 (same run)")
        ax.set_title(f"chord mp_linear, K={kn[0]} N={kn[1]}, {t} thread(s)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bandwidth(doc: dict, path: str | Path) -> Path | None:
    recs = [r for r in _kernel_recs(doc) if r["params"].get("M") == 1 and r["extra_info"].get("GBps")]
    if not recs:
        return None
    threads = sorted({r["params"]["threads"] for r in recs})
    bw = doc.get("chord", {}).get("bandwidth", {})
    plt = _plt()
    fig, axes = plt.subplots(len(threads), 1, figsize=(11, 3.6 * len(threads)), squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        rs = [r for r in recs if r["params"]["threads"] == t]
        labels = [
            f"{r['extra_info']['impl']}\n{r['params'].get('mix', '')} {r['params'].get('path', '')}\n"
            f"{r['params']['K']}x{r['params']['N']}"
            for r in rs
        ]
        colors = [
            "tab:orange"
            if r["extra_info"]["role"] == "chord"
            else "tab:blue"
            if r["extra_info"]["role"] == "baseline"
            else "tab:green"
            for r in rs
        ]
        ax.bar(range(len(rs)), [r["extra_info"]["GBps"] for r in rs], color=colors)
        roof = bw.get(str(t), {}).get("copy_GBps")
        if roof:
            ax.axhline(roof, color="red", ls="--", label=f"copy bandwidth {roof:.1f} GB/s")
            ax.legend(fontsize=8)
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels(labels, fontsize=6, rotation=90)
        ax.set_ylabel("effective GB/s (weight bytes / time)")
        ax.set_title(f"M=1 mat-vec, {t} thread(s): orange chord, blue baselines, green peers")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(doc: dict, out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = [speedup_vs_m(doc, out_dir / "speedup_vs_m.png"), bandwidth(doc, out_dir / "bandwidth.png")]
    return [p for p in made if p is not None]
