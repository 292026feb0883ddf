import statistics

import torch

import chord.backends.cpu as cb
from chord.bench import contend
from chord.bench.config import NAMED_MIXES, mix_codes
from chord.bench.suites.e2e import build_model
from chord.bench.timing import per_call
from chord.quantize import DeviceModel
from chord.quantize.strategy import Strategy

torch.manual_seed(0)
model = build_model("sasrec", 100000, 0)
dm = DeviceModel(model, embeddings=True)
strategy = Strategy(
    {ln: mix_codes(NAMED_MIXES["mix3"], int(f.shape[0]), seed=j) for j, (ln, f) in enumerate(dm.frozen.items())}
)


def t(fn, r=5):
    out = per_call(lambda i: fn(), r, warmup=1)
    return round(min(out) * 1e3, 1), round(statistics.median(out) * 1e3, 1)


orig = cb._nthreads
with torch.inference_mode(), contend.busy_processes(1):
    for th in (1, 2):
        torch.set_num_threads(th)
        cb._nthreads = orig
        a = t(lambda: dm.apply(strategy))
        cb._nthreads = lambda: 1
        b = t(lambda: dm.apply(strategy))
        cb._nthreads = orig
        st = dm.apply(strategy)
        print(f"torch threads {th}: apply {a}  chord kernels forced 1 thread {b}", flush=True)
    import cProfile
    import pstats

    torch.set_num_threads(2)
    cProfile.run("dm.apply(strategy)", "/tmp/apply.prof")
    p = pstats.Stats("/tmp/apply.prof")
    p.sort_stats("tottime").print_stats(12)
