"""The headroom search (chord.experiments.headroom): exact knapsack, budget, monotonicity,
determinism, oracle >= population on the search objective; ``chord headroom`` end to end."""

import itertools
import json

import numpy as np
import pytest
import torch

from chord.codebook import Codebook
from chord.experiments import headroom as hr
from chord.experiments.headroom_run import sample_rows
from chord.models import build_model
from chord.system.cloud import planned_layers
from chord.system.cloud.tiering import channel_elems, codes_avg_bits


def _groups(elems):
    elems = np.asarray(elems, dtype=np.float64)
    return hr.Groups(torch.arange(len(elems)), elems, tuple(f"g{i}" for i in range(len(elems))))


def _objective(G, U, seed):
    """U different non-separable objectives over group codes: a random per-group cost of each
    width plus random pairwise interactions (so the knapsack's separable model is only a guide)."""
    g = torch.Generator().manual_seed(seed)
    lin = torch.rand(U, G, 4, generator=g, dtype=torch.float64) * torch.tensor(
        [4.0, 2.0, 1.0, 0.5], dtype=torch.float64
    )
    pair = torch.rand(U, G, G, generator=g, dtype=torch.float64) * 0.3
    calls = []

    def f(codes, rows):
        calls.append(codes.clone())
        one = torch.nn.functional.one_hot(codes, 4).double()  # [R, G, 4]
        bits = torch.tensor([0.0, 2.0, 4.0, 8.0], dtype=torch.float64)[codes] / 8  # [R, G]
        val = (lin[rows] * one).sum((1, 2)) - torch.einsum("rg,rgh,rh->r", bits, pair[rows], bits)
        return val

    return f, calls


def test_knapsack_is_exact_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        G, K = int(rng.integers(1, 5)), 4
        delta = rng.normal(size=(3, G, K))
        delta[rng.random(size=delta.shape) < 0.2] = np.inf
        cost = rng.integers(0, 6, size=(G, K))
        cap = int(rng.integers(0, 15))
        choice, value = hr.knapsack(delta, cost, cap)
        for u in range(3):
            best = np.inf
            for combo in itertools.product(range(K), repeat=G):
                if sum(cost[g, k] for g, k in enumerate(combo)) <= cap:
                    best = min(best, sum(delta[u, g, k] for g, k in enumerate(combo)))
            if np.isinf(best):
                assert np.isinf(value[u]) and (choice[u] == -1).all()
                continue
            assert value[u] == pytest.approx(best)
            assert sum(cost[g, k] for g, k in enumerate(choice[u])) <= cap
            assert sum(delta[u, g, k] for g, k in enumerate(choice[u])) == pytest.approx(best)


@pytest.mark.parametrize("elems", [[64, 64, 256, 256, 64], [20, 64, 128, 192, 320, 21504, 8192]])
def test_units_never_admit_an_over_budget_solution(elems):
    """Costs round up and capacity down, so any knapsack solution fits the real budget (the
    second case is Caser-like: odd sizes force rounding)."""
    groups = _groups(elems)
    widths = [0, 2, 4, 8]
    rng = np.random.default_rng(1)
    for budget in (1.5, 2.0, 2.5, 3.0):
        cost, cap = hr._units(groups, budget, widths)
        for _ in range(200):
            k = rng.integers(0, 4, size=len(elems))
            if cost[np.arange(len(elems)), k].sum() <= cap:
                assert bool(hr.fits(torch.from_numpy(k)[None], groups, budget)[0])


@pytest.mark.parametrize("budget", [1.5, 2.0, 3.0])
def test_search_holds_budget_improves_and_is_deterministic(budget):
    groups = _groups([64, 64, 128, 256, 64, 32])
    U = 5
    f, calls = _objective(groups.size, U, seed=3)
    start = hr.start_codes(groups, budget).expand(U, -1)
    v0 = f(start, torch.arange(U))
    codes, value, n = hr.local_search(f, start, groups, budget, rounds=6)
    assert bool(hr.fits(codes, groups, budget).all())
    assert torch.equal(value, f(codes, torch.arange(U)))  # the value reported is the codes' value
    assert bool((value <= v0).all()) and bool((value < v0).any())
    assert n >= 1
    codes2, value2, _ = hr.local_search(f, start, groups, budget, rounds=6)
    assert torch.equal(codes, codes2) and torch.equal(value, value2)


def test_oracle_never_worse_than_population_on_the_search_objective():
    groups = _groups([64, 64, 128, 256, 64, 32, 96])
    U, budget = 8, 2.5
    f, _ = _objective(groups.size, U, seed=7)

    def mean(codes, rows):
        return f(codes.expand(U, -1), torch.arange(U)).mean().view(1)

    pop, pop_val, _ = hr.local_search(mean, hr.start_codes(groups, budget), groups, budget, rounds=10)
    per_pop = f(pop.expand(U, -1), torch.arange(U))
    assert float(per_pop.mean()) == pytest.approx(float(pop_val[0]))
    orc, orc_val, _ = hr.local_search(f, pop.expand(U, -1), groups, budget, rounds=3)
    assert bool((orc_val <= per_pop).all())
    assert bool(hr.fits(orc, groups, budget).all())


@pytest.mark.parametrize("budget", [1.5, 2.5, 3.0])
def test_descend_start_fits_and_is_deterministic(budget):
    groups = _groups([64, 64, 128, 256, 64, 32])
    f, _ = _objective(groups.size, 1, seed=5)
    start, n = hr.descend_start(f, groups, budget)
    assert bool(hr.fits(start[None], groups, budget)[0])
    # as close to the budget as one more narrowing step allows: the last step was needed
    assert float(hr.avg_bits(start[None], groups)[0]) > budget - 4.0 * 256 / groups.elems.sum() - 1e-9
    assert n > 1
    again, n2 = hr.descend_start(f, groups, budget)
    assert torch.equal(start, again) and n == n2
    codes, value, _ = hr.local_search(f, start[None], groups, budget, rounds=4)
    assert bool(hr.fits(codes, groups, budget).all()) and float(value[0]) <= float(
        f(start[None], torch.zeros(1, dtype=torch.long))[0]
    )


def test_descend_start_at_a_width_is_the_uniform_start():
    groups = _groups([64, 64, 128])
    f, _ = _objective(groups.size, 1, seed=1)
    start, n = hr.descend_start(f, groups, 2.0)
    assert torch.equal(start, hr.start_codes(groups, 2.0)) and n == 1
    with pytest.raises(ValueError, match="budget"):
        hr.descend_start(f, groups, -1.0)


def test_descend_start_leaves_the_all_pruned_plateau():
    # a group's width only matters with its neighbour's (a layer whose input is pruned computes
    # nothing): from everything pruned at 1.5 bits no single widening changes the value
    groups = _groups([64, 64, 128])

    def f(codes, rows):
        on = (codes > 0).double()
        return 1.0 - 0.5 * on[:, 0] * on[:, 1] - 0.1 * on[:, 1] * on[:, 2]

    zero = torch.zeros(1, dtype=torch.long)
    uniform = hr.start_codes(groups, 1.5)
    assert int(uniform.max()) == 0
    _, stuck, _ = hr.local_search(f, uniform, groups, 1.5, rounds=4)
    assert float(stuck[0]) == 1.0
    start, _ = hr.descend_start(f, groups, 1.5)
    assert bool(hr.fits(start[None], groups, 1.5)[0])
    # narrowed the cheapest loss per bit saved: the 128-element group (0.1 over 256 bit-elements)
    assert start.tolist() == [1, 1, 0] and float(f(start[None], zero)[0]) == 0.5
    _, value, _ = hr.local_search(f, start[None], groups, 1.5, rounds=4)
    assert float(value[0]) <= 0.5 < float(stuck[0])


def test_start_over_budget_is_refused():
    groups = _groups([64, 64])
    f, _ = _objective(2, 1, seed=0)
    with pytest.raises(ValueError, match="start"):
        hr.local_search(f, torch.tensor([3, 3]), groups, 2.0)
    with pytest.raises(ValueError, match="budget"):
        hr.start_codes(hr.Groups(torch.arange(2), np.ones(2), ("a", "b")), -1.0, Codebook((1, 2, 4, 8)))


@pytest.mark.parametrize("model", ["sasrec", "caser"])
def test_groups_partition_channels_and_budget_matches_chord(model):
    torch.manual_seed(0)
    cfg = {"model": model, "num_items": 50, "dim": 16}
    cfg.update({"blocks": 1, "heads": 1, "ffn_hidden": 32, "max_len": 10} if model == "sasrec" else {"num_users": 9})
    m = build_model(cfg)
    specs = planned_layers(m)
    groups = hr.channel_groups(m, specs, blocks=3)
    N = sum(s.channels for s in specs)
    assert groups.index.shape == (N,)
    assert sorted(set(groups.index.tolist())) == list(range(groups.size))
    assert groups.elems.sum() == sum(s.numel for s in specs)
    # block 0 of the first layer holds its channels with the largest 2-bit error
    s = specs[0]
    w = m.get_submodule(s.name).weight.detach().reshape(s.channels, -1)
    from chord.backends.reference import fake_quantize

    err = (w - fake_quantize(w, 2, "sym")).pow(2).sum(1)
    first = groups.index[: s.channels]
    assert float(err[first == 0].min()) >= float(err[first == first.max()].max())
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 4, (4, groups.size), generator=g)
    chord_bits = codes_avg_bits(groups.expand(codes), channel_elems(specs), Codebook.default())
    assert torch.allclose(hr.avg_bits(codes, groups).float(), chord_bits, atol=1e-6)


def test_oracle_search_is_deterministic_with_per_round_test_scoring():
    """run_cell scores the oracle on test after each round (Evaluator.ranks through a CodesModel);
    that must leave the search objective alone: with a dropout backbone, two runs in one process give
    the same strategies, and the same search value as the search run without the per-round scoring."""
    from argparse import Namespace

    from chord.experiments.headroom_run import run_cell
    from tests.helpers import tiny_split

    split = tiny_split(users=24, items=30)
    torch.manual_seed(0)
    m = build_model(
        {"model": "caser", "num_items": 30, "num_users": split.num_users, "dim": 8, "L": 4, "dropout": 0.4}
    ).eval()
    args = Namespace(
        blocks=2, history=4, mask_seen_target=False, search_items=1, rounds=3, oracle_rounds=3, seed=1, bootstrap=20
    )
    rows = torch.arange(len(split.eval_users))
    a, b = (run_cell(m, split, 1.5, rows, args, log=None) for _ in range(2))
    assert not m.training
    assert a["valid_loss"] == b["valid_loss"]
    assert all(torch.equal(a["_ranks"][k], b["_ranks"][k]) for k in a["_ranks"])
    specs = planned_layers(m)
    groups = hr.channel_groups(m, specs, 2)
    obj = hr.StageLoss(m, specs, groups, *hr.search_instances(split, rows, 1, 4))
    pop = torch.tensor(a["population_codes"]).expand(rows.numel(), -1)
    _, val, _ = hr.local_search(obj.per_user, pop, groups, 1.5, 3)
    assert float(val.mean()) == pytest.approx(a["valid_loss"]["oracle"], rel=1e-12)
    assert a["valid_loss"]["oracle"] < a["valid_loss"]["population"]  # the search did move


def test_sample_rows_seeded():
    a, b = sample_rows(100, 10, 5), sample_rows(100, 10, 5)
    assert torch.equal(a, b) and a.numel() == 10 and len(set(a.tolist())) == 10
    assert not torch.equal(a, sample_rows(100, 10, 6))
    assert torch.equal(sample_rows(7, 0, 1), torch.arange(7))


def test_cli_cell_resumes(tmp_path, capsys):
    from chord.checkpoint import save_checkpoint
    from chord.cli import main
    from tests.helpers import data_dir_or_skip

    data = data_dir_or_skip("ml-100k").parent
    torch.manual_seed(0)
    m = build_model(
        {"model": "sasrec", "num_items": 1682, "dim": 8, "blocks": 1, "heads": 1, "ffn_hidden": 16, "max_len": 20}
    )
    save_checkpoint(tmp_path / "ckpt", m)
    argv = ["headroom", "--ckpt", str(tmp_path / "ckpt"), "--data-dir", str(data), "--users", "16"]
    argv += ["--budgets", "2.0", "--rounds", "2", "--oracle-rounds", "1", "--history", "20"]
    argv += ["--bootstrap", "50", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    cell = res["cells"]["ml-100k/sasrec@2.0"]
    assert cell["users"] == 16
    assert cell["avg_bits"]["population"] <= 2.0 + 1e-9 and cell["avg_bits"]["oracle_max"] <= 2.0 + 1e-9
    assert cell["valid_loss"]["oracle"] <= cell["valid_loss"]["population"] + 1e-12
    assert set(cell["oracle_by_round"]) == {"1"}  # one oracle round asked
    last = cell["oracle_by_round"]["1"]
    assert last["NDCG@10"] == pytest.approx(cell["test"]["oracle"]["NDCG@10"])
    d = cell["oracle_minus_population"]["NDCG@10"]
    assert d["lo"] <= d["diff"] <= d["hi"] and d["users"] == 16
    ranks = np.load(tmp_path / "out" / "ranks.npz")
    assert ranks["ml-100k/sasrec@2.0|oracle"].shape == (16,)
    assert np.array_equal(ranks["ml-100k/sasrec@2.0|rows"], sample_rows(943, 16, 42).numpy())
    capsys.readouterr()
    assert main(argv) == 0
    assert "done, skipped" in capsys.readouterr().out
    assert main(["headroom", "--table", str(tmp_path / "out")]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| ml-100k/sasrec@2.0 |")]
    assert len(rows) == 2  # the main table's row and the one oracle round's
    assert f"| {cell['test']['oracle']['NDCG@10']:.4f} |" in rows[0]
    assert rows[1].startswith("| ml-100k/sasrec@2.0 | 1 | 1 |")


def test_cli_descend_start_is_recorded_and_holds_the_budget(tmp_path):
    from chord.checkpoint import save_checkpoint
    from chord.cli import main
    from tests.helpers import data_dir_or_skip

    data = data_dir_or_skip("ml-100k").parent
    torch.manual_seed(0)
    m = build_model(
        {"model": "sasrec", "num_items": 1682, "dim": 8, "blocks": 1, "heads": 1, "ffn_hidden": 16, "max_len": 20}
    )
    save_checkpoint(tmp_path / "ckpt", m)
    argv = ["headroom", "--ckpt", str(tmp_path / "ckpt"), "--data-dir", str(data), "--users", "8", "--start"]
    argv += ["descend", "--budgets", "1.5", "--rounds", "1", "--oracle-rounds", "1", "--history", "20"]
    argv += ["--bootstrap", "20", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    cell = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]["ml-100k/sasrec@1.5"]
    assert cell["start"] == "descend"
    # the uniform start at 1.5 bits is everything pruned (0 bits); descending stops within one
    # group's narrowing of the budget, and the search never leaves it
    assert 0.0 < cell["avg_bits"]["population"] <= 1.5 + 1e-9 and cell["avg_bits"]["oracle_max"] <= 1.5 + 1e-9


def test_search_instances_are_the_validation_stage_and_never_the_test_item():
    from chord.data import LeaveOneOut, load_dataset
    from chord.eval.evaluator import Evaluator
    from tests.helpers import data_dir_or_skip

    data = data_dir_or_skip("ml-100k").parent
    split = LeaveOneOut(load_dataset("ml-100k", str(data)).head(30))
    rows = torch.tensor([0, 3, 7, 29])
    ev = Evaluator(split, 20)
    st = ev._stage("valid")
    seqs, users, targets, mask, weight = hr.search_instances(split, rows, 1, 20)
    assert torch.equal(seqs, st["seqs"][rows]) and torch.equal(targets, st["targets"][rows])
    assert torch.equal(users, ev.users[rows]) and torch.equal(weight, torch.ones(4, 1, dtype=torch.float64))
    off, hist = st["hist_off"], st["hist_items"]
    for i, r in enumerate(rows.tolist()):
        want = torch.zeros(split.num_items + 1, dtype=torch.bool)
        want[hist[int(off[r]) : int(off[r + 1])]] = True
        want[0] = True
        want[targets[i]] = False
        assert torch.equal(mask[i], want)
    seqs5, _, targets5, mask5, weight5 = hr.search_instances(split, rows, 5, 20)
    assert torch.equal(seqs5[::5], seqs) and torch.equal(targets5[::5], targets)
    test_items = torch.from_numpy(split.targets("test"))[rows]
    u = split.eval_users[rows.numpy()]
    for i in range(4):
        items = split.dataset.items[split.starts[u[i]] : split.ends[u[i]]]
        # instance j targets the item j places before the validation item, its history ends there
        for j in range(5):
            assert int(targets5[5 * i + j]) == int(items[len(items) - 2 - j])
            assert int(seqs5[5 * i + j, -1]) == int(items[len(items) - 3 - j])
        assert weight5[i].sum() == 5
    assert int(test_items[0]) != 0


def test_masked_seen_targets_weigh_nothing_and_losses_stay_finite():
    """With --mask-seen-target a target repeating its history is masked (a miss under any strategy):
    its +inf loss must weigh 0, or every mean is inf and no search move is ever accepted."""
    from chord.data import LeaveOneOut
    from chord.data.dataset import SequenceDataset

    # user 0: validation item 3 repeats its history; user 1: no repeat; user 2: its 3rd instance repeats
    seqs = [[1, 2, 3, 4, 3, 5], [6, 7, 8, 9, 10, 11], [1, 2, 1, 4, 6, 7]]
    offsets = np.cumsum([0] + [len(s) for s in seqs])
    split = LeaveOneOut(SequenceDataset("rep", 11, np.concatenate(seqs), offsets))
    rows = torch.arange(3)
    torch.manual_seed(0)
    m = build_model(
        {"model": "sasrec", "num_items": 11, "dim": 8, "blocks": 1, "heads": 1, "ffn_hidden": 16, "max_len": 8}
    )
    specs = planned_layers(m)
    groups = hr.channel_groups(m, specs, 2)
    cb = Codebook.default()
    start = hr.start_codes(groups, 3.0, cb).view(1, -1)
    for k, want in ((1, [[0.0], [1.0], [1.0]]), (3, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])):
        data = hr.search_instances(split, rows, k, 8, mask_seen_target=True)
        assert data[-1].tolist() == want
        obj = hr.StageLoss(m.eval(), specs, groups, *data)
        per_user = obj.per_user(start.expand(3, -1))
        assert torch.isfinite(per_user).all() and torch.isfinite(obj.population(start[0]))
        assert (per_user[0] == 0) == (k == 1)  # no search data left: the same 0 under every strategy
        assert (per_user[1:] > 0).all()
    plain = hr.search_instances(split, rows, 1, 8)
    assert plain[-1].tolist() == [[1.0], [1.0], [1.0]] and not plain[3][0, 3]


@pytest.mark.parametrize("content", [None, "{not json", '{"rows": []}'])
def test_cli_table_of_a_dir_that_is_not_a_headroom_out_dir_is_a_clear_error(tmp_path, content):
    from chord.cli import main

    d = tmp_path / "not_out"
    d.mkdir()
    if content is not None:
        (d / "results.json").write_text(content)
    with pytest.raises(SystemExit) as e:
        main(["headroom", "--table", str(d)])
    assert "--table" in str(e.value) and str(d) in str(e.value)
