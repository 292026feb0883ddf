"""DistributedDataParallel under torchrun (gloo, 2 CPU processes): both ranks end identical."""

import os
import subprocess
import sys
from pathlib import Path

import torch


def test_two_rank_training_ends_with_identical_parameters(tmp_path):
    worker = Path(__file__).with_name("_ddp_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=0",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=localhost:0",
        str(worker),
        str(tmp_path),
    ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert a["world"] == b["world"] == 2
    assert a["state"].keys() == b["state"].keys()
    trained = 0
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), f"{k} differs between ranks"
        trained += 1
    assert trained > 10
