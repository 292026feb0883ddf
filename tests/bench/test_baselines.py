"""Every baseline computes x @ w.T (within its quantization error) so ratios compare like with like."""

from __future__ import annotations

import pytest
import torch

from chord.bench import peer_ggml, peer_torchao
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


@pytest.mark.optional
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


@pytest.mark.optional
@pytest.mark.skipif(not peer_ggml.available(), reason="ggml-python (the [peer] extra) is not installed")
def test_ggml_peer_quantizes_once_and_runs_on_either_pages():
    # the kernels suite quantizes each kind once per weight (qcache) and times it on ggml's own
    # allocation and on 2 MiB pages: the same bytes, the same product
    g = torch.Generator().manual_seed(3)
    w, x = torch.randn(96, 512, generator=g), torch.randn(2, 512, generator=g)
    q: dict = {}
    own = peer_ggml.ggml_matmul("ggml_q4_k", w, x, 2, 1, qcache=q)
    assert q["ggml_q4_k"].numel() == own.bytes_read
    huge = peer_ggml.ggml_matmul("ggml_q4_k", w, x, 3, 2, hugepages=True, qcache=q)
    own.fn(1)
    huge.fn(2)
    assert torch.equal(own.keepalive[1](1), huge.keepalive[1](2))
    with pytest.raises(ValueError, match="qcache"):  # a cache filled for another weight
        peer_ggml.ggml_matmul("ggml_q4_k", w[:64], x, 2, 1, qcache=q)


def test_ggml_peer_rejects_unknown_kind():
    with pytest.raises((ValueError, Unavailable)):
        peer_ggml.ggml_matmul("ggml_q3_x", torch.randn(4, 256), torch.randn(1, 256), 1, 1)


@pytest.mark.optional
@pytest.mark.skipif(not peer_torchao.available(), reason="torchao (the [torchao] extra) is not installed")
@pytest.mark.parametrize("kind,tol", [("torchao_int8_dyn", 0.05), ("torchao_int4_wo", 0.15)])
def test_torchao_peer_matches_fp32_or_says_why_not(kind, tol):
    g = torch.Generator().manual_seed(2)
    w, x = torch.randn(128, 256, generator=g), torch.randn(2, 256, generator=g)
    try:
        prep = peer_torchao.torchao_linear(kind, w, x, 2)
    except Unavailable as e:  # a config without a kernel on this CPU / torch: named, with torchao's reason
        assert str(e).startswith(peer_torchao.CONFIGS[kind][0])
        return
    ref = x.double() @ w.double().T
    for i in range(2):
        y = prep.fn(i).double()
        assert y.shape == (2, 128) and float((y - ref).norm() / ref.norm()) < tol


def test_peer_names_expand():
    from chord.bench.suites.kernels import peer_impls

    assert peer_impls(["torchao"]) == list(peer_torchao.CONFIGS)
    assert peer_impls(["ggml", "torchao_int8_dyn"]) == list(peer_ggml.GGML_TYPES) + ["torchao_int8_dyn"]
    with pytest.raises(ValueError, match="torchao"):
        peer_impls(["tvm"])
    with pytest.raises(ValueError, match="kind: expected"):
        peer_torchao.torchao_linear("torchao_fp4", torch.randn(4, 256), torch.randn(1, 256), 1)
