"""Run under torchrun by test_chord_trainer_ddp.py: train CHORD briefly, dump this rank's parameters."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.helpers
from chord.models import SASRec  # noqa: E402
from chord.system import ChordConfig, ChordTrainer, build_system  # noqa: E402
from chord.system.chord_trainer import init_distributed  # noqa: E402
from tests.helpers import tiny_split  # noqa: E402


def main(out):
    rank, world, _ = init_distributed()
    split = tiny_split(users=16)
    cfg = ChordConfig(epochs=1, batch_size=8, d_user=8, hidden=16, history=8, progress=False, threads=1)
    torch.manual_seed(1234 + rank)  # different init per rank: DDP must broadcast rank 0's
    system = build_system(SASRec(split.num_items, dim=16, max_len=8), cfg)
    ChordTrainer(cfg, log=lambda *_: None).fit(system, split)
    state = {k: v for k, v in system.state_dict().items() if not k.startswith("copies.")}
    torch.save({"world": world, "state": state}, f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
