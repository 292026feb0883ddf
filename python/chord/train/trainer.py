"""Training loop for chord models: BCE with sampled negatives or full softmax cross-entropy,
Adam, seeds, early stopping on validation NDCG@10, a wall-clock budget, checkpoints.

Batches are slices of precomputed int64 matrices (``LeaveOneOut.sequence_matrices`` /
``window_matrices``) and negatives come from one vectorized ``NegativeSampler.sample`` call per
batch, so there is no per-sample python on the hot path and both torch threads stay busy.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..checkpoint import save_checkpoint
from ..data.sampling import NegativeSampler
from ..data.split import LeaveOneOut
from ..eval.evaluator import Evaluator

OPTIMIZER = "optimizer.pt"  # Adam state at the best epoch (for --resume); not needed for inference

LOSSES = ("bce", "ce")


@dataclass
class TrainConfig:
    loss: str = "ce"  # "bce": 1 positive vs num_negatives sampled; "ce": softmax over all items
    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.98)
    num_negatives: int = 1  # BCE negatives per target
    seed: int = 42
    patience: int = 10  # evaluations without a better valid NDCG@10 before stopping
    eval_every: int = 1  # epochs between validation runs
    max_minutes: float = 0.0  # wall-clock budget for training (0 = none); best model kept
    threads: int = 2
    min_len: int = 3  # users shorter than this are train-only
    eval_seed: int = 2024  # seed of the 1+99 negatives
    eval_negatives: int = 99  # sampled negatives per test user
    progress: bool = True
    all_positions: bool = False  # SASRec: also train on targets before the last max_len ones
    mask_seen_target: bool = False  # valid/test full ranking: a target already in the history is a miss
    # (S3-Rec's full sort; else early stopping on Yelp rewards repeats)

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}, got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.num_negatives < 1:
            raise ValueError(
                f"epochs, batch_size, num_negatives: expected >= 1, got "
                f"{self.epochs}, {self.batch_size}, {self.num_negatives}"
            )


def seed_everything(seed: int) -> torch.Generator:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Trainer:
    """``Trainer(config).fit(model, split, out_dir=None) -> summary dict``."""

    def __init__(self, config: TrainConfig | None = None, log=print):
        self.cfg = config or TrainConfig()
        self.log = log

    # -- losses -----------------------------------------------------------------------------
    def _sequence_loss(self, model, users, x, y, sampler, gen):
        h = model.encode(x)  # [B, l, d]
        mask = y != 0
        if self.cfg.loss == "ce":
            logits = model.score(h[mask])  # [N, num_items + 1]
            return F.cross_entropy(logits, y[mask])
        k = self.cfg.num_negatives
        neg = sampler.sample(users, (y.shape[1], k), gen)  # [B, l, k]
        ids = torch.cat([y.unsqueeze(-1), neg], -1)[mask]  # [N, 1 + k]
        logits = model.score(h[mask], ids)
        return _bce(logits)

    def _window_loss(self, model, users, x, y, sampler, gen):
        rep = model(x, users=users)  # [B, d]
        mask = y != 0  # [B, T]
        if self.cfg.loss == "ce":
            logits = model.score(rep)  # [B, num_items + 1]
            rows = torch.arange(y.shape[0]).view(-1, 1).expand_as(y)[mask]
            return F.cross_entropy(logits[rows], y[mask])
        k = self.cfg.num_negatives
        neg = sampler.sample(users, (y.shape[1] * k,), gen)  # [B, T * k]
        pos_l = model.score(rep, y)  # [B, T]
        neg_l = model.score(rep, neg)
        pos_term = F.binary_cross_entropy_with_logits(pos_l, torch.ones_like(pos_l), reduction="none")[mask]
        neg_term = F.binary_cross_entropy_with_logits(neg_l, torch.zeros_like(neg_l))
        return pos_term.mean() + neg_term

    # -- loop -------------------------------------------------------------------------------
    def fit(
        self,
        model,
        split: LeaveOneOut,
        out_dir=None,
        extra_meta: dict | None = None,
        resume: dict | None = None,
        on_epoch=None,
    ) -> dict:
        """Train ``model`` on ``split``; returns the summary (also ``config.json`` in ``out_dir``).

        ``on_epoch(record)``: called after each epoch with its history record (progress bars).
        ``resume``: the ``config.json`` dict of a checkpoint whose weights ``model`` already holds,
        plus ``"optimizer"`` (its saved Adam state, optional): epochs, history, best score and
        train time continue from it (the checkpoint holds the best epoch's weights and optimizer).
        """
        cfg = self.cfg
        torch.set_num_threads(cfg.threads)
        style = getattr(model, "training_style", "sequence")
        if style == "sequence":
            users, xs, ys = split.sequence_matrices(model.max_len, cfg.all_positions)
            loss_fn = self._sequence_loss
            lengths = (xs != 0).sum(1)
        else:
            users, xs, ys = split.window_matrices(model.L, model.T)
            loss_fn = self._window_loss
        t_off, t_items = split.train_csr()
        sampler = NegativeSampler(t_off, t_items, split.num_items)
        evaluator = Evaluator(
            split,
            model.max_len,
            num_negatives=cfg.eval_negatives,
            seed=cfg.eval_seed,
            mask_seen_target=cfg.mask_seen_target,
        )
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        n = users.numel()
        best = dict(ndcg=-1.0, epoch=0, state=None, valid=None)
        history, bad, t_start, epoch = [], 0, time.perf_counter(), 0
        first, prev_seconds, best["opt"] = 1, 0.0, None
        if resume is not None:
            if resume.get("optimizer") is not None:
                opt.load_state_dict(resume["optimizer"])
                for group in opt.param_groups:  # the saved state carries the old lr/decay/betas: this config wins
                    group["lr"], group["weight_decay"], group["betas"] = cfg.lr, cfg.weight_decay, tuple(cfg.betas)
            first = int(resume["best_epoch"]) + 1
            history = [h for h in resume.get("history", []) if h["epoch"] < first]
            prev_seconds = float(resume.get("train_seconds", 0.0))
            best.update(
                ndcg=float(resume["valid"]["NDCG@10"]),
                epoch=first - 1,
                valid=resume["valid"],
                state=copy.deepcopy(model.state_dict()),
                opt=resume.get("optimizer"),
            )
            self.log(
                f"resumed at epoch {first} (best valid NDCG@10 {best['ndcg']:.4f}, "
                f"{prev_seconds / 60:.1f} min trained before)"
            )
        # a resumed run continues the random streams instead of replaying epoch 1's batch order and
        # dropout masks (fresh runs: first == 1, the seed itself)
        gen = seed_everything(cfg.seed + first - 1)
        budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        stop_reason = "epochs"
        self.log(
            f"train: {n} {'sequences' if style == 'sequence' else 'windows'}, "
            f"{math.ceil(n / cfg.batch_size)} batches/epoch, loss={cfg.loss}"
        )
        for epoch in range(first, cfg.epochs + 1):
            model.train()
            batches = (
                _bucketed_batches(lengths, cfg.batch_size, gen)
                if style == "sequence"
                else list(torch.randperm(n, generator=gen).split(cfg.batch_size))
            )
            total, t_ep = 0.0, time.perf_counter()
            bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not (cfg.progress and sys.stderr.isatty()))
            for idx in bar:
                x, y = xs[idx], ys[idx]
                if style == "sequence":  # drop columns that are padding in the whole batch
                    nz = (x != 0).any(0).nonzero()
                    x, y = x[:, int(nz[0]) :], y[:, int(nz[0]) :]
                loss = loss_fn(model, users[idx], x, y, sampler, gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_value = float(loss.detach())
                total += loss_value * idx.numel()
                bar.set_postfix(loss=f"{loss_value:.4f}")
            rec = dict(epoch=epoch, loss=total / n, epoch_seconds=time.perf_counter() - t_ep)
            elapsed = time.perf_counter() - t_start
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs or elapsed > budget:
                v = evaluator.evaluate(model, "valid", ("full",))["full"]
                rec.update(valid_ndcg10=v["NDCG@10"], valid_hr10=v["HR@10"])
                if v["NDCG@10"] > best["ndcg"]:
                    best.update(
                        ndcg=v["NDCG@10"],
                        epoch=epoch,
                        valid=v,
                        state=copy.deepcopy(model.state_dict()),
                        opt=copy.deepcopy(opt.state_dict()),
                    )
                    bad = 0
                else:
                    bad += 1
            history.append(rec)
            if on_epoch is not None:
                on_epoch(rec)
            self.log(
                f"epoch {epoch:3d} loss {rec['loss']:.4f} ({rec['epoch_seconds']:.1f}s)"
                + (
                    f" valid HR@10 {rec['valid_hr10']:.4f} NDCG@10 {rec['valid_ndcg10']:.4f}"
                    if "valid_ndcg10" in rec
                    else ""
                )
                + f" [{elapsed / 60:.1f} min]"
            )
            if bad >= cfg.patience:
                stop_reason = f"early stop (patience {cfg.patience})"
                break
            if elapsed > budget:
                stop_reason = f"time budget {cfg.max_minutes} min"
                break
        train_seconds = time.perf_counter() - t_start + prev_seconds
        if best["state"] is not None:
            model.load_state_dict(best["state"])
        test = evaluator.evaluate(model, "test")
        summary = dict(
            train=dataclasses.asdict(cfg),
            epochs_run=epoch,
            best_epoch=best["epoch"],
            stop_reason=stop_reason,
            train_seconds=train_seconds,
            valid=best["valid"],
            test=test,
            history=history,
            **(extra_meta or {}),
        )
        if out_dir is not None:
            save_checkpoint(out_dir, model, summary)
            if best["opt"] is not None:  # lets `chord train --resume` continue from the best epoch
                torch.save(best["opt"], Path(out_dir) / OPTIMIZER)
        return summary


def _bucketed_batches(lengths: torch.Tensor, batch_size: int, gen: torch.Generator, pool: int = 50):
    """Random batches of similar-length sequences: shuffle, sort each pool of ``pool`` batches by
    length, cut into batches, shuffle the batch order. Batches then trim to little padding
    (sequences average ~9 items against max_len 50) at almost no cost in randomness."""
    perm = torch.randperm(lengths.numel(), generator=gen)
    batches = []
    for chunk in perm.split(batch_size * pool):
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(chunk.split(batch_size))
    order = torch.randperm(len(batches), generator=gen)
    return [batches[i] for i in order]


def _bce(logits: torch.Tensor) -> torch.Tensor:
    """logits [N, 1 + k]: column 0 positive, the rest negatives -> mean BCE (negatives averaged)."""
    pos = F.binary_cross_entropy_with_logits(logits[:, 0], torch.ones_like(logits[:, 0]))
    neg = F.binary_cross_entropy_with_logits(logits[:, 1:], torch.zeros_like(logits[:, 1:]))
    return pos + neg


def load_optimizer_state(directory) -> dict | None:
    """The Adam state saved beside a checkpoint by the trainer, or None."""
    p = Path(directory) / OPTIMIZER
    return torch.load(p, map_location="cpu", weights_only=True) if p.is_file() else None
