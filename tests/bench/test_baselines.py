"""Every baseline computes x @ w.T (within its quantization error) so ratios compare like with like."""
from __future__ import annotations

import pytest
import torch

from chord.bench import peer_ggml
from chord.bench.baselines import BASELINES, Unavailable

#: relative Frobenius error each baseline's quantization allows on Gaussian weights
TOL = {"torch_fp32": 1e-5, "torch_dynamic_int8": 0.05, "aten_int8pack_mm": 0.02, "aten_int4pack_mm": 0.15}


@pytest.mark.parametrize("name", sorted(TOL))
def test_baseline_matches_fp32(name):
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(192, 256, generator=g), torch.randn(3, 256, generator=g)
    ref = x.double() @ w.double().T
    try:
        prep = BASELINES[name](w, x, 3)
    except Unavailable as e:
        pytest.skip(str(e))
    assert prep.n_sets == 3 and prep.bytes_read > 0
    for i in range(3):  # every rotated set computes the same product
        y = prep.fn(i).double()
        assert y.shape == (3, 192)
        assert float((y - ref).norm() / ref.norm()) < TOL[name]


def test_fp16_baseline_is_cuda_only():
    with pytest.raises(Unavailable, match="cuda"):
        BASELINES["torch_fp16"](torch.randn(4, 4), torch.randn(1, 4), 1)


@pytest.mark.skipif(not peer_ggml.available(), reason="ggml-python (the [peer] extra) is not installed")
@pytest.mark.parametrize("kind,tol", [("ggml_q2_k", 0.4), ("ggml_q4_k", 0.1), ("ggml_q8_0", 0.02)])
def test_ggml_peer_matches_fp32(kind, tol):
    g = torch.Generator().manual_seed(1)
    w, x = torch.randn(128, 512, generator=g), torch.randn(2, 512, generator=g)
    prep = peer_ggml.ggml_matmul(kind, w, x, 2, 1)
    prep.fn(1)
    y = prep.keepalive[1](1)
    ref = x @ w.T
    assert float((y - ref).norm() / ref.norm()) < tol


def test_ggml_peer_rejects_unknown_kind():
    with pytest.raises((ValueError, Unavailable)):
        peer_ggml.ggml_matmul("ggml_q3_x", torch.randn(4, 256), torch.randn(1, 256), 1, 1)
