"""How far a trained CHORD planner's per-user bit targets spread, and how strong the CE gradient's
per-user part is against the deviation penalty's (what set ``--chord-deviation 0.05``).

usage: python deviation_scale.py CHORD_CKPT_DIR FP32_CKPT_DIR DATA_DIR
"""

import json
import sys

import torch
import torch.nn.functional as F

from chord.checkpoint import load_checkpoint
from chord.data import LeaveOneOut, load_dataset
from chord.experiments.runner import train_histories
from chord.system import ChordConfig, build_system, load_chord_state
from chord.system.chord_trainer import deviation_penalty, training_instances

torch.set_num_threads(1)
ckpt, fp32, data = sys.argv[1:4]
cfg = ChordConfig(**json.load(open(f"{ckpt}/chord.json"))["chord"])
system = build_system(load_checkpoint(fp32)[0], cfg)
load_chord_state(system, ckpt)
split = LeaveOneOut(load_dataset("ml-100k", data))
sizes = system.planner.sizes
w = (sizes / sizes.sum()).double()
system.eval()
with torch.no_grad():
    t = system.planner.targets(system.profiler(train_histories(split, cfg.history)[1])).double()
dev = t - t.mean(0)
print(
    f"per-user spread of the targets (size-weighted std per channel): {float((dev.pow(2).mean(0) * w).sum().sqrt()):.3f} bits"
)
print(f"spread of the channels' mean targets (std): {float(t.mean(0).std()):.3f} bits")
system.train()
torch.manual_seed(0)
users, xs, ys = training_instances(split, cfg.history)
for _ in range(3):
    idx = torch.randperm(len(users))[: cfg.batch_size]
    rep, _, _, tt = system.relaxed_forward(
        xs[idx], users[idx], budget=cfg.budget, tau=0.5, noise=cfg.noise, with_targets=True
    )
    tt.retain_grad()
    F.cross_entropy(system.score(rep)[:, 1:], ys[idx] - 1).backward(retain_graph=True)
    g_ce = tt.grad.clone()
    tt.grad = None
    pen = deviation_penalty(tt, sizes)
    pen.backward()
    print(
        f"batch: penalty {float(pen.detach()):.3f}; |CE grad, per-user part| {float((g_ce - g_ce.mean(0)).norm()):.4f}; "
        f"|penalty grad at weight 1| {float(tt.grad.norm()):.4f}"
    )
