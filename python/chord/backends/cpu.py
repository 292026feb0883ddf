"""CPU kernels for ``chord::`` ops: the C++ extension ``chord_kernels._cpu`` when it is built,
else the pure-torch reference (with a warning, once)."""
from __future__ import annotations

import warnings

import torch

from . import reference

try:
    from chord_kernels import _cpu  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only on broken installs
    _cpu = None
    _IMPORT_ERROR = e

HAVE_CPP = _cpu is not None


def _nthreads() -> int:
    # the extension links its own OpenMP runtime: pass torch's thread count explicitly
    return max(1, torch.get_num_threads())


def quantize_pack(weight, perm, buckets, scheme):
    """C++ ``chord::quantize_pack`` (AVX2 when the CPU has it), bit-identical to the reference.
    weight float [N, K] (widened to float32), perm int [N] -> (qweight uint8 [bytes], scales,
    zeros float32 [N]). Validation (bucket table, perm, NaN/Inf) happens in C++."""
    if weight.dim() != 2:
        raise ValueError(f"chord::quantize_pack: weight: expected 2-D [N, K], got shape {list(weight.shape)}")
    if not weight.dtype.is_floating_point:
        raise TypeError(f"chord::quantize_pack: weight: expected a float dtype, got {weight.dtype}")
    N, K = weight.shape
    w = weight.detach().to(torch.float32).contiguous()
    p = perm.detach().to(torch.int32).contiguous()
    buckets = [int(b) for b in buckets]
    qw = torch.empty(_cpu.packed_bytes(buckets, N, K), dtype=torch.uint8)
    sc = torch.empty(N, dtype=torch.float32)
    ze = torch.empty(N, dtype=torch.float32)
    _cpu.quantize_pack(w.numpy(), p.numpy(), buckets, str(scheme), qw.numpy(), sc.numpy(), ze.numpy(), _nthreads())
    return qw, sc, ze


def _register():
    if not HAVE_CPP:
        warnings.warn(f"chord: C++ extension unavailable ({_IMPORT_ERROR}); "
                      "CPU ops use the slow pure-torch reference", RuntimeWarning, stacklevel=2)
    torch.library.register_kernel("chord::quantize_pack", "cpu", quantize_pack if HAVE_CPP else reference.quantize_pack)
    torch.library.register_kernel("chord::mp_linear", "cpu", reference.mp_linear)


_register()
