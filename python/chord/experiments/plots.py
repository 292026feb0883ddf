"""Figures of the experiment grid (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math

import torch


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(ax, xlabel: str, ylabel: str, title: str | None = None, legend: int = 7) -> None:
    """Axis labels, the panel title (if any) and the legend (at font size ``legend``)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=legend)


def _save(fig, path, **savefig) -> None:
    """Write ``fig`` to ``path`` at 110 dpi (tight layout unless ``bbox_inches`` is given) and free it."""
    if "bbox_inches" not in savefig:
        fig.tight_layout()
    fig.savefig(path, dpi=110, **savefig)
    _plt().close(fig)


def importance_heatmap(log_imp: torch.Tensor, codes: torch.Tensor, specs, path, title: str = "") -> None:
    """log_imp float [U, N], codes long [U, N]: for each user, a layers x channels image of log2
    importance (left) and of the codes it was tiered into (right). Layers with fewer channels
    are padded (blank)."""
    plt = _plt()
    U = log_imp.shape[0]
    L, Cmax = len(specs), max(s.channels for s in specs)
    fig, axes = plt.subplots(U, 2, figsize=(12, 1.2 + 0.28 * L * U), squeeze=False)
    for u in range(U):
        img = torch.full((L, Cmax), float("nan"))
        cimg = torch.full((L, Cmax), float("nan"))
        off = 0
        for i, s in enumerate(specs):
            img[i, : s.channels] = log_imp[u, off : off + s.channels].float().cpu()
            cimg[i, : s.channels] = codes[u, off : off + s.channels].float().cpu()
            off += s.channels
        for ax, im, cmap, lab in ((axes[u, 0], img, "viridis", "log2 importance"), (axes[u, 1], cimg, "magma", "code")):
            h = ax.imshow(im.numpy(), aspect="auto", interpolation="nearest", cmap=cmap)
            ax.set_yticks(range(L))
            ax.set_yticklabels([s.name for s in specs], fontsize=6)
            ax.set_title(f"user {u}: {lab}", fontsize=8)
            fig.colorbar(h, ax=ax, fraction=0.02)
        axes[u, 0].set_xlabel("output channel", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)


def budget_sweep(results: dict, path, metric: str = "NDCG@10", mode: str = "full") -> list[str]:
    """One panel per dataset/backbone: ``metric`` vs average bits for every swept method, with the
    fp32 level and the uniform PTQ points. ``results`` = results.json content."""
    plt = _plt()
    cells = results["cells"]
    pairs = sorted({"/".join(k.split("/")[:2]) for k in cells})
    pairs = [p for p in pairs if any(k.startswith(p + "/") and "@" in k for k in cells)]
    if not pairs:
        return []
    cols = min(2, len(pairs))
    rows = math.ceil(len(pairs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, pairs):
        series = {}
        for k, v in cells.items():
            if not k.startswith(pair + "/") or "@" not in k or "test" not in v:
                continue
            meth, b = k[len(pair) + 1 :].split("@")
            series.setdefault(meth, []).append((float(b), v["test"][mode][metric]))
        for meth, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=meth)
        ptq = [
            (float(k.split("ptq")[-1]), v["test"][mode][metric])
            for k, v in cells.items()
            if k.startswith(pair + "/ptq") and "test" in v
        ]
        if ptq:
            ptq.sort()
            ax.plot([p[0] for p in ptq], [p[1] for p in ptq], "k--", marker="s", label="uniform PTQ")
        if f"{pair}/fp32" in cells:
            ax.axhline(cells[f"{pair}/fp32"]["test"][mode][metric], color="gray", ls=":", label="fp32")
        _label(ax, "average bits per weight", f"{metric} ({mode})", pair)
    _save(fig, path)
    return pairs


def accuracy_vs_bits(table: list[dict], path, metric: str = "NDCG@10", mode: str = "full") -> None:
    """``chord demo``'s table (rows with ``key``, ``method``, ``avg_bits``, ``test``) as ``metric``
    vs average bits: CHORD's budgets as one line, uniform PTQ as another, other fixed strategies
    as points, fp32 as a horizontal line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    chord = sorted((r["avg_bits"], r["test"][mode][metric]) for r in table if r["key"].startswith("chord@"))
    ptq = sorted(
        (r["avg_bits"], r["test"][mode][metric]) for r in table if r["key"].startswith("ptq") and r["key"][3:].isdigit()
    )
    if chord:
        ax.plot(*zip(*chord), marker="o", color="C3", label="CHORD (per-user codes)")
    if ptq:
        ax.plot(*zip(*ptq), marker="s", ls="--", color="k", label="uniform PTQ")
    for i, r in enumerate(
        r for r in table if not r["key"].startswith(("chord@", "fp32")) and not r["key"][3:].isdigit()
    ):
        ax.plot([r["avg_bits"]], [r["test"][mode][metric]], marker="D", ls="", color=f"C{i}", label=r["method"])
    for r in table:
        if r["key"] == "fp32":
            ax.axhline(r["test"][mode][metric], color="gray", ls=":", label="fp32")
    ax.set_xscale("log", base=2)
    _label(ax, "average bits per weight", f"test {metric} ({mode} ranking)", legend=8)
    _save(fig, path)


def bits_heatmap(bits: torch.Tensor, specs, path, labels=None, title: str = "", vmax: float = 8.0) -> None:
    """bits [U, N] (bits per output channel, ``specs`` order): one layers x channels image per user,
    side by side on one color scale (0 = pruned). Layers with fewer channels are padded (blank)."""
    plt = _plt()
    U = bits.shape[0]
    L, Cmax = len(specs), max(s.channels for s in specs)
    fig, axes = plt.subplots(1, U, figsize=(5.5 * U, 1.4 + 0.3 * L), squeeze=False)
    for u in range(U):
        img = torch.full((L, Cmax), float("nan"))
        off = 0
        for i, s in enumerate(specs):
            img[i, : s.channels] = bits[u, off : off + s.channels].float()
            off += s.channels
        ax = axes[0, u]
        h = ax.imshow(img.numpy(), aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_yticks(range(L))
        ax.set_yticklabels([s.name for s in specs] if u == 0 else [], fontsize=6)
        ax.set_xlabel("output channel", fontsize=7)
        ax.set_title(labels[u] if labels else f"user {u}", fontsize=9)
    fig.colorbar(h, ax=list(axes.flat), fraction=0.02, label="bits")
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path, bbox_inches="tight")


def paired_budget_curves(paired: dict, path, metric: str = "NDCG@10") -> list[str]:
    """``chord headroom --chord-results``' joined cells (:func:`chord.experiments.headroom_paired.paired`)
    as one panel per dataset/backbone: ``metric`` vs the budget for every joined method on the same
    users, CHORD as the mean of its seeds with the seeds' min-max as error bars, fp32 as a line."""
    from .headroom_paired import JOINED

    plt = _plt()
    panels = sorted({(v["pair"], v["users"]) for v in paired.values()})
    if not panels:
        return []
    cols = min(3, len(panels))  # 3 datasets x 2 backbones: two rows of three, not one of six
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    names = {"population": "population (searched)", "oracle": "oracle (per user, searched)", **JOINED}
    for ax, (pair, users) in zip(axes.flat, panels):
        cells = sorted(
            ((v["budget"], v) for v in paired.values() if (v["pair"], v["users"]) == (pair, users)),
            key=lambda bv: bv[0],
        )
        for i, m in enumerate(("population", "oracle", *JOINED)):
            pts = [(b, c["mean"][m][metric]) for b, c in cells if m in c["mean"]]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=4, color=f"C{i}", label=names[m])
        ch = [(b, [s[metric] for s in c["chord_seeds"]]) for b, c in cells if c["chord_seeds"]]
        if ch:
            b = [p[0] for p in ch]
            mean = [sum(v) / len(v) for _, v in ch]
            err = [[m - min(v) for m, (_, v) in zip(mean, ch)], [max(v) - m for m, (_, v) in zip(mean, ch)]]
            n = max(len(v) for _, v in ch)
            ax.errorbar(
                b,
                mean,
                yerr=err,
                marker="D",
                color="C9",
                lw=2,
                capsize=4,
                label=f"CHORD ({n} seed{'s, min-max' if n > 1 else ''})",
            )
        fp = [c["mean"]["fp32"][metric] for _, c in cells]
        ax.axhline(fp[0], color="gray", ls=":", label="fp32")
        _label(ax, "budget (average bits per weight)", f"test {metric} (full ranking)", f"{pair}, {users} users")
    _save(fig, path)
    return [f"{p} ({u} users)" for p, u in panels]
