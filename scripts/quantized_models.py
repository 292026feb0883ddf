"""Quantized SASRec / Caser: accuracy, bytes, adaptation time, rerank latency, item scoring.

Re-runnable measurement behind README "Quantized models". For every (model, dataset) it loads
a trained fp32 checkpoint (``--checkpoint model:dataset:dir``; trained here with chord's
Trainer under ``--train-minutes`` when the directory does not exist) and measures:

* accuracy: HR@10 / NDCG@10 (test split, full ranking and 1+99 sampled) of fp32 and of the
  swapped model under uniform 8/4/2-bit and a random-code strategy at 3.0 average bits, with
  the embedding tables float (method default, "dense") and with every table quantized too
  ("all": item table, positions, users);
* model bytes (``chord.quantize.model_bytes``) and strategy wire bytes;
* adaptation: ``DeviceModel.apply(bytes)`` (decode + C++ pack of every layer + swap), median;
* rerank latency at batch 1 and 256: user representation + top-10 over all items, fp32 eager
  vs the swapped model (fused quantized top-k when the item table is quantized);
and, independent of checkpoints, item scoring of one 64-d user against 100,000 items + top-10:
``chord.mp_topk`` vs fp32 matmul + ``torch.topk``.

Timing sections hold ``flock /tmp/chord-bench.lock`` (so helpers never time at once); run the
whole script under ``nice -n 10``. Example::

    nice -n 10 python scripts/quantized_models.py --data-dir ../shared/data \
        --checkpoint sasrec:beauty:runs/sasrec-beauty --checkpoint caser:ml-100k:runs/caser-ml-100k \
        --json bench_out/quantized_models.json

Results measured with it: reports/2026-11-28-quantized-models.md. Timing is chord.bench's
(``chord.bench.timing.measure``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import json
import statistics
import time
from pathlib import Path

import torch

import chord
from chord.bench.timing import TimingPolicy, measure, run_facts
from chord.quantize import QuantizedEmbedding, model_bytes
from chord.quantize.layers import quantizable_layers
from chord.quantize.strategy import Strategy

LOCK = "/tmp/chord-bench.lock"


@contextlib.contextmanager
def bench_lock():
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def timeit(fn, min_reps=5, min_seconds=1.0, warmup=3) -> float:
    """Median seconds of ``fn()``: chord.bench's timing loop, >= min_reps rounds and >= min_seconds."""
    policy = TimingPolicy(
        warmup=warmup,
        min_rounds=min_reps,
        max_rounds=2000,
        min_time_s=min_seconds,
        max_time_s=4 * max(min_seconds, 1.5),
    )
    return measure(lambda i: fn(), policy)["median"]


# -- models ------------------------------------------------------------------------------------
def load_or_train(model_name, dataset, ckpt, data_dir, minutes, log):
    from chord.checkpoint import load_checkpoint
    from chord.data import LeaveOneOut, load_dataset

    ds = load_dataset(dataset, data_dir)
    if not (Path(ckpt) / "model.safetensors").is_file():
        from chord.models import Caser, SASRec
        from chord.train.trainer import TrainConfig, Trainer, seed_everything

        log(f"[{model_name}/{dataset}] no checkpoint in {ckpt}: training {minutes} min")
        seed_everything(42)
        model = SASRec(ds.num_items) if model_name == "sasrec" else Caser(ds.num_items, num_users=ds.num_users)
        cfg = TrainConfig(max_minutes=minutes, progress=False, epochs=200)
        Trainer(cfg, log=log).fit(model, LeaveOneOut(ds, cfg.min_len), ckpt, dict(dataset=ds.name))
    model, meta = load_checkpoint(ckpt)
    split = LeaveOneOut(ds, meta.get("train", {}).get("min_len", 3))
    return model, meta, split


def strategies(model, embeddings: bool):
    layers = quantizable_layers(model, embeddings=embeddings)
    out = {f"uniform-{b}": Strategy.uniform(layers, b) for b in (8, 4, 2)}
    out["random-3.0"] = Strategy.random(layers, 3.0, seed=0)
    return layers, out


def rerank_fn(model, seqs, users, k=10, candidates=None):
    """User representation + top-k over all items (``candidates`` None) or over a candidate
    list int64 [B, C] (CHORD's on-device rerank)."""
    quant_table = isinstance(getattr(model, "item_emb", None), QuantizedEmbedding)

    @torch.no_grad()
    def f():
        u = model(seqs, users=users)
        if quant_table:
            if candidates is not None:
                return model.item_emb.topk(u, k, candidates)
            # exclude the padding item 0 as the fp32 branch's -inf does: top-(k+1), then drop it
            v, i = model.item_emb.topk(u, k + 1)
            keep = (i == 0).to(torch.int8).argsort(dim=1, stable=True)[:, :k]
            return v.gather(1, keep), i.gather(1, keep)
        if candidates is not None:
            v, i = torch.topk(model.score(u, candidates), k)
            return v, candidates.gather(1, i)
        s = model.score(u)
        s[:, 0] = float("-inf")
        return torch.topk(s, k)

    return f


def measure_model(name, model, split, args, log):
    from chord.eval.evaluator import Evaluator

    res = {"params": sum(p.numel() for p in model.parameters())}
    ev = Evaluator(split, model.max_len)
    metrics = lambda r: {m: {k: r[m][k] for k in ("HR@10", "NDCG@10")} for m in r}  # noqa: E731
    if args.skip_accuracy:
        return _timings(name, model, split, args, log, res)
    t = time.perf_counter()
    res["fp32"] = {"metrics": metrics(ev.evaluate(model, "test")), "bytes": model_bytes(model)}
    log(f"[{name}] fp32 {res['fp32']['metrics']} ({time.perf_counter() - t:.0f}s)")
    for scope in ("dense", "all"):
        layers, strats = strategies(model, embeddings=scope == "all")
        for sname, s in strats.items():
            q = copy.deepcopy(model)
            chord.quantize_(q, s)
            t = time.perf_counter()
            r = {
                "metrics": metrics(ev.evaluate(q, "test")),
                "bytes": model_bytes(q),
                "avg_bits": s.avg_bits(layers),
                "wire_bytes": len(s.to_bytes(model)),
            }
            res[f"{scope}/{sname}"] = r
            log(
                f"[{name}] {scope}/{sname} avg {r['avg_bits']:.3f} bits {r['metrics']} "
                f"bytes {r['bytes']['total']} ({time.perf_counter() - t:.0f}s)"
            )
    return _timings(name, model, split, args, log, res)


def _timings(name, model, split, args, log, res):
    """Adaptation and rerank latency, timed under the bench lock."""
    gen = torch.Generator().manual_seed(0)
    seqs_all = split.history("test", model.max_len)
    users_all = torch.from_numpy(split.eval_users)
    with bench_lock():
        torch.set_num_threads(args.threads)
        for scope in ("dense", "all"):
            dev = chord.DeviceModel(copy.deepcopy(model), embeddings=scope == "all")
            layers = dev.layer_sizes
            blobs = [Strategy.random(layers, 3.0, seed=i).to_bytes(dev.fingerprint) for i in range(args.adapt_reps)]
            stats = [dev.apply(b) for b in blobs]
            tot = statistics.median(s.total_s for s in stats)
            per = {n: statistics.median(s.pack_s[n] for s in stats) for n in stats[0].pack_s}
            res[f"adapt/{scope}"] = {
                "total_ms": tot * 1e3,
                "decode_ms": statistics.median(s.decode_s for s in stats) * 1e3,
                "per_layer_ms": {n: v * 1e3 for n, v in per.items()},
                "layers": len(per),
                "wire_bytes": stats[0].wire_bytes,
            }
            log(
                f"[{name}] adapt/{scope}: median {tot * 1e3:.2f} ms over {len(per)} layers, "
                f"wire {stats[0].wire_bytes} B"
            )
        swapped = {}
        for scope in ("dense", "all"):
            q = copy.deepcopy(model)
            chord.quantize_(q, strategies(model, scope == "all")[1]["random-3.0"])
            swapped[f"{scope}/random-3.0"] = q
            q = copy.deepcopy(model)
            chord.quantize_(q, bits=8, embeddings=scope == "all")
            swapped[f"{scope}/uniform-8"] = q
        for key, C in (("rerank_ms", None), ("rerank100_ms", 100)):
            lat = {}
            for B in (1, 256):
                idx = torch.randperm(seqs_all.shape[0], generator=gen)[:B]
                seqs, users = seqs_all[idx], users_all[idx]
                cand = None if C is None else torch.randint(1, model.num_items + 1, (B, C), generator=gen)
                row = {"fp32": timeit(rerank_fn(model, seqs, users, candidates=cand))}
                for label, q in swapped.items():
                    row[label] = timeit(rerank_fn(q, seqs, users, candidates=cand))
                lat[B] = {k: v * 1e3 for k, v in row.items()}
                log(f"[{name}] {key} B={B} (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in lat[B].items()))
            res[key] = lat
    return res


def measure_scoring(args, log, N=100_000, K=64, k=10):
    torch.manual_seed(0)
    w = torch.randn(N, K)
    x = torch.randn(1, K)
    out = {}
    with bench_lock():
        torch.set_num_threads(args.threads)
        out["fp32 matmul+topk"] = timeit(lambda: torch.topk(x @ w.T, k)) * 1e3
        layers = {"items": (N, K)}
        for sname, s in [
            ("uniform-8", Strategy.uniform(layers, 8)),
            ("uniform-4", Strategy.uniform(layers, 4)),
            ("uniform-2", Strategy.uniform(layers, 2)),
            ("random-3.0", Strategy.random(layers, 3.0)),
        ]:
            mw = chord.pack(w, s.codes["items"], s.codebook)
            out[f"mp_topk {sname}"] = timeit(lambda: chord.mp_topk(x, mw, k)) * 1e3
            if sname == "uniform-8":
                out[f"mp_topk {sname} act_bits=8"] = timeit(lambda: chord.mp_topk(x, mw, k, act_bits=8)) * 1e3
    log("scoring 1x64 vs 100k items + top-10 (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in out.items()))
    return out


def to_markdown(results: dict) -> str:
    """The README tables from a results dict."""
    out = []
    sc = results.get("scoring_100k")
    if sc:
        base = sc["fp32 matmul+topk"]
        out += ["| 1x64 vs 100,000 items + top-10 | ms | speedup vs fp32 |", "|---|---:|---:|"]
        out += [f"| {k} | {v:.3f} | {base / v:.2f}x |" for k, v in sc.items()]
        out.append("")
    for name, r in results.get("models", {}).items():
        out += [f"**{name}** (`{r['checkpoint']}`)", ""]
        if "fp32" in r:
            out += [
                "| weights | avg bits | HR@10 full | NDCG@10 full | HR@10 1+99 | NDCG@10 1+99 | model bytes | wire bytes |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]

        def row(label, x, bits, wire):
            m = x["metrics"]
            return (
                f"| {label} | {bits} | {m['full']['HR@10']:.4f} | {m['full']['NDCG@10']:.4f} | "
                f"{m['sampled']['HR@10']:.4f} | {m['sampled']['NDCG@10']:.4f} | {x['bytes']['total']:,} | {wire} |"
            )

        if "fp32" in r:
            out.append(row("fp32", r["fp32"], "32", "-"))
            for key, x in r.items():
                if "/" in key and isinstance(x, dict) and "metrics" in x:
                    out.append(row(key, x, f"{x['avg_bits']:.3f}", x["wire_bytes"]))
            out.append("")
        ad = [r[k] for k in ("adapt/dense", "adapt/all") if k in r]
        if ad:
            out.append(
                "Adaptation (`DeviceModel.apply`, random 3.0-bit strategy, median): "
                + "; ".join(
                    f"{k.split('/')[1]}: {r[k]['total_ms']:.2f} ms over {r[k]['layers']} layers "
                    f"(decode {r[k]['decode_ms']:.3f} ms, {r[k]['wire_bytes']} B)"
                    for k in ("adapt/dense", "adapt/all")
                    if k in r
                )
            )
        for key, title in (("rerank_ms", "top-10 of all items"), ("rerank100_ms", "top-10 of 100 candidates")):
            lat = r.get(key, {})
            if not lat:
                continue
            cols = list(next(iter(lat.values())))
            out += [
                "",
                f"| rerank, {title} (ms, speedup vs fp32) | " + " | ".join(cols) + " |",
                "|---|" + "---:|" * len(cols),
            ]
            for B, row_ in lat.items():
                f = row_["fp32"]
                out.append(f"| batch {B} | " + " | ".join(f"{row_[c]:.3f} ({f / row_[c]:.2f}x)" for c in cols) + " |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="MODEL:DATASET:DIR",
        help="trained fp32 checkpoint (trained here when DIR has none)",
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--train-minutes", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--adapt-reps", type=int, default=20)
    p.add_argument("--skip-scoring", action="store_true")
    p.add_argument("--skip-accuracy", action="store_true", help="only adaptation and latency")
    p.add_argument("--json", default="bench_out/quantized_models.json")
    p.add_argument("--markdown", default=None, help="also write the README tables here")
    p.add_argument(
        "--from-json",
        nargs="+",
        default=None,
        help="only render --markdown from existing results JSON files (merged in order)",
    )
    args = p.parse_args(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    if args.from_json:
        merged = {"models": {}}
        for path in args.from_json:
            r = json.loads(Path(path).read_text())
            for k, v in r.get("models", {}).items():  # later files add to / override entries
                merged["models"].setdefault(k, {}).update(v)
            if "scoring_100k" in r and "scoring_100k" not in merged:
                merged["scoring_100k"] = r["scoring_100k"]
        md = to_markdown(merged)
        print(md)
        if args.markdown:
            Path(args.markdown).write_text(md)
        return 0
    results = {
        "machine": run_facts(args.threads),
        "models": {},
    }
    if not args.skip_scoring:
        results["scoring_100k"] = measure_scoring(args, log)
    for spec in args.checkpoint:
        model_name, dataset, ckpt = spec.split(":", 2)
        torch.set_num_threads(args.threads)
        model, meta, split = load_or_train(model_name, dataset, ckpt, args.data_dir, args.train_minutes, log)
        results["models"][f"{model_name}/{dataset}"] = dict(
            checkpoint=ckpt, **measure_model(f"{model_name}/{dataset}", model, split, args, log)
        )
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    log(f"wrote {args.json}")
    md = to_markdown(results)
    print(md)
    if args.markdown:
        Path(args.markdown).write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
