"""The paper-style experiment grid: datasets x backbones x methods, resumable.

Every finished cell is written to ``<out>/results.json`` at once (with its runtime); a rerun skips
cells already there and reloads trained backbones / CHORD systems from their checkpoints under
``<out>/ckpt``. All quantized rows are evaluated with the same per-user forward, which equals the
device's packed forward (tests/system/device). Selection uses validation only: the fp32 trainer and the
CHORD trainer keep their best-validation epoch; the layer-wise sensitivity is measured on the
validation stage; nothing reads the test stage before the final evaluation.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from chord.checkpoint import load_checkpoint
from chord.codebook import Codebook
from chord.data import LeaveOneOut, load_dataset
from chord.eval.evaluator import MODES, Evaluator
from chord.eval.metrics import metrics_from_ranks
from chord.models import build_model
from chord.quantize.strategy import Strategy
from chord.system import ChordConfig, ChordSystem, ChordTrainer, CodesModel, build_system, load_chord_state
from chord.system.chord_trainer import restrict_evaluator
from chord.train import TrainConfig, Trainer

from . import baseline_codes as bl
from . import significance as sig

METHODS = (
    "fp32",
    "ptq8",
    "ptq4",
    "ptq2",
    "layerwise",
    "random",
    "population",
    "diet",
    "diet-pretrained",
    "chord-random",
    "chord-pretrained",
)
SWEEP = (2.0, 2.5, 3.0, 4.0, 6.0)


@dataclass
class GridConfig:
    datasets: tuple = ("ml-100k",)
    models: tuple = ("sasrec", "caser")
    methods: tuple = METHODS
    budget: float = 3.0
    sweep: tuple = SWEEP
    data_dir: str | None = None
    max_users: int = 0  # 0 = all users; >0 = first n users (quick runs)
    fp32_minutes: float = 5.0
    fp32_epochs: int = 200
    chord_minutes: float = 6.0
    pretrained_item_emb: bool = False  # pretrained-frozen: also train the item table (default: frozen too)
    chord: ChordConfig = field(default_factory=ChordConfig)
    model_kw: dict = field(default_factory=dict)
    seed: int = 42
    device_users: int = 10  # users for adaptation-time / latency measurements
    heatmap_users: int = 4
    threads: int = 2
    mask_seen_target: bool = False  # full ranking: a target already in the history is a miss (Yelp)
    bootstrap: int = 1000  # paired-bootstrap resamples over test users (significance)
    warm_start: str = "none"  # "layerwise": chord-pretrained's layer head starts at layer-wise MP's allocation
    # planning-time shrinkage toward CHORD's population (CloudPlanner.set_shrink): each CHORD cell
    # serves the value of this grid with the best validation NDCG@10; (1.0,) = plan as trained
    shrink: tuple = (1.0,)
    # the same for the within-layer (channel) part of the deviation; None = the same value as
    # ``shrink`` (uniform shrinkage); a tuple = every (shrink, channel) pair of the two grids
    channel_shrink: tuple | None = None


def _model_config(name: str, num_items: int, num_users: int, extra: dict) -> dict:
    cfg = {"model": name, "num_items": num_items, **extra.get(name, {})}
    if name == "caser":
        cfg.setdefault("num_users", num_users)
    return cfg


class Grid:
    def __init__(self, cfg: GridConfig, out_dir, log=print):
        self.cfg, self.out, self.log = cfg, Path(out_dir), log
        self.out.mkdir(parents=True, exist_ok=True)
        self.path = self.out / "results.json"
        self.results = json.loads(self.path.read_text()) if self.path.exists() else {"cells": {}, "meta": {}}
        # a rerun appends its own entry: the file never claims a later run's flags for earlier cells;
        # each cell also carries the config of the run that produced it (``cell``)
        self.results["meta"].pop("config", None)
        self.run_id = len(self.results["meta"].setdefault("runs", []))
        self.results["meta"]["runs"].append(
            {
                "run": self.run_id,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "commit": _commit(),
                "config": _jsonable(cfg),
            }
        )
        # per-user 0-based test ranks of every evaluated cell, "<cell key>|<mode>" -> int32 [n users]
        self.ranks_path = self.out / "ranks.npz"
        self.ranks = dict(np.load(self.ranks_path)) if self.ranks_path.exists() else {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def _save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=1, default=float))
        tmp.replace(self.path)

    def _save_ranks(self):
        tmp = self.out / "ranks.tmp.npz"
        np.savez_compressed(tmp, **self.ranks)
        tmp.replace(self.ranks_path)

    def cell(self, key: str, fn):
        """Run ``fn() -> dict`` unless ``key`` is done; record its runtime; persist."""
        if key in self.results["cells"]:
            return self.results["cells"][key]
        t0 = time.perf_counter()
        res = fn()
        res["runtime_s"] = time.perf_counter() - t0
        res["run"] = self.run_id  # -> meta.runs[run]: when, at which commit
        res["config"] = _jsonable(self.cfg)  # the exact grid config that produced this cell
        for mode, r in res.pop("_ranks", {}).items():
            self.ranks[f"{key}|{mode}"] = r.numpy().astype(np.int32)
        self.results["cells"][key] = res
        self._save_ranks()
        self._save()
        m = res.get("test", {}).get("full", {})
        self.log(
            f"[{key}] full HR@10 {m.get('HR@10', float('nan')):.4f} NDCG@10 {m.get('NDCG@10', float('nan')):.4f} "
            f"avg_bits {res.get('avg_bits', float('nan')):.2f} ({res['runtime_s']:.0f}s)"
        )
        return res

    # -- pieces -------------------------------------------------------------------------------
    def fp32_backbone(self, ds_name, model_name, split):
        d = self.out / "ckpt" / f"{ds_name}_{model_name}_fp32"
        if (d / "model.safetensors").exists():
            return load_checkpoint(d)[0]
        torch.manual_seed(self.cfg.seed)
        model = build_model(_model_config(model_name, split.num_items, split.num_users, self.cfg.model_kw))
        tc = TrainConfig(
            epochs=self.cfg.fp32_epochs,
            max_minutes=self.cfg.fp32_minutes,
            seed=self.cfg.seed,
            threads=self.cfg.threads,
            progress=False,
        )
        Trainer(tc, log=self.log).fit(model, split, out_dir=d)
        return model.eval()

    def random_backbone(self, model_name, split):
        torch.manual_seed(self.cfg.seed)  # the shared seed every device uses
        return build_model(_model_config(model_name, split.num_items, split.num_users, self.cfg.model_kw))

    def chord_system(
        self, tag, backbone, split, budget, codes=None, train_item_emb=True, layer_bits=None
    ) -> tuple[ChordSystem, dict]:
        ccfg = replace(
            self.cfg.chord,
            budget=budget,
            codes=codes,
            max_minutes=self.cfg.chord_minutes,
            seed=self.cfg.seed,
            threads=self.cfg.threads,
            train_item_emb=train_item_emb,
        )
        d = self.out / "ckpt" / tag
        torch.manual_seed(self.cfg.seed)
        system = build_system(copy.deepcopy(backbone), ccfg)
        if layer_bits is not None:
            system.planner.warm_start_layers(layer_bits)
        if (d / "chord.safetensors").exists():
            meta = load_chord_state(system, d)
            return system.eval(), meta.get("summary", {})
        ev = Evaluator(split, ccfg.history, mask_seen_target=self.cfg.mask_seen_target)
        if ccfg.eval_users:
            restrict_evaluator(ev, ccfg.eval_users)
        summary = ChordTrainer(ccfg, log=self.log).fit(system, split, out_dir=d, evaluator=ev)
        return system.eval(), summary

    # -- the grid -------------------------------------------------------------------------------
    def run(self):
        torch.set_num_threads(self.cfg.threads)
        for ds_name in self.cfg.datasets:
            ds = load_dataset(ds_name, self.cfg.data_dir)
            if self.cfg.max_users:
                ds = ds.head(self.cfg.max_users)
            split = LeaveOneOut(ds)
            for model_name in self.cfg.models:
                self.run_pair(ds_name, model_name, split)
        self.significance()
        self._save()
        return self.results

    def significance(self):
        """Paired bootstrap (over test users, full ranking) of each CHORD row at the main budget minus
        every other row at that budget (and the unbudgeted ones) -> ``results["significance"]``."""
        B, out = self.cfg.budget, {}
        full = {k[: -len("|full")]: v for k, v in self.ranks.items() if k.endswith("|full")}
        for pair in sorted({"/".join(k.split("/")[:2]) for k in full}):
            rows = {}
            for k, v in full.items():
                if not k.startswith(pair + "/"):
                    continue
                meth = k[len(pair) + 1 :]
                if "@" not in meth or abs(float(meth.split("@")[1]) - B) < 1e-9:
                    rows[meth] = v
            for ref in (m for m in rows if m.split("@")[0] in ("chord-pretrained", "chord-random")):
                out.setdefault(pair, {})[ref] = sig.compare(
                    rows, ref, sorted(rows), resamples=self.cfg.bootstrap, seed=self.cfg.seed
                )
        self.results["significance"] = out

    def run_pair(self, ds_name, model_name, split):
        cfg, B = self.cfg, self.cfg.budget
        pre = f"{ds_name}/{model_name}"
        ml = cfg.chord.history
        ev = Evaluator(split, ml, mask_seen_target=cfg.mask_seen_target)
        methods = set(cfg.methods)
        need_fp32 = methods - {"diet", "chord-random"}  # every other row reads the trained backbone
        trained = self.fp32_backbone(ds_name, model_name, split) if need_fp32 else None
        specs = None

        def evaluate(model, extra=None):
            test, ranks = {}, {}
            for mode in MODES:
                t0 = time.perf_counter()
                ranks[mode] = ev.ranks(model, "test", mode)
                test[mode] = metrics_from_ranks(ranks[mode], ev.ks)
                test[mode]["seconds"] = time.perf_counter() - t0
                test[mode]["users"] = int(ranks[mode].numel())
            r = {"test": test, "_ranks": ranks}  # cell() moves the ranks to ranks.npz
            r.update(extra or {})
            return r

        if "fp32" in methods:
            self.cell(f"{pre}/fp32", lambda: evaluate(trained, {"avg_bits": 32.0}))
        probe = CodesModel(trained, lambda s, u: None) if trained is not None else None
        specs = probe.specs if probe is not None else None
        for b in (8, 4, 2):
            if f"ptq{b}" in methods:
                codes = bl.uniform_codes(specs, b)
                self.cell(
                    f"{pre}/ptq{b}",
                    lambda c=codes, b=b: evaluate(CodesModel(trained, lambda s, u: c, specs), {"avg_bits": float(b)}),
                )
        budgets = sorted(set(cfg.sweep) | {B})
        warm = cfg.warm_start == "layerwise" and "chord-pretrained" in methods
        if "layerwise" in methods or warm:
            sens_key = f"{pre}/layerwise-sensitivity"

            def sens_fn():
                vdata = self._valid_data(ev, split)
                mk = lambda c: CodesModel(trained, lambda s, u: c, specs)  # noqa: E731
                return {"sensitivity": bl.layer_sensitivity(mk, specs, vdata)}

            sens = self.cell(sens_key, sens_fn)["sensitivity"]
            sens = {k: {int(w): v for w, v in d.items()} for k, d in sens.items()}
            for b in budgets if "layerwise" in methods else []:
                codes = bl.allocate_layerwise(specs, sens, b)
                self.cell(
                    f"{pre}/layerwise@{b}",
                    lambda c=codes: evaluate(CodesModel(trained, lambda s, u: c, specs), {"avg_bits": _avg(c, specs)}),
                )
        if "random" in methods:
            for b in budgets:

                def rnd(b=b):
                    rc = bl.RandomCodes(specs, b, split.num_users, seed=cfg.seed)
                    return evaluate(CodesModel(trained, rc, specs), {"avg_bits": _avg(rc.table[0], specs)})

                self.cell(f"{pre}/random@{b}", rnd)
        variants = []
        if "chord-pretrained" in methods:
            variants.append(("chord-pretrained", trained, None))
        if "chord-random" in methods:
            variants.append(("chord-random", self.random_backbone(model_name, split), None))
        if "diet" in methods:
            variants.append(("diet", self.random_backbone(model_name, split), (0, 3)))
        if "diet-pretrained" in methods:
            # DIET's binary {pruned, 8-bit} codes planned on the trained backbone: the per-user mask
            # baseline on the same checkpoint as chord-pretrained (DIET proper is random-frozen)
            variants.append(("diet-pretrained", trained, (0, 3)))
        layer_bits = None
        if warm:
            lw = bl.allocate_layerwise(specs, sens, B)
            bits = torch.tensor(Codebook.default().bits, dtype=torch.float64)[lw]
            layer_bits, off = {}, 0
            for s_ in specs:
                layer_bits[s_.name] = float(bits[off : off + s_.channels].mean())
                off += s_.channels
        for name, bb, codes in variants:
            # pretrained-frozen freezes the trained item table as well (unless asked): retraining it
            # in a short CPU budget lowered validation NDCG@10 below the fp32 backbone's
            emb = cfg.pretrained_item_emb if bb is trained else True
            lb = layer_bits if name == "chord-pretrained" else None
            tag = f"{ds_name}_{model_name}_{name}_{B}" + ("_warm-layerwise" if lb is not None else "")
            system, summary = self.chord_system(tag, bb, split, B, codes, emb, layer_bits=lb)
            sweep = budgets
            for b in sweep:

                def chord_cell(b=b):
                    system.eval_budget = b
                    system.population_codes = None
                    shrink = self._select_shrink(system, ev, split, ml)
                    try:
                        r = evaluate(
                            system,
                            {
                                "avg_bits": self._avg_bits_of(system, ev, b),
                                "trained_at": B,
                                "personalization": self._personalization(system, ev, b),
                                "train": {
                                    k: summary.get(k)
                                    for k in (
                                        "epochs_run",
                                        "best_epoch",
                                        "train_seconds",
                                        "stop_reason",
                                        "valid",
                                        "chord",
                                    )
                                },
                                **({"shrink": shrink} if shrink else {}),
                            },
                        )
                    finally:
                        system.planner.set_shrink(None)
                    return r

                self.cell(f"{pre}/{name}@{b}", chord_cell)
            if "population" in methods and codes is None:
                for b in sweep:

                    def pop(b=b):
                        users, xs, _ = train_histories(split, ml)
                        pc = bl.population_codes(system, xs, b)
                        system.population_codes = pc
                        try:
                            return evaluate(system, {"avg_bits": _avg(pc, system.specs)})
                        finally:
                            system.population_codes = None

                    self.cell(f"{pre}/population-{name.split('-')[1]}@{b}", pop)
            system.eval_budget = B
            if name == "chord-pretrained" or (name == "chord-random" and "chord-pretrained" not in methods):
                self.cell(f"{pre}/{name}/device", lambda s=system: self._device_cell(s, ev, split))
                self._heatmap(system, ev, f"{ds_name}_{model_name}_{name}")
        self._save()

    # -- measurements -----------------------------------------------------------------------------
    @torch.no_grad()
    def _select_shrink(self, system, ev, split, ml) -> dict | None:
        """Pick the planning-time shrinkage (``GridConfig.shrink`` x ``channel_shrink``) on
        validation NDCG@10 (full ranking) at ``system.eval_budget`` and leave it set on the planner;
        None when the grid is the trained planner alone. Ties go to the smaller total shrink
        (closer to one strategy)."""
        layer = sorted({float(g) for g in self.cfg.shrink})
        if self.cfg.channel_shrink is None:
            grid = [(g, g) for g in layer]
        else:
            grid = [(g, float(c)) for g in layer for c in sorted({float(c) for c in self.cfg.channel_shrink})]
        if grid == [(1.0, 1.0)]:
            return None
        _, xs, _ = train_histories(split, ml)
        center = bl.mean_targets(system, xs)
        valid = {}
        for g, c in grid:
            system.planner.set_shrink(center, g, c)
            valid[g, c] = ev.evaluate(system, "valid", ("full",))["full"]["NDCG@10"]
        best = max(grid, key=lambda gc: (valid[gc], -sum(gc)))
        system.planner.set_shrink(center, *best)
        self.log(f"shrink (layer, channel): valid NDCG@10 {valid} -> {best}")
        return {
            "selected": best[0],
            "selected_channel": best[1],
            "valid_ndcg10": {f"{g},{c}": v for (g, c), v in valid.items()},
        }

    def _valid_data(self, ev, split):
        st = ev._stage("valid")
        negs = ev.negatives("valid")
        return st["seqs"], ev.users, st["targets"], negs

    @torch.no_grad()
    def _avg_bits_of(self, system, ev, b):
        seqs = ev._stage("test")["seqs"][:256]
        codes = system.plan(seqs, b)
        return float(_avg_batch(codes, system.specs).mean())

    @torch.no_grad()
    def _personalization(self, system, ev, b):
        """How different the test users' strategies are (``personalization``), over all test users."""
        from .personalization import personalization

        seqs = ev._stage("test")["seqs"]
        codes = torch.cat([system.plan(seqs[a : a + 1024], b) for a in range(0, seqs.shape[0], 1024)])
        return personalization(codes, system.planner.sizes, len(system.codebook.bits))

    @torch.no_grad()
    def _device_cell(self, system, ev, split):
        from chord.system.cloud.service import CloudService
        from chord.system.device import Device

        st = ev._stage("test")
        seqs, negs = st["seqs"], ev.negatives("test")
        n = min(self.cfg.device_users, seqs.shape[0])
        svc = CloudService(system.planner, system.backbone)
        dev = Device(system.backbone, system.profiler, budget=system.eval_budget)
        fp = copy.deepcopy(system.backbone).eval()
        sizes = {s.name: (s.channels, s.elems) for s in system.specs}
        adapt, rr, rr_fp, wires, compact, packed = [], [], [], [], [], []
        for i in range(n):
            seq = seqs[i : i + 1]
            cand = torch.cat([st["targets"][i : i + 1, None], negs[i : i + 1]], 1)
            u, b = dev.request(seq[0])
            wire = svc.respond(u, b)[0]
            wires.append(len(wire))
            compact.append(len(svc.strategies(u, b)[0].to_bytes(svc.fingerprint, names=False)))
            stats = dev.adapt(wire)
            adapt.append(stats.total_s)
            packed.append(stats.packed_bytes)
            user = ev.users[i : i + 1]
            dev.rerank(seq, cand, users=user)  # warm
            t = [dev.rerank(seq, cand, users=user)[2] for _ in range(5)]
            rr.append(sorted(t)[2])
            t0 = []
            for _ in range(5):
                a = time.perf_counter()
                fp.score(fp(seq, users=user), cand).topk(10)
                t0.append(time.perf_counter() - a)
            rr_fp.append(sorted(t0)[2])
        med = lambda x: sorted(x)[len(x) // 2]  # noqa: E731
        return {
            "users": n,
            "wire_bytes": med(wires),
            "wire_bytes_compact": med(compact),
            "fp32_weight_bytes": Strategy.fp32_bytes(sizes),
            "packed_bytes": med(packed),
            "adapt_ms": 1e3 * med(adapt),
            "rerank_ms": 1e3 * med(rr),
            "rerank_fp32_ms": 1e3 * med(rr_fp),
            "candidates": int(negs.shape[1] + 1),
            "budget": system.eval_budget,
        }

    @torch.no_grad()
    def _heatmap(self, system, ev, tag):
        from .plots import importance_heatmap

        seqs = ev._stage("test")["seqs"][: self.cfg.heatmap_users]
        z = system.planner.log_importance(system.profiler(seqs))
        codes = system.plan(seqs)
        path = self.out / f"heatmap_{tag}.png"
        importance_heatmap(z, codes, system.specs, path, title=tag)
        self.results["meta"].setdefault("figures", {})[f"heatmap/{tag}"] = str(path.name)


def train_histories(split, max_len):
    u = torch.arange(split.num_users)
    from chord.data.split import pad_left

    xs = torch.from_numpy(pad_left(split.dataset.items, split.starts, split.train_end, max_len))
    keep = (xs != 0).any(1)
    return u[keep], xs[keep], None


def _avg(codes, specs):
    return float(_avg_batch(codes.view(1, -1), specs)[0])


def _avg_batch(codes, specs):
    from chord.system.cloud.tiering import channel_elems, codes_avg_bits

    return codes_avg_bits(codes.long(), channel_elems(specs), Codebook.default())


def _commit() -> str | None:
    """The repository's HEAD commit (with ``+dirty`` for uncommitted changes), or None outside git."""
    import subprocess

    root = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _jsonable(obj):
    import dataclasses

    if dataclasses.is_dataclass(obj):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
