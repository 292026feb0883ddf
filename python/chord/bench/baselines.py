"""Reference implementations timed beside chord in the same run: torch fp32 ``F.linear``,
torch dynamic int8 (``quantize_dynamic``), ATen's weight-only int8 and int4 CPU kernels, and
(optional, ``chord bench --peer ggml``) llama.cpp's ggml mat-vec at Q2_K / Q4_K / Q8_0.

Each factory takes the fp32 weight [N, K], the activation x [M, K] and a rotation count, and
returns a :class:`Prepared`: ``fn(i)`` runs one forward on weight set ``i % n_sets``, and
``bytes_read`` is what one call must stream from memory (the weight in its stored form).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import torch
import torch.nn.functional as F


class Unavailable(RuntimeError):
    """This implementation cannot run here (missing op, device, or optional dependency)."""


@dataclass
class Prepared:
    fn: Callable[[int], object]
    bytes_read: int
    n_sets: int
    note: str = ""
    keepalive: list = field(default_factory=list)  # owners of raw buffers fn touches (ggml)
    #: check(fn(0)) raises ``chord.bench.checks.WrongResult`` when the timed call computes a wrong
    #: answer; the runner calls it before timing (``None``: the result is not checked)
    check: Callable[[object], None] | None = None
    check_what: str = ""  # what the check compares with (for the record)


def import_peer(module: str, package: str, extra: str) -> ModuleType:
    """Import an optional peer's module (``chord bench --peer``), or raise :class:`Unavailable`
    naming the extra that installs ``package``. Any failure counts, not only ImportError: a peer
    that builds native code can be installed yet broken."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - ImportError or a broken native build
        raise Unavailable(
            f"{package} not importable ({type(e).__name__}: {e}); install the extra: pip install -e '.[{extra}]'"
        ) from e


def importable(load: Callable[[], object]) -> bool:
    """Whether ``load`` (a peer's :func:`import_peer` call) succeeds."""
    try:
        load()
        return True
    except Unavailable:
        return False


def _rot(items):
    n = len(items)
    return lambda i: items[i % n]


def torch_fp32(w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    ws = [w.clone() for _ in range(n_sets)]
    get = _rot(ws)
    return Prepared(lambda i: F.linear(x, get(i)), w.numel() * 4, n_sets, "F.linear fp32")


def torch_fp16(w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    """GPU only (CPU fp16 GEMM is not a real baseline)."""
    if w.device.type != "cuda":
        raise Unavailable("fp16 F.linear is benchmarked on cuda only")
    ws = [w.half() for _ in range(n_sets)]
    xh = x.half()
    get = _rot(ws)
    return Prepared(lambda i: F.linear(xh, get(i)), w.numel() * 2, n_sets, "F.linear fp16")


def torch_dynamic_int8(w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    """``torch.ao.quantization.quantize_dynamic`` of an nn.Linear (fbgemm/onednn int8 GEMM,
    per-tensor weight scale, activations quantized per call)."""
    if w.device.type != "cpu":
        raise Unavailable("quantize_dynamic runs on cpu only")
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as e:  # pragma: no cover - removed in a future torch
        raise Unavailable(f"torch.ao.quantization.quantize_dynamic missing ({e})") from e
    N, K = w.shape
    lin = torch.nn.Linear(K, N, bias=False)
    with torch.no_grad():
        lin.weight.copy_(w)
    mods = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao deprecation notices
        for _ in range(n_sets):
            mods.append(quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8))
    del lin
    get = _rot(mods)
    return Prepared(
        lambda i: get(i)(x), N * K + 8, n_sets, f"quantize_dynamic qint8 ({torch.backends.quantized.engine})"
    )


def aten_int8pack_mm(w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    """``aten._weight_int8pack_mm``: per-channel int8 weight, fp32 activations."""
    op = getattr(torch.ops.aten, "_weight_int8pack_mm", None)
    if op is None:
        raise Unavailable("torch.ops.aten._weight_int8pack_mm missing in this torch")
    N, K = w.shape
    s = w.abs().amax(1).clamp_min(1e-12) / 127
    q = torch.clamp(torch.round(w / s[:, None]), -127, 127).to(torch.int8)
    qs = [q.clone() for _ in range(n_sets)]
    get = _rot(qs)
    try:
        op(x, qs[0], s)
    except RuntimeError as e:
        raise Unavailable(f"_weight_int8pack_mm failed here: {str(e).splitlines()[0]}") from e
    return Prepared(lambda i: op(x, get(i), s), N * K + 4 * N, n_sets, "int8 per-channel, fp32 act")


INT4_GROUP = 128  # torchao's default int4 weight-only group size (per-channel is not allowed)


def aten_int4pack_mm(w: torch.Tensor, x: torch.Tensor, n_sets: int) -> Prepared:
    """``aten._weight_int4pack_mm_for_cpu`` (bf16 activations, asymmetric int4, group 128),
    packed by ``aten._convert_weight_to_int4pack_for_cpu``."""
    if w.device.type != "cpu":
        raise Unavailable("_weight_int4pack_mm_for_cpu runs on cpu only")
    mm = getattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu", None)
    conv = getattr(torch.ops.aten, "_convert_weight_to_int4pack_for_cpu", None)
    if mm is None or conv is None:
        raise Unavailable("aten int4pack CPU ops missing in this torch")
    N, K = w.shape
    if K % INT4_GROUP:
        raise Unavailable(f"int4pack needs K % {INT4_GROUP} == 0, got K={K}")
    g = w.reshape(N, K // INT4_GROUP, INT4_GROUP)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15).clamp_min(1e-8)
    q = torch.clamp(torch.round((g - lo[..., None]) / scale[..., None]), 0, 15).to(torch.int32).reshape(N, K)
    # the kernel computes w = (q - 8) * scale + zero, so zero = lo + 8 * scale
    sz = torch.stack([scale, lo + 8 * scale], -1).transpose(0, 1).contiguous().to(torch.bfloat16)  # [K/g, N, 2]
    packed = conv(q, 1)
    ps = [packed.clone() for _ in range(n_sets)]
    xb = x.to(torch.bfloat16)
    get = _rot(ps)
    return Prepared(
        lambda i: mm(xb, get(i), INT4_GROUP, sz),
        N * K // 2 + sz.numel() * 2,
        n_sets,
        f"int4 asym group {INT4_GROUP}, bf16 act",
    )


#: name -> factory, in report order
BASELINES: dict[str, Callable[[torch.Tensor, torch.Tensor, int], Prepared]] = {
    "torch_fp32": torch_fp32,
    "torch_fp16": torch_fp16,
    "torch_dynamic_int8": torch_dynamic_int8,
    "aten_int8pack_mm": aten_int8pack_mm,
    "aten_int4pack_mm": aten_int4pack_mm,
}
