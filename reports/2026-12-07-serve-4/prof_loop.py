# ruff: noqa: E402, UP031 (an experiment script: set-up before imports, printf-style rows)
import atexit
import cProfile
import sys

import torch

port, mi, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.set_num_threads(1)
from chord.serve import app as A
from chord.serve.service_loader import random_service

svc = random_service("sasrec", 1682, seed=0)
app = A.create_app(svc, max_inflight=None if mi == "none" else int(mi))
import uvicorn

pr = cProfile.Profile()


def dump():
    pr.disable()
    pr.dump_stats(out)


atexit.register(dump)
pr.enable()
uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)).run()
