"""chord_kernels.triton.mp_topk_packed (the CUDA ``chord::mp_topk``) against the float64 oracle.

CI runs these through the Triton interpreter on CPU tensors (conftest.py); on a GPU
(CHORD_TRITON_TEST_DEVICE=cuda) they run compiled. The ids must equal the float64 top-k exactly
(ties: smaller id first), including adversarial near-ties float32 cannot separate. Shapes are
small (the interpreter runs ~ms per program); ``sample_rows``/``cap`` are forced small so the
threshold, the overflow rescans and the exact fallback all run on them.
"""

from __future__ import annotations

import pytest
import torch

from chord import Codebook, pack
from chord.backends import reference

triton = pytest.importorskip("triton")
import chord_kernels.triton as ct  # noqa: E402  (after conftest set TRITON_INTERPRET)
from chord_kernels.triton import topk as ttopk  # noqa: E402
from tests.helpers import near_tie_table  # noqa: E402


def oracle(x, mw, k, cand=None, act_bits=0):
    cand = None if cand is None else cand.cpu()
    return reference.mp_topk(x.cpu(), mw.to("cpu").packed, k, cand, act_bits, compute_dtype=torch.float64)


def run(x, mw, k, cand=None, act_bits=0, **kw):
    return ct.mp_topk_packed(x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, k, cand, act_bits, **kw)


def check(x, mw, k, cand=None, act_bits=0, **kw):
    v, i = run(x, mw, k, cand, act_bits, **kw)
    rv, ri = oracle(x, mw, k, cand, act_bits)
    assert v.dtype == torch.float32 and i.dtype == torch.int64 and v.shape == i.shape == (x.shape[0], k)
    assert torch.equal(i.cpu(), ri), (
        f"ids differ from the float64 top-k in rows {(i.cpu() != ri).any(1).nonzero().flatten().tolist()}"
    )
    assert torch.allclose(v.cpu().double(), rv, rtol=1e-6, atol=1e-6 * float(rv.abs().max() + 1)), "values"
    return v, i


def table(N, K, seed, codebook=None):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (N,), generator=g, dtype=torch.uint8)
    return pack(torch.randn(N, K, generator=g), codes, codebook or Codebook.default()), g


@pytest.mark.parametrize("M,act_bits", [(1, 0), (18, 8)])
def test_random_table_threshold_path(triton_device, M, act_bits):
    """M = 1 (CUDA-core scan) and M = 18 (tl.dot scan, two user blocks; int8 activations); a
    64-row sample sets the threshold, so most rows are dropped inside the kernel."""
    mw, g = table(260, 64, seed=M + act_bits)
    mw = mw.to(triton_device)
    x = torch.randn(M, 64, generator=g).to(triton_device)
    check(x, mw, 9, act_bits=act_bits, sample_rows=64)


def test_one_bit_asym_odd_k(triton_device):
    """1-bit rows, asymmetric zero points, K = 100 (several K steps, padding), small table
    (every row a candidate: no sample)."""
    mw, g = table(150, 100, seed=3, codebook=Codebook((0, 1, 4, 8), "asym"))
    x = (torch.randn(3, 100, generator=g) * 7).to(triton_device)
    check(x, mw.to(triton_device), 12)


@pytest.mark.parametrize("bits", [2, 8])
def test_adversarial_near_ties(triton_device, bits):
    """Scores closer than float32 can tell, and exact duplicates: the merge's float64 rescoring
    must order them exactly as the oracle (boundaries cut through the tied groups)."""
    x, mw = near_tie_table(bits, groups=3, seed=bits)
    x, mw = x[None].to(triton_device), mw.to(triton_device)
    group = 2 * min({2: 1, 4: 7, 8: 127}[bits], 3) + 2
    for k in (group // 2, group + 3):
        v, _ = check(x, mw, k, sample_rows=32)
    assert bool((v[0, 1:] == v[0, :-1]).any()), "the test means something: float32 ties in the values"
    check(x, mw, group + 3, act_bits=8, sample_rows=32)


def test_overflow_rescans_and_exact_fallback(triton_device):
    """An 8-slot buffer overflows: the threshold is raised and the users rescanned; constant
    scores (zero activations) defeat every threshold: the exact chunked path, warned once."""
    mw, g = table(200, 64, seed=5)
    mw = mw.to(triton_device)
    x = torch.randn(2, 64, generator=g).to(triton_device)
    check(x, mw, 6, sample_rows=24, cap=8)
    ttopk._warned_exact = False
    with pytest.warns(RuntimeWarning, match="near-constant scores"):
        v, i = run(torch.zeros(2, 64, device=triton_device), mw, 6, sample_rows=24, cap=2)
    assert torch.equal(i.cpu(), torch.arange(6).expand(2, 6)) and not bool(v.any())


def test_pruned_items(triton_device):
    """Pruned items score exactly 0 and are never scanned: they enter when the rest scores
    below 0 (smallest ids first), and an all-pruned table gives ids 0..k-1."""
    g = torch.Generator().manual_seed(0)
    N, K = 200, 64
    x = (torch.rand(1, K, generator=g) + 0.1).to(triton_device)
    codes = torch.randint(1, 4, (N,), generator=g, dtype=torch.uint8)
    codes[torch.randperm(N, generator=g)[:15]] = 0
    mw = pack(-torch.rand(N, K, generator=g) - 0.1, codes).to(triton_device)
    v, i = check(x, mw, 20, sample_rows=32)
    assert torch.equal(i[0, :15].cpu(), torch.nonzero(codes == 0).flatten()) and not bool(v[0, :15].any())
    allp = pack(torch.randn(30, K), torch.zeros(30, dtype=torch.uint8)).to(triton_device)
    v, i = run(torch.randn(2, K, device=triton_device), allp, 4)
    assert torch.equal(i.cpu(), torch.arange(4).expand(2, 4)) and not bool(v.any())


def test_candidate_lists(triton_device):
    """Shared [C] and per-row [M, C] candidate lists, duplicates included (kept as separate
    entries, as the oracle does)."""
    mw, g = table(250, 64, seed=7)
    mw = mw.to(triton_device)
    x = torch.randn(3, 64, generator=g).to(triton_device)
    shared = torch.randint(0, 250, (40,), generator=g)
    shared[5] = shared[6]
    check(x, mw, 10, shared.to(triton_device))
    check(x, mw, 10, torch.randint(0, 250, (3, 40), generator=g).to(triton_device), act_bits=8)


def test_bad_inputs_name_the_argument(triton_device):
    mw, _ = table(40, 64, seed=9)
    mw = mw.to(triton_device)
    x = torch.randn(2, 64, device=triton_device)
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 40 \(item rows\), got 41"):
        run(x, mw, 41)
    with pytest.raises(ValueError, match=r"k: expected 1 <= k <= 5 \(candidates per row\)"):
        run(x, mw, 6, torch.arange(5, device=triton_device))
    with pytest.raises(ValueError, match=r"x: expected shape \[M, 64\]"):
        run(torch.randn(2, 63, device=triton_device), mw, 3)
    bad = x.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x: contains NaN or Inf \(row 1\)"):
        run(bad, mw, 3)
    with pytest.raises(ValueError, match=r"candidates: item id 40 \(flat position 2\) is out of range"):
        run(x, mw, 2, torch.tensor([0, 1, 40, 3], device=triton_device))
    with pytest.raises(ValueError, match="act_bits"):
        run(x, mw, 3, None, 4)
    with pytest.raises(TypeError, match="perm: expected dtype int32, got torch.int64"):
        ct.mp_topk_packed(x, mw.qweight, mw.scales, mw.zeros, mw.perm.long(), mw.buckets, 64, 3)
    bad_perm = mw.perm.clone()
    bad_perm[:] = 40
    with pytest.raises(ValueError, match=r"perm: values must be rows in 0..39, got range \[40, 40\]"):
        ct.mp_topk_packed(x, mw.qweight, mw.scales, mw.zeros, bad_perm, mw.buckets, 64, 3)
    with pytest.raises(ValueError, match=r"perm: values must be rows in 0..39"):
        ct.mp_topk_packed(
            x, mw.qweight, mw.scales, mw.zeros, bad_perm, mw.buckets, 64, 3, torch.arange(5, device=triton_device)
        )
    twice = mw.perm.clone()
    twice[1] = twice[0]  # a duplicate id: one item would never be ranked
    with pytest.raises(ValueError, match=r"perm: not a permutation of 0..39"):
        ct.mp_topk_packed(x, mw.qweight, mw.scales, mw.zeros, twice, mw.buckets, 64, 3)
    v, i = run(torch.empty(0, 64, device=triton_device), mw, 3)
    assert v.shape == i.shape == (0, 3)


def test_cuda_registration_and_opcheck(triton_device):
    """chord::mp_topk's CUDA kernel is chord.backends.cuda.mp_topk, these kernels; opcheck on a
    copy of the schema in a test namespace (the interpreter runs on CPU tensors)."""
    from chord import ops
    from chord.backends import cuda as cuda_backend

    assert torch._C._dispatch_has_kernel_for_dispatch_key("chord::mp_topk", "CUDA")
    mw, g = table(60, 64, seed=11)
    mw = mw.to(triton_device)
    x = torch.randn(2, 64, generator=g).to(triton_device)
    v, i = cuda_backend.mp_topk(x, mw.packed, 5)
    assert torch.equal(i.cpu(), oracle(x, mw, 5)[1])
    lib = torch.library.Library("chord_triton_topk_test", "DEF")  # noqa: TOR901
    schema = str(torch.ops.chord.mp_topk.default._schema).split("(", 1)[1]
    lib.define("mp_topk(" + schema)
    kernel = ops.as_kernel("mp_topk", cuda_backend.mp_topk)
    lib.impl("mp_topk", kernel, "CPU")
    lib.impl("mp_topk", kernel, "CUDA")
    torch.library.register_fake("chord_triton_topk_test::mp_topk", ops.fake_impl("mp_topk"), lib=lib)
    torch.library.opcheck(
        torch.ops.chord_triton_topk_test.mp_topk.default,
        (x, mw.qweight, mw.scales, mw.zeros, mw.perm, mw.buckets, mw.K, 5, None, 0),
        test_utils=("test_schema", "test_faketensor"),
    )
