"""Training CHORD end to end: profiler + hypernetworks (+ item table) over a frozen backbone.

One training instance is (user, position j): the history before j is both the backbone's input
and the profiler's input (so the strategy never sees the target), the item at j is the positive,
``num_negatives`` items the user never trained on are the negatives; loss = BCE. Every instance
runs through its user's hard mixed-precision forward; gradients reach the planner through the
straight-through codes (``CloudPlanner.relax``).

Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) the step module is wrapped in
DistributedDataParallel (gloo on CPU, nccl on CUDA); each rank takes its share of every
epoch's shuffled instances; every rank evaluates (cheap, deterministic) so early stopping agrees;
rank 0 alone writes checkpoints.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from chord.data.sampling import NegativeSampler
from chord.data.split import LeaveOneOut
from chord.eval.evaluator import Evaluator

from .model import ChordSystem

RELAX_MODES = ("tiers", "penalty")


@dataclass
class ChordConfig:
    """Everything that shapes a CHORD training run (defaults: docs/method.md)."""

    budget: float = 3.0  # average bits per weight element
    loss: str = "bce"  # "bce": 1 positive vs num_negatives sampled; "ce": softmax over all items
    scope: str = "global"  # "global" | "layer" rank tiers
    codes: tuple | None = None  # allowed codes (None = all; (0, 3) = DIET-style masks)
    mode: str = "tiers"  # budget by construction ("tiers") or by a penalty ("penalty")
    penalty: float = 1.0  # weight of relu(expected bits - budget)^2 in "penalty" mode
    deviation: float = 0.0  # weight of the per-user deviation penalty (deviation_penalty); 0 = off
    tau: tuple = (1.0, 0.3)  # soft-backward temperature, annealed linearly start -> end
    noise: float = 0.5  # Gumbel (logistic) noise scale on the bit targets
    implicit_offset: bool = True  # backward through the budget offset (CloudPlanner.relax)
    train_item_emb: bool = True
    share_profiler_emb: bool = True
    extractor: str = "gru"
    recent: int = 20  # most recent items the profiler reads
    element_rank: int = 8  # 0 = direct element head (see HyperNetworks)
    d_user: int = 64
    hidden: int = 128
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    emb_lr: float = 2e-3
    num_negatives: int = 4
    instances_per_epoch: int = 0  # 0 = every training position once per epoch
    history: int = 50  # items of history fed to backbone and profiler
    patience: int = 3
    max_minutes: float = 0.0
    seed: int = 42
    threads: int = 2
    progress: bool = True
    eval_users: int = 0  # validate on the first n eval users only (0 = all)

    def __post_init__(self):
        if self.loss not in ("bce", "ce"):
            raise ValueError(f"loss: expected 'bce' or 'ce', got {self.loss!r}")
        if self.mode not in RELAX_MODES:
            raise ValueError(f"mode: expected one of {RELAX_MODES}, got {self.mode!r}")
        if self.batch_size < 1 or self.epochs < 1 or self.num_negatives < 1:
            raise ValueError(
                "batch_size, epochs, num_negatives: expected >= 1, got "
                f"{self.batch_size}, {self.epochs}, {self.num_negatives}"
            )
        if not (math.isfinite(self.deviation) and self.deviation >= 0):
            raise ValueError(f"deviation: expected a finite weight >= 0, got {self.deviation}")
        if self.codes is not None:
            self.codes = tuple(int(c) for c in self.codes)
        self.tau = tuple(float(t) for t in self.tau)


#: the ChordConfig fields that set ``CloudPlanner.relax`` (keywords of the same names) beside the
#: batch's budget and the annealed temperature
RELAX_FIELDS = ("noise", "mode", "implicit_offset")

#: the ChordConfig fields that shape the ChordSystem (its constructor's keywords of the same
#: names); the others (RELAX_FIELDS among them) shape training only
SYSTEM_FIELDS = (
    "d_user",
    "budget",
    "scope",
    "codes",
    "hidden",
    "train_item_emb",
    "share_profiler_emb",
    "extractor",
    "recent",
    "element_rank",
)


def training_instances(split: LeaveOneOut, history: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(users int64 [n], inputs int64 [n, history] left-padded, targets int64 [n]): one row per
    training position j >= 1 of every user (the items before j -> item j)."""
    users, x, y = split.window_matrices(history, 1)
    return users, x, y[:, 0]


class _Step(nn.Module):
    """The loss of one batch as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, system: ChordSystem, cfg: ChordConfig):
        super().__init__()
        self.system, self.cfg = system, cfg

    def forward(self, seqs, users, pos, neg, tau: float, budget):
        relax = {f: getattr(self.cfg, f) for f in RELAX_FIELDS}
        rep, exp_bits, _, t = self.system.relaxed_forward(
            seqs, users, budget=budget, tau=tau, with_targets=True, **relax
        )
        if self.cfg.loss == "ce":  # softmax over every item (padding column excluded)
            logits = self.system.score(rep)[:, 1:]
            loss = F.cross_entropy(logits, pos - 1)
        else:
            logits = self.system.score(rep, torch.cat([pos[:, None], neg], 1))
            loss = F.softplus(-logits[:, 0]).mean() + F.softplus(logits[:, 1:]).mean()
        if self.cfg.mode == "penalty":
            loss = loss + self.cfg.penalty * F.relu(exp_bits - budget).pow(2).mean()
        if self.cfg.deviation > 0:
            loss = loss + self.cfg.deviation * deviation_penalty(t, self.system.planner.sizes)
        return loss, exp_bits.detach().mean()


def deviation_penalty(t: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """Mean squared deviation of each user's bit targets from the batch's mean targets, channels
    weighted by their element count (bits^2). t float [B, N]; sizes [N].

    The batch mean stands for the population strategy. Penalizing the deviation lets a user's
    strategy leave the population one only where that user's loss pays for it: the headroom
    search found per-user signal on Caser that is real but weak and noisy
    (reports/2026-12-06-headroom.md), and the trained planner's per-user spread was about 2.7 bits
    per channel (reports/2026-12-07-chord-method-2.md). The mean is not detached: the gradient
    pulls every row toward it without moving it."""
    dev = t - t.mean(0, keepdim=True)
    w = (sizes / sizes.sum()).to(t.dtype)
    return (dev.pow(2) * w).sum(1).mean()


def _dist_info():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int, torch.device]:
    """Join the torchrun process group if launched by it: (rank, world, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, world = _dist_info()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def build_system(backbone: nn.Module, cfg: ChordConfig) -> ChordSystem:
    """The ChordSystem over ``backbone`` that ``cfg``'s ``SYSTEM_FIELDS`` describe."""
    return ChordSystem(backbone, **{f: getattr(cfg, f) for f in SYSTEM_FIELDS})


def trainable_state(system: ChordSystem) -> dict[str, torch.Tensor]:
    """What training changes (planner, profiler, item table): the checkpoint's content."""
    keep = {n for n, p in system.named_parameters() if p.requires_grad}
    keep.add("backbone.item_emb.weight")
    return {k: v.detach().contiguous().cpu().clone() for k, v in system.state_dict().items() if k in keep}


def save_chord_checkpoint(
    directory: str | os.PathLike, system: ChordSystem, cfg: ChordConfig, extra: dict | None = None
) -> Path:
    """``chord.safetensors`` (trained tensors) + ``chord.json`` (backbone config, CHORD config)."""
    from safetensors.torch import save_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_file(trainable_state(system), str(d / "chord.safetensors"), metadata={"format": "chord.ChordSystem"})
    meta = {"backbone": getattr(system.backbone, "config", {}), "chord": dataclasses.asdict(cfg), **(extra or {})}
    (d / "chord.json").write_text(json.dumps(meta, indent=2, default=float))
    return d


def load_chord_state(system: ChordSystem, directory: str | os.PathLike) -> dict:
    """Load ``chord.safetensors`` into ``system`` (built with the same backbone and config)."""
    from safetensors.torch import load_file

    d = Path(directory)
    state = load_file(str(d / "chord.safetensors"))
    missing = [k for k in state if k not in system.state_dict()]
    if missing:
        raise ValueError(f"checkpoint {d}: tensors {missing[:3]} do not belong to this system")
    system.load_state_dict(state, strict=False)
    system.copies = type(system.copies)(system.backbone, system.specs, system.codebook)
    return json.loads((d / "chord.json").read_text())


class ChordTrainer:
    """``ChordTrainer(cfg).fit(system, split, out_dir=None) -> summary``; see the module doc."""

    def __init__(self, cfg: ChordConfig | None = None, log: Callable[[str], object] = print):
        self.cfg = cfg or ChordConfig()
        self.log = log

    def fit(
        self,
        system: ChordSystem,
        split: LeaveOneOut,
        out_dir: str | os.PathLike | None = None,
        evaluator: Evaluator | None = None,
        on_epoch: Callable[[dict], object] | None = None,
    ) -> dict:
        """``on_epoch(record)``: called on rank 0 after each epoch with its history record."""
        cfg = self.cfg
        torch.set_num_threads(cfg.threads)
        rank, world = _dist_info()
        torch.manual_seed(cfg.seed + 1000 * rank)  # noise differs per rank; params stay synced
        gen = torch.Generator().manual_seed(cfg.seed + 1000 * rank)
        shuffle = torch.Generator().manual_seed(cfg.seed)  # same permutation on every rank
        dev = next(system.planner.parameters()).device
        system.planner.offset.requires_grad_(cfg.mode == "penalty")
        users, xs, ys = training_instances(split, cfg.history)
        t_off, t_items = split.train_csr()
        sampler = NegativeSampler(t_off, t_items, split.num_items)
        if evaluator is None:
            evaluator = Evaluator(split, cfg.history)
            if cfg.eval_users:
                restrict_evaluator(evaluator, cfg.eval_users)
        step = _Step(system, cfg)
        model = step
        if world > 1:
            model = nn.parallel.DistributedDataParallel(
                step, broadcast_buffers=False, device_ids=[dev.index] if dev.type == "cuda" else None
            )
        emb = [p for n, p in system.named_parameters() if p.requires_grad and n == "backbone.item_emb.weight"]
        rest = [p for n, p in system.named_parameters() if p.requires_grad and n != "backbone.item_emb.weight"]
        opt = torch.optim.Adam([{"params": rest, "lr": cfg.lr}] + ([{"params": emb, "lr": cfg.emb_lr}] if emb else []))
        n_all = users.numel()
        per_epoch = min(cfg.instances_per_epoch or n_all, n_all)
        steps_per_epoch = max(1, math.ceil(per_epoch / (cfg.batch_size * world)))
        total_steps = steps_per_epoch * cfg.epochs
        best = dict(ndcg=-1.0, epoch=0, state=None, valid=None)
        history, bad, t0, gstep = [], 0, time.perf_counter(), 0
        budget_s = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        stop = "epochs"
        if rank == 0:
            self.log(
                f"chord train: {n_all} instances, {per_epoch}/epoch, {steps_per_epoch} steps/epoch x {world} "
                f"rank(s), {len(system.specs)} layers, {system.planner.num_channels} channels, "
                f"budget {cfg.budget} bits ({cfg.mode}, {cfg.scope})"
            )
        epoch = 0
        for epoch in range(1, cfg.epochs + 1):
            system.train()
            perm = torch.randperm(n_all, generator=shuffle)[: steps_per_epoch * cfg.batch_size * world]
            mine = perm[rank::world]
            tot, tot_bits, t_ep, nb = 0.0, 0.0, time.perf_counter(), 0
            bar = tqdm(
                range(steps_per_epoch),
                desc=f"chord epoch {epoch}",
                leave=False,
                disable=not (cfg.progress and rank == 0 and sys.stderr.isatty()),
            )
            for s in bar:
                if _out_of_time(t0, budget_s, world, dev):
                    break
                idx = mine[s * cfg.batch_size : (s + 1) * cfg.batch_size]
                if idx.numel() == 0:
                    idx = mine[: cfg.batch_size]  # keep collective calls aligned across ranks
                x = xs[idx]
                nz = (x != 0).any(0).nonzero()
                x = x[:, int(nz[0]) :] if nz.numel() else x[:, -1:]
                u = users[idx]
                neg = sampler.sample(u, (cfg.num_negatives,), gen)
                frac = gstep / max(1, total_steps - 1)
                tau = cfg.tau[0] + (cfg.tau[-1] - cfg.tau[0]) * frac
                loss, bits = model(x.to(dev), u.to(dev), ys[idx].to(dev), neg.to(dev), tau, cfg.budget)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                gstep += 1
                nb += 1
                tot += float(loss.detach())
                tot_bits += float(bits)
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", bits=f"{float(bits):.2f}")
            nb = max(nb, 1)
            rec = dict(epoch=epoch, loss=tot / nb, expected_bits=tot_bits / nb, seconds=time.perf_counter() - t_ep)
            v = evaluator.evaluate(system, "valid", ("full",))["full"]
            rec.update(valid_hr10=v["HR@10"], valid_ndcg10=v["NDCG@10"])
            if v["NDCG@10"] > best["ndcg"]:
                best.update(ndcg=v["NDCG@10"], epoch=epoch, valid=v, state=trainable_state(system))
                bad = 0
            else:
                bad += 1
            history.append(rec)
            if on_epoch is not None and rank == 0:
                on_epoch(rec)
            elapsed = time.perf_counter() - t0
            if rank == 0:
                self.log(
                    f"epoch {epoch:3d} loss {rec['loss']:.4f} bits~{rec['expected_bits']:.2f} "
                    f"({rec['seconds']:.1f}s) valid HR@10 {v['HR@10']:.4f} NDCG@10 {v['NDCG@10']:.4f} "
                    f"[{elapsed / 60:.1f} min]"
                )
            if bad >= cfg.patience:
                stop = f"early stop (patience {cfg.patience})"
                break
            if elapsed > budget_s:
                stop = f"time budget {cfg.max_minutes} min"
                break
        if best["state"] is not None:
            system.load_state_dict(best["state"], strict=False)
        summary = dict(
            chord=dataclasses.asdict(cfg),
            epochs_run=epoch,
            best_epoch=best["epoch"],
            stop_reason=stop,
            train_seconds=time.perf_counter() - t0,
            valid=best["valid"],
            history=history,
            world=world,
        )
        if out_dir is not None and rank == 0:
            save_chord_checkpoint(out_dir, system, cfg, {"summary": summary})
        return summary


def _out_of_time(t0: float, budget_s: float, world: int, dev) -> bool:
    """Wall-clock budget check inside an epoch; ranks agree (rank 0 decides) so collectives stay aligned."""
    if budget_s == math.inf:
        return False
    late = time.perf_counter() - t0 > budget_s
    if world > 1:
        flag = torch.tensor([float(late)], device=dev)
        dist.broadcast(flag, 0)
        late = bool(flag.item())
    return late


def restrict_evaluator(ev: Evaluator, n: int) -> None:
    """Validate on the first ``n`` eval users (quick runs): slice the split's eval users."""
    import numpy as np

    sp = copy.copy(ev.split)
    sp.eval_users = np.asarray(ev.split.eval_users[:n])
    ev.split = sp
    ev.users = torch.from_numpy(sp.eval_users)
    ev._cache = {}
