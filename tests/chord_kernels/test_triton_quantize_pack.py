"""chord_kernels.triton.quantize_pack (the CUDA ``chord::quantize_pack``): bit-identical to the
pure-torch reference (= the CPU packer): qweight bytes and the bit patterns of scales and zeros.

Runs through the Triton interpreter in CI (conftest.py), compiled on a GPU. The weights stress
the arithmetic: exact .5 quotients (tie rounding), zero rows, constant rows, -0.0, denormals,
positive-only rows (asymmetric zero points outside [0, 2^b - 1]), magnitudes 1e-3..1e3.
"""

from __future__ import annotations

import pytest
import torch

from chord import format as fmt
from chord.backends import reference

triton = pytest.importorskip("triton")
import chord_kernels.triton as ct  # noqa: E402  (after conftest set TRITON_INTERPRET)


def weights(N, K, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(N, K, generator=g) * torch.logspace(-3, 3, N)[torch.randperm(N, generator=g)][:, None]
    w[0] = 0.0
    w[1] = -2.5
    w[2] = torch.randint(-14, 15, (K,), generator=g).float() / 2
    w[2, 0] = 7.0  # 4-bit sym: s = 1, quotients k + .5
    w[3] = torch.where(torch.rand(K, generator=g) < 0.5, torch.tensor(-0.0), torch.tensor(0.0))
    w[3, 0] = 1.0
    w[4] *= 1e-40  # denormals
    w[5] = w[5].abs() + 3.0  # all positive
    return w, g


def assert_bit_identical(got, want):
    qw, sc, ze = (t.cpu() for t in got)
    rqw, rsc, rze = (t.cpu() for t in want)
    assert torch.equal(qw, rqw), f"qweight differs at {torch.nonzero(qw != rqw).flatten()[:8].tolist()}"
    assert torch.equal(sc.view(torch.int32), rsc.view(torch.int32)), "scales differ (bitwise)"
    assert torch.equal(ze.view(torch.int32), rze.view(torch.int32)), "zeros differ (bitwise)"


@pytest.mark.parametrize("scheme", ["sym", "asym"])
@pytest.mark.parametrize("N,K", [(48, 100), (40, 8), (36, 300)])
def test_bit_identical_every_width(triton_device, scheme, N, K):
    """Every width (8/4/2/1 and pruned) in one table, a random permutation, K below one block,
    odd, and over several blocks."""
    w, g = weights(N, K, seed=N + K)
    perm = torch.randperm(N, generator=g).to(torch.int32)
    n = (N - 4) // 4
    buckets = [8, n, 4, n, 2, n, 1, n, 0, N - 4 * n]
    got = ct.quantize_pack(w.to(triton_device), perm.to(triton_device), buckets, scheme)
    assert all(t.device.type == triton_device.type for t in got)
    assert_bit_identical(got, reference.quantize_pack(w, perm, buckets, scheme))


def test_strided_and_low_precision_input(triton_device):
    """A column-strided view and a bf16 weight (widened to float32 exactly) pack like their
    float32 contiguous copies."""
    w, g = weights(30, 130, seed=1)
    perm = torch.randperm(30, generator=g).to(torch.int32)
    buckets = [4, 10, 2, 20]
    view = torch.cat([w, w], 1)[:, ::2]
    assert not view.is_contiguous()
    got = ct.quantize_pack(view.to(triton_device), perm.to(triton_device), buckets, "sym")
    assert_bit_identical(got, reference.quantize_pack(view.contiguous(), perm, buckets, "sym"))
    wb = w.bfloat16()
    got = ct.quantize_pack(wb.to(triton_device), perm.to(triton_device), buckets, "asym")
    assert_bit_identical(got, reference.quantize_pack(wb.float(), perm, buckets, "asym"))


def test_small_config_several_tiles(triton_device):
    """BLOCK_R smaller than every bucket, byte steps smaller than a row: tiles end mid-bucket."""
    w, g = weights(40, 90, seed=2)
    perm = torch.randperm(40, generator=g).to(torch.int32)
    buckets = [8, 11, 2, 17, 1, 12]
    cfg = dict(BLOCK_R=8, BLOCK_K=64, BLOCK_KB=16, num_warps=1)
    for scheme in ("sym", "asym"):
        got = ct.quantize_pack(w.to(triton_device), perm.to(triton_device), buckets, scheme, config=cfg)
        assert_bit_identical(got, reference.quantize_pack(w, perm, buckets, scheme))


def test_bad_inputs_as_the_cpu_packer(triton_device):
    w = torch.randn(6, 16, device=triton_device)
    perm = torch.arange(6, dtype=torch.int32, device=triton_device)
    with pytest.raises(ValueError, match=r"chord::quantize_pack: buckets: rows sum to 5, expected N = 6"):
        ct.quantize_pack(w, perm, [2, 5], "sym")
    with pytest.raises(ValueError, match=r"buckets\[0\]: expected a width in \(8, 4, 2, 1, 0\), got 3"):
        ct.quantize_pack(w, perm, [3, 6], "sym")
    with pytest.raises(ValueError, match="scheme"):
        ct.quantize_pack(w, perm, [2, 6], "nf4")
    with pytest.raises(ValueError, match=r"perm: not a permutation of 0..5 \(row 5 is missing\)"):
        ct.quantize_pack(w, torch.tensor([0, 1, 2, 3, 4, 4], dtype=torch.int32, device=triton_device), [2, 6], "sym")
    with pytest.raises(ValueError, match=r"perm: values must be rows in 0..5, got range \[0, 9\]"):
        ct.quantize_pack(w, torch.tensor([0, 9, 2, 3, 4, 5], dtype=torch.int32, device=triton_device), [2, 6], "sym")
    bad = w.clone()
    bad[4, 7] = float("inf")
    with pytest.raises(ValueError, match=r"weight contains Inf \(at row 4, col 7\)"):
        ct.quantize_pack(bad, perm, [2, 3, 0, 3], "sym")  # also in a pruned row (as the CPU packer)
    with pytest.raises(TypeError, match="weight: expected a float dtype"):
        ct.quantize_pack(w.int(), perm, [2, 6], "sym")


def test_cuda_registration(triton_device):
    """chord::quantize_pack's CUDA kernel is chord.backends.cuda.quantize_pack, this packer."""
    from chord.backends import cuda as cuda_backend

    assert torch._C._dispatch_has_kernel_for_dispatch_key("chord::quantize_pack", "CUDA")
    w, g = weights(20, 64, seed=3)
    perm = torch.randperm(20, generator=g).to(torch.int32)
    got = cuda_backend.quantize_pack(w.to(triton_device), perm.to(triton_device), [8, 5, 2, 15], "sym")
    assert got[0].numel() == fmt.total_bytes([8, 5, 2, 15], 64)
    assert_bit_identical(got, reference.quantize_pack(w, perm, [8, 5, 2, 15], "sym"))
