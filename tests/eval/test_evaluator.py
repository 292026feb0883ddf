"""Batched evaluator against a brute-force per-user loop on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chord.data import LeaveOneOut, SequenceDataset
from chord.eval import Evaluator, format_table
from chord.models import Caser, SASRec


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(40):
        n = int(rng.integers(1, 25))
        s = rng.integers(1, 151, size=n)  # repeats allowed (like Yelp)
        seqs.append(s)
    items = np.concatenate(seqs)
    off = np.concatenate([[0], np.cumsum([len(s) for s in seqs])])
    return LeaveOneOut(SequenceDataset("tiny", 150, items, off))


def brute_force_rank(model, split, stage, u_row, max_len, cand=None):
    u = int(split.eval_users[u_row])
    seq = split.dataset.sequence(u).tolist()
    hist = seq[:-2] if stage == "valid" else seq[:-1]
    tgt = seq[-2] if stage == "valid" else seq[-1]
    x = torch.tensor([([0] * max_len + hist)[-max_len:]])
    with torch.no_grad():
        rep = model(x, users=torch.tensor([u]))
        s = model.score(rep)[0].double()
    if cand is None:
        pool = [i for i in range(1, split.num_items + 1) if i == tgt or i not in set(hist)]
    else:
        pool = cand
    pos = float(s[tgt])
    return sum(1 for i in pool if i != tgt and float(s[i]) >= pos)


@pytest.mark.parametrize(
    "model_fn",
    [lambda: SASRec(150, 16, 2, 2, 0.0, 8), lambda: Caser(150, 16, L=3, n_v=2, n_h=2, dropout=0.0, num_users=40)],
)
@pytest.mark.parametrize("stage", ["valid", "test"])
def test_full_and_sampled_match_brute_force(split, model_fn, stage):
    torch.manual_seed(0)
    model = model_fn()
    ev = Evaluator(split, model.max_len, num_negatives=20, seed=5, batch_size=7)
    full = ev.ranks(model, stage, "full")
    negs = ev.negatives(stage)
    samp = ev.ranks(model, stage, "sampled")
    for r in range(len(split.eval_users)):
        assert int(full[r]) == brute_force_rank(model, split, stage, r, model.max_len)
        tgt = int(split.targets(stage)[r])
        cand = [tgt] + negs[r].tolist()
        assert int(samp[r]) == brute_force_rank(model, split, stage, r, model.max_len, cand)
        seq = set(split.dataset.sequence(int(split.eval_users[r])).tolist())
        assert not set(negs[r].tolist()) & seq and len(set(negs[r].tolist())) == 20


def test_evaluate_reports_all_metrics_and_restores_train_mode(split):
    model = SASRec(150, 16, 1, 1, 0.3, 8).train()
    res = Evaluator(split, 8, num_negatives=10).evaluate(model, "test")
    assert model.training
    assert set(res) == {"full", "sampled"} and res["full"]["users"] == len(split.eval_users)
    for k in ("HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"):
        assert 0.0 <= res["full"][k] <= 1.0
    assert "NDCG@10" in format_table(res)


def test_scores_that_favour_the_target_give_rank_zero(split):
    """An oracle model that scores exactly the target highest must get HR@1 = 1 in both modes."""
    tg = torch.zeros(split.num_users, dtype=torch.int64)
    tg[torch.from_numpy(split.eval_users)] = torch.from_numpy(split.targets("test"))

    class Oracle(torch.nn.Module):
        max_len = 4

        def forward(self, seqs, users=None):
            return tg[users].double()

        def score(self, rep, item_ids=None):
            ids = torch.arange(151).expand(rep.shape[0], -1) if item_ids is None else item_ids
            return (ids == rep.long().view(-1, 1)).float()

    ev = Evaluator(split, 4, num_negatives=10)
    assert ev.ranks(Oracle(), "test", "full").max() == 0
    assert ev.ranks(Oracle(), "test", "sampled").max() == 0


@pytest.mark.parametrize("stage", ["valid", "test"])
def test_mask_seen_target_turns_repeated_targets_into_misses_only(split, stage):
    torch.manual_seed(0)
    model = SASRec(150, 16, 1, 1, 0.0, 8)
    base = Evaluator(split, 8, batch_size=7).ranks(model, stage, "full")
    masked = Evaluator(split, 8, batch_size=7, mask_seen_target=True).ranks(model, stage, "full")
    seen = []
    for u in split.eval_users:
        seq = split.dataset.sequence(int(u)).tolist()
        hist, tgt = (seq[:-2], seq[-2]) if stage == "valid" else (seq[:-1], seq[-1])
        seen.append(tgt in hist)
    seen = torch.tensor(seen)
    assert seen.any() and (~seen).any()  # the fixture has both kinds
    assert torch.equal(masked[~seen], base[~seen])
    assert (masked[seen] == split.num_items).all()  # ranked below every item: a miss at any k
    assert (base[seen] < split.num_items).all()


def test_eval_cli_mask_seen_target(tmp_path, capsys):
    import json

    from chord.checkpoint import save_checkpoint
    from chord.cli import main

    data = tmp_path / "rep.txt"  # S3-Rec lines; every user's last item repeats
    data.write_text(
        "".join(f"{u} {' '.join(str((u + j) % 20 + 1) for j in range(5))} {(u % 20) + 1}\n" for u in range(1, 31))
    )
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", SASRec(20, 8, 1, 1, 0.0, 6), {"train": {"min_len": 3}})
    out = {}
    for flag in ([], ["--mask-seen-target"]):
        js = tmp_path / f"e{len(flag)}.json"
        assert (
            main(
                [
                    "eval",
                    str(tmp_path / "ck"),
                    "--dataset",
                    str(data),
                    "--modes",
                    "full",
                    "--threads",
                    "1",
                    "--json",
                    str(js),
                ]
                + flag
            )
            == 0
        )
        out[len(flag)] = json.loads(js.read_text())
    capsys.readouterr()
    assert out[1]["mask_seen_target"] and not out[0]["mask_seen_target"]
    assert out[1]["results"]["full"]["HR@20"] == 0.0 < out[0]["results"]["full"]["HR@20"]
