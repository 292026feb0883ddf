"""Every timed kernel result is checked before it becomes a number.

A suite attaches a check to the :class:`~chord.bench.baselines.Prepared` it times; the runner calls
``check(fn(0))`` before timing and records a failing implementation as an *error* (never as a
time, never as merely unavailable): ``chord bench`` then exits non-zero and the ``--compare`` gate
fails. The checks:

- ``mp_linear``: within a rigorous floating-point error bound of the float64 reference
  (:func:`mp_linear_bound`);
- ``mp_topk``: the top-k ids equal the float64 reference's (the fused scorer's contract: ranking
  by float64 scores, ties to the smaller id), values within the same bound;
- the ggml peer: relative error to the fp32 product within what its quant type allows
  (:data:`GGML_TOL`, the tolerances ``tests/bench/test_baselines.py`` checks ggml against);
- ``chord.pack`` and ``DeviceModel.apply`` (adaptation suite): the packed weight's codes as
  asked and sampled rows dequantizing bit-identically to the reference packer's
  (:func:`packed_rows_check`);
- a quantized model's forward + scores (e2e suite): relative error to the same model computed
  in float64 from its dequantized weights (:func:`model_check`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..backends import reference


class WrongResult(RuntimeError):
    """A timed implementation computed a wrong answer: an error, never a number."""


#: relative Frobenius error of x @ w.T a ggml quant type may have on Gaussian weights
GGML_TOL = {"ggml_q2_k": 0.4, "ggml_q4_k": 0.1, "ggml_q8_0": 0.02}

#: unit roundoff of the arithmetic a kernel may use for each activation dtype: fp32 on CUDA may run
#: as tf32 (10-bit mantissa) in Triton's dot, so it gets fp16's
_UNIT = {
    ("cpu", torch.float32): 2.0**-24,
    ("cuda", torch.float32): 2.0**-11,
    ("cpu", torch.float16): 2.0**-11,
    ("cuda", torch.float16): 2.0**-11,
    ("cpu", torch.bfloat16): 2.0**-8,
    ("cuda", torch.bfloat16): 2.0**-8,
}


def mp_linear_bound(
    x: torch.Tensor, mw, act_bits: int = 0, *, lam: float | None = None, unit_of: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(float64 reference y [M, N], elementwise error bound [M, N]) for ``mp_linear(x, mw, act_bits)``.

    A dot product of length K summed in any order with unit roundoff u errs by at most
    ``K u sum_k |x_k| |w_k|`` (Higham, Accuracy and Stability, eq. 3.5). Kernels may fold the zero
    point out of the sum (``s (sum x q - z sum x)``), so the magnitude is taken over ``|q| + |z|``
    scaled, not ``|q - z|``; the factor 4 covers dequantization, the scale product and the final
    rounding to x's dtype. int8 activations (act_bits=8) are compared with the reference on the same
    int8 activations.

    ``lam`` (a number, e.g. 8): also the probabilistic bound of Higham and Mary ("A New Approach to
    Probabilistic Rounding Error Analysis", SIAM J. Sci. Comput. 41(5), 2019), under their model of
    independent mean-zero rounding errors: a sum of n terms errs by at most about
    ``lam sqrt(n) u sum|t|``, in any summation order, except with probability at most about
    ``2 n exp(-lam^2 / 2)`` (1e-10 for lam = 8, n = 10^4). The kernels' two sums (``x q`` and the
    zero point's ``x``) fall under it; the few per-term and final roundings (dequantization, scale,
    product, the subtraction) are kept worst-case (``4 u`` of the magnitude). The bound returned is
    then the smaller of the two: the worst case grows as K, so at large K it lets a result that
    dropped a term pass, while this one grows as sqrt(K) (tests/bench/test_checks_bound.py).
    Tests use it; the bench's checks keep the rigorous one. ``unit_of``: the device type whose
    arithmetic computed the result (default x's), for a CUDA result checked on the CPU."""
    cdt = torch.float64
    packed = mw.packed
    y = reference.mp_linear(x, packed, None, act_bits, compute_dtype=cdt)
    u = _UNIT.get((unit_of or x.device.type, x.dtype), 2.0**-8)
    K = mw.shape[1]
    xa = x.to(cdt).abs()
    if act_bits == 8:
        xq, sx = reference.quantize_activations_int8(x)
        xa = (xq.to(cdt) * sx.to(cdt)[:, None]).abs()
    w = reference.dequantize_packed(packed, dtype=cdt).abs_()
    zs = torch.zeros(mw.shape[0], dtype=cdt, device=w.device)
    zs[mw.perm.long()] = (mw.zeros.to(cdt) * mw.scales.to(cdt)).abs()
    mag = xa @ w.T + xa.sum(1, keepdim=True) * zs[None, :]
    del w
    factor = 4 * (K + 2) * u
    if lam is not None:
        n = K + 2
        gamma = math.expm1(lam * math.sqrt(n) * u + n * u * u / (1 - u))  # their gamma~_n(lam)
        factor = min(factor, gamma + 4 * u)
    bound = factor * mag + u * y.abs() + 1e-30
    return y, bound


def mp_linear_check(x: torch.Tensor, mw, act_bits: int = 0) -> Callable[[torch.Tensor], None]:
    """check(y): ``y`` = the timed ``mp_linear(x, mw, act_bits)`` is within :func:`mp_linear_bound`."""
    ref, bound = mp_linear_bound(x, mw, act_bits)

    def check(y) -> None:
        y = torch.as_tensor(y)
        if tuple(y.shape) != tuple(ref.shape):
            raise WrongResult(f"mp_linear: expected output shape {tuple(ref.shape)}, got {tuple(y.shape)}")
        err = (y.to(torch.float64) - ref).abs()
        bad = ~(err <= bound)  # NaN fails too
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0, 0])
            j = int(torch.nonzero(bad)[0, 1])
            raise WrongResult(
                f"mp_linear (act_bits={act_bits}): {int(bad.sum())} of {bad.numel()} outputs outside "
                f"the float64 reference's error bound; first at [{i}, {j}]: got {float(y[i, j]):.7g}, "
                f"reference {float(ref[i, j]):.7g}, |error| {float(err[i, j]):.3g} > bound "
                f"{float(bound[i, j]):.3g}"
            )

    return check


def mp_topk_check(x: torch.Tensor, mw, k: int, candidates=None, act_bits: int = 0) -> Callable[[tuple], None]:
    """check((values, ids)): ids equal the float64 reference top-k's, values within the mp_linear bound."""
    rv, ri = reference.mp_topk(x, mw.packed, k, candidates, act_bits, compute_dtype=torch.float64)
    _, bound = mp_linear_bound(x, mw, act_bits)
    bound_k = bound.gather(1, ri.to(bound.device))

    def check(out) -> None:
        vals, ids = out
        if tuple(ids.shape) != tuple(ri.shape):
            raise WrongResult(f"mp_topk: expected ids of shape {tuple(ri.shape)}, got {tuple(ids.shape)}")
        if not torch.equal(ids.to(ri.device, torch.int64), ri):
            row = int(torch.nonzero((ids.to(ri.device, torch.int64) != ri).any(1))[0, 0])
            raise WrongResult(
                f"mp_topk: top-{k} ids differ from the float64 reference's (first in row {row}: "
                f"got {ids[row].tolist()}, reference {ri[row].tolist()})"
            )
        err = (vals.to(torch.float64) - rv).abs()
        if not bool((err <= bound_k).all()):
            raise WrongResult(f"mp_topk: top-{k} values off the float64 reference by up to {float(err.max()):.3g}")

    return check


def rel_error_check(
    ref: torch.Tensor, tol: float, what: str, against: str = "the fp32 product"
) -> Callable[[torch.Tensor], None]:
    """check(y): ``||y - ref|| / ||ref|| <= tol`` (Frobenius; NaN fails); ``against`` names ``ref``
    in the error."""
    ref = ref.to(torch.float64)
    norm = float(ref.norm())

    def check(y) -> None:
        y = torch.as_tensor(y).to(torch.float64)
        if tuple(y.shape) != tuple(ref.shape):
            raise WrongResult(f"{what}: expected output shape {tuple(ref.shape)}, got {tuple(y.shape)}")
        rel = float((y - ref).norm()) / max(norm, 1e-30)
        if not rel <= tol:
            raise WrongResult(f"{what}: relative error to {against} {rel:.3g} > {tol:g}")

    return check


def packed_rows_check(mw, weight: torch.Tensor, codes: torch.Tensor, what: str, rows: int = 64) -> None:
    """Raise WrongResult unless ``mw`` packs ``weight`` [N, ...] with per-row ``codes``: the codes
    as asked and ``rows`` sampled rows (first, last, spread) dequantizing bit-identically to the
    reference packer's (``reference.quantize_rows``, row by row: rows are independent)."""
    w = weight.reshape(weight.shape[0], -1).to(torch.float32)
    N = w.shape[0]
    codes = codes.to(torch.uint8).cpu()
    if tuple(mw.shape) != tuple(w.shape) or not torch.equal(mw.codes.cpu(), codes):
        raise WrongResult(f"{what}: packed shape {tuple(mw.shape)} / codes differ from the request {tuple(w.shape)}")
    got = reference.dequantize_packed(mw.packed)
    sample = sorted({0, N - 1, *range(0, N, max(1, N // rows))})
    for r in sample:
        bits = mw.codebook.bits[int(codes[r])]
        want = reference.dequantize_rows(*reference.quantize_rows(w[r : r + 1], bits, mw.codebook.scheme))
        if not torch.equal(got[r : r + 1].cpu(), want.cpu()):
            raise WrongResult(f"{what}: row {r} ({bits}-bit) does not dequantize to the reference packer's")


def pack_check(weight: torch.Tensor, codes: torch.Tensor) -> Callable[[object], None]:
    """check(mw): the timed ``chord.pack(weight, codes)`` (see :func:`packed_rows_check`)."""
    return lambda mw: packed_rows_check(mw, weight, codes, "chord.pack")


def model_check(ref: torch.Tensor, tol: float, what: str) -> Callable[[torch.Tensor], None]:
    """check(y): relative (Frobenius) error of a model output to its float64 ``ref`` <= tol."""
    return rel_error_check(ref, tol, what, "the float64 dequantized model")
