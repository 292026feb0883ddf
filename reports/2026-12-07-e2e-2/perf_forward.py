"""A loop of SASRec forwards for ``perf record -p`` (the model as the e2e suite builds it, backbone
quantized at mix3 unless fp32; 1 torch thread, ``torch.inference_mode``). Prints "go" after the
build and warm-up, then runs SECONDS of forwards:

    PYTHONPATH=$PWD/python:$PWD python reports/2026-12-07-e2e-2/perf_forward.py act8 40 > /tmp/pf.out &
    until grep -q go /tmp/pf.out; do sleep 0.5; done
    perf record -F 2000 -p $! -o /tmp/pf.data -- sleep 12; perf report -i /tmp/pf.data --sort dso --stdio
"""

import sys
import time

import torch

from chord.bench.config import parse_mix
from chord.bench.suites.e2e import _quantized, build_model

torch.set_num_threads(1)
variant, seconds = sys.argv[1], float(sys.argv[2])
with torch.inference_mode():
    model = build_model("sasrec", 100_000, 0)
    seqs = torch.randint(1, 100_001, (1, 50), generator=torch.Generator().manual_seed(11))
    if variant != "fp32":
        model = _quantized(model, parse_mix("mix3")[1], False, {"exact": 0, "act8": 8}[variant], 0)
    for _ in range(200):
        model(seqs)
    print("go", flush=True)
    t0 = time.time()
    while time.time() - t0 < seconds:
        model(seqs)
