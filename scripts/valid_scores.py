"""Validation-stage HR@10 / NDCG@10 (full ranking) of fp32, layer-wise@B, population@B and CHORD@B
from a `chord experiment` output dir (selection figures; never reads the test stage).
usage: python valid_scores.py OUT_DIR SENSITIVITY_JSON DATASET [budget]"""

import json
import sys

import torch

from chord.data import LeaveOneOut, load_dataset
from chord.eval.evaluator import Evaluator
from chord.experiments import baseline_codes as bl
from chord.experiments.runner import Grid, GridConfig, train_histories
from chord.system import CodesModel

torch.set_num_threads(1)
out, sens_json = sys.argv[1], sys.argv[2]
ds, mn = sys.argv[3], "sasrec"
B = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
split = LeaveOneOut(load_dataset(ds))
g = Grid(GridConfig(datasets=(ds,), models=(mn,), threads=1), out, log=lambda *a: None)
ev = Evaluator(split, g.cfg.chord.history)
trained = g.fp32_backbone(ds, mn, split)
specs = CodesModel(trained, lambda s, u: None).specs
sens = json.load(open(sens_json))["cells"][f"{ds}/{mn}/layerwise-sensitivity"]["sensitivity"]
sens = {k: {int(w): v for w, v in d.items()} for k, d in sens.items()}
res = {}


def v(name, model):
    m = ev.evaluate(model, "valid", ("full",))["full"]
    res[name] = {"HR@10": m["HR@10"], "NDCG@10": m["NDCG@10"]}
    print(f"{name:28s} valid HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f}", flush=True)


v("fp32", trained)
lw = bl.allocate_layerwise(specs, sens, B)
v(f"layerwise@{B}", CodesModel(trained, lambda s, u: lw, specs))
system, _ = g.chord_system(f"{ds}_{mn}_chord-pretrained_{B}", trained, split, B, None, False)
system.eval_budget, system.population_codes = B, None
v(f"chord-pretrained@{B}", system)
_, xs, _ = train_histories(split, g.cfg.chord.history)
system.population_codes = bl.population_codes(system, xs, B)
v(f"population-pretrained@{B}", system)
json.dump(res, open(f"{out}/valid_scores.json", "w"), indent=1)
