"""Device round trip: request -> cloud strategy bytes -> packed adaptation -> rerank equals the
simulated per-user forward used in training and evaluation."""

import pytest
import torch

from chord.models import Caser, SASRec
from chord.system import ChordConfig, build_system
from chord.system.cloud.service import CloudService
from chord.system.device import Device


@pytest.mark.parametrize(
    "make",
    [
        lambda: SASRec(40, dim=16, max_len=8, dropout=0.0),
        lambda: Caser(40, dim=16, L=4, n_v=2, n_h=3, dropout=0.0, num_users=3),
        # the original Caser head: [z; P_u] against a separate output table
        lambda: Caser(40, dim=16, L=4, n_v=2, n_h=3, dropout=0.0, num_users=3, head="untied", dropout_pos="before_fc1"),
    ],
    ids=["sasrec", "caser", "caser-untied"],
)
def test_device_forward_equals_simulated_forward(make):
    torch.manual_seed(0)
    bb = make().eval()
    system = build_system(bb, ChordConfig(d_user=8, hidden=16)).eval()
    with torch.no_grad():
        for p in system.planner.hyper.parameters():
            p.normal_(0, 0.3)
    seqs = torch.randint(1, 41, (3, 8))
    users = torch.arange(3)
    ref = system(seqs, users=users)
    svc = CloudService(system.planner, bb)
    dev = Device(bb, system.profiler, budget=3.0)
    for i in range(3):
        u, b = dev.request(seqs[i])
        stats = dev.adapt(svc.respond(u, b)[0])
        assert abs(stats.avg_bits - 3.0) < 0.25 and stats.avg_bits <= 3.0 + 1e-6
        torch.testing.assert_close(
            dev.dm.model(seqs[i : i + 1], users=users[i : i + 1]), ref[i : i + 1], rtol=1e-4, atol=1e-4
        )
        cand = torch.randint(1, 41, (1, 12))
        ids, scores, secs = dev.rerank(seqs[i : i + 1], cand, k=5, users=users[i : i + 1])
        assert ids.shape == (1, 5) and set(ids[0].tolist()) <= set(cand[0].tolist()) and secs > 0
        full_ids, _, _ = dev.rerank(seqs[i : i + 1], None, k=5, users=users[i : i + 1])
        assert 0 not in full_ids[0].tolist()


def test_weak_device_remaps_8_to_4_bits():
    torch.manual_seed(0)
    bb = SASRec(40, dim=16, max_len=8, dropout=0.0).eval()
    system = build_system(bb, ChordConfig(d_user=8, hidden=16)).eval()
    svc = CloudService(system.planner, bb)
    weak = Device(bb, system.profiler, budget=6.0, remap={8: 4})
    u, b = weak.request(torch.tensor([1, 2, 3]))
    stats = weak.adapt(svc.respond(u, b)[0])
    assert stats.avg_bits <= 4.0 + 1e-6
    assert 8 not in weak.dm.codebook.bits
    with pytest.raises(ValueError, match="budget"):
        Device(bb, system.profiler, budget=0)
