"""Drop-in mixed-precision modules: ``MixedPrecisionLinear``, ``MixedPrecisionConv2d`` and
``QuantizedEmbedding``.

Each holds one :class:`~chord.MixedWeight` as buffers (so ``.to()``, ``state_dict`` and
``torch.compile`` see plain tensors) and computes through ``chord.mp_linear``. Optionally it keeps a
*reference* to the frozen float weight it was packed from (never a copy): the device re-packs
from it when a new strategy arrives, and :func:`chord.dequantize_` restores it exactly.

Shapes reported through ``chord_layer_kind`` / ``chord_weight_shape`` equal the float
module's, so :func:`chord.quantizable_layers` and the model fingerprint do not change by swapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import format as fmt
from ..backends import cpu as cpu_backend
from ..codebook import Codebook
from ..functional import linear_packed, mp_topk, pack
from ..mixed_weight import MixedWeight, check_codes, plan_buckets


class _LookupCache:
    """numpy views of a QuantizedEmbedding's lookup buffers and the tensors they view. Copies and
    pickles come back empty (views of the owner's tensors are never state worth saving)."""

    __slots__ = ("tensors", "arrays")

    def __init__(self):
        self.tensors, self.arrays = (), None

    def __reduce__(self):
        return _LookupCache, ()


_MW_BUFFERS = ("qweight", "scales", "zeros", "perm", "codes")


class _MixedWeightHolder(nn.Module):
    """Common part: the packed weight as buffers + the optional frozen float weight."""

    chord_layer_kind: str = ""

    @classmethod
    def from_float(
        cls,
        mod: nn.Module,
        codes: torch.Tensor,
        codebook: Codebook | None = None,
        *,
        keep_float: bool = False,
        act_bits: int = 0,
    ) -> Self:
        """The swapped form of the float module ``mod``: its weight packed channel by channel from
        ``codes`` (``chord.pack``); ``keep_float`` keeps a reference to the float weight (for
        re-packing and ``chord.dequantize_``)."""
        cls._check_float(mod)
        mw = pack(mod.weight.detach().reshape(mod.weight.shape[0], -1), codes, codebook)
        float_weight = mod.weight if keep_float else None
        return cls(mw, **cls._float_kwargs(mod), float_weight=float_weight, act_bits=act_bits)

    @classmethod
    def _check_float(cls, mod: nn.Module) -> None:
        """Raise when ``mod`` has a setting the swapped module cannot reproduce."""

    @classmethod
    def _float_kwargs(cls, mod: nn.Module) -> dict:
        """What the constructor takes from ``mod`` besides its packed weight."""
        raise NotImplementedError

    def _init_holder(self, mw: MixedWeight, weight_shape, float_weight: torch.Tensor | None, act_bits: int) -> None:
        self.act_bits = int(act_bits)
        self.chord_weight_shape = tuple(int(s) for s in weight_shape)
        self.qweight_k = _prod(self.chord_weight_shape[1:])
        for name in _MW_BUFFERS:
            self.register_buffer(name, getattr(mw, name))
        self.buckets = list(mw.buckets)
        self.codebook = mw.codebook
        # non-persistent: a checkpoint of a swapped model holds only the packed weight
        self.register_buffer("float_weight", None if float_weight is None else float_weight.detach(), persistent=False)
        self.register_buffer("tiny_weight", None, persistent=False)
        self._refresh_tiny()

    def _tiny_of(self, mw: MixedWeight) -> torch.Tensor | None:
        """Weights so small that their dequantized fp32 form is no larger than the packed one
        (K below one 16-byte block, e.g. Caser's vertical filter: 4 x 5) also keep that form:
        row padding makes the packed kernel do 3x+ the work there, and a [N, K] fp32 matmul is
        exactly F.linear with the dequantized weight."""
        N, K = self.chord_weight_shape[0], self.qweight_k
        return mw.dequantize(torch.float32) if N * K * 4 <= mw.nbytes else None

    def _refresh_tiny(self) -> None:
        self.tiny_weight = self._tiny_of(self.mw)

    def check_state(self, state_dict: Mapping[str, torch.Tensor], prefix: str) -> str | None:
        """Why the packed weight under ``prefix`` in ``state_dict`` cannot be loaded into this
        module (None when it can, or when its entries are absent: ``load_state_dict`` reports
        missing keys itself). It must be a valid packing of this weight shape with this
        module's bucket table (the table is not in the state dict: a packing of another bit mix,
        even of the same byte size, would be read with the wrong layout)."""
        keys = [prefix + n for n in _MW_BUFFERS]
        if not all(k in state_dict for k in keys):
            return None
        t = {n: state_dict[prefix + n] for n in _MW_BUFFERS}
        if not all(isinstance(v, torch.Tensor) for v in t.values()):
            return f"{prefix}: packed entries must be tensors"
        N, K = self.chord_weight_shape[0], self.qweight_k
        try:
            codes = check_codes(t["codes"], N, self.codebook, name=prefix + "codes")
            _, buckets = plan_buckets(codes, self.codebook)
            if buckets != list(self.buckets):
                return (
                    f"{prefix}: packs another bit mix (buckets {buckets}) than this module ({self.buckets}); "
                    "quantize this model with the same strategy before loading, or use set_packed"
                )
            MixedWeight(
                t["qweight"].cpu(),
                t["scales"].cpu(),
                t["zeros"].cpu(),
                t["perm"].cpu(),
                codes,
                buckets,
                (N, K),
                self.codebook,
            ).validate()
        except (ValueError, TypeError) as e:
            return f"{prefix}: not a valid packed weight for this module ({e})"
        return None

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        why = self.check_state(state_dict, prefix)
        if why is not None:  # nothing of this module is loaded
            error_msgs.append(why)
            return
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        self._after_load()

    def _after_load(self) -> None:
        self._refresh_tiny()

    @property
    def mw(self) -> MixedWeight:
        """The packed weight [N, K] (a view over this module's buffers, no copy)."""
        return MixedWeight(
            self.qweight,
            self.scales,
            self.zeros,
            self.perm,
            self.codes,
            self.buckets,
            (self.chord_weight_shape[0], _prod(self.chord_weight_shape[1:])),
            self.codebook,
        )

    @torch.no_grad()
    def set_packed(self, mw: MixedWeight) -> None:
        """Swap in another packing of the same weight shape (validated first; the old buffers are
        released). Concurrent forwards of the model see the old or the new weight only when the
        swap runs under the model's lock (``chord.quantize.concurrency``), as ``quantize_`` and
        ``DeviceModel.apply`` do."""
        N, K = self.chord_weight_shape[0], _prod(self.chord_weight_shape[1:])
        if not isinstance(mw, MixedWeight):
            raise TypeError(f"mw: expected chord.MixedWeight, got {type(mw).__name__}")
        if tuple(mw.shape) != (N, K):
            raise ValueError(f"mw: expected shape ({N}, {K}), got {tuple(mw.shape)}")
        mw.validate()
        self.install(self.staged(mw))

    def staged(self, mw: MixedWeight) -> dict:
        """Everything :meth:`install` assigns, built (moved to this module's device, derived
        tables computed) before anything of the module changes."""
        dev = self.qweight.device
        mw = mw.to(dev)
        return {"mw": mw, "tiny": self._tiny_of(mw)}

    def install(self, staged: dict) -> None:
        """Assign a :meth:`staged` packing (attribute stores only: nothing here can fail)."""
        mw = staged["mw"]
        for name in _MW_BUFFERS:
            setattr(self, name, getattr(mw, name))
        self.buckets = list(mw.buckets)
        self.codebook = mw.codebook
        self.tiny_weight = staged["tiny"]

    def packed_from_float(self, codes: torch.Tensor, codebook: Codebook | None = None) -> MixedWeight:
        """A packing of the kept frozen float weight from new per-channel codes (C++ ``pack``);
        the module is not changed."""
        if self.float_weight is None:
            raise RuntimeError(
                f"{type(self).__name__}.repack: no frozen float weight kept "
                "(swap with keep_float=True, or use chord.DeviceModel)"
            )
        w = self.float_weight.reshape(self.float_weight.shape[0], -1)
        return pack(w, codes, codebook or self.codebook)

    @torch.no_grad()
    def repack(self, codes: torch.Tensor, codebook: Codebook | None = None) -> None:
        """Re-quantize the kept frozen float weight from new per-channel codes (C++ ``pack``)."""
        self.install(self.staged(self.packed_from_float(codes, codebook)))

    def dequantized_weight(self, dtype=torch.float32) -> torch.Tensor:
        """The float weight (in the float module's shape) that this module computes with."""
        return self.mw.dequantize(dtype).reshape(self.chord_weight_shape)

    def restored_weight(self) -> torch.Tensor:
        """The kept frozen float weight if any, else the dequantized weight."""
        if self.float_weight is not None:
            return self.float_weight
        return self.dequantized_weight(torch.float32)

    def extra_repr(self) -> str:
        mix = ", ".join(
            f"{b}b:{n}" for b, _, n, _ in fmt.bucket_spans(self.buckets, _prod(self.chord_weight_shape[1:]))
        )
        return f"shape={self.chord_weight_shape}, buckets=[{mix}], scheme={self.codebook.scheme}"


def _linear(mod: _MixedWeightHolder, x: torch.Tensor, bias) -> torch.Tensor:
    """``chord.mp_linear`` on the module's buffers (``functional.linear_packed``: the same
    checks and the same eager bypass, the handle cached on the module)."""
    d = mod.__dict__
    bufs = d["_buffers"]  # (dict reads: Module.__getattr__ per buffer costs more, reports/2026-12-07-call-costs.md)
    K, N = d["qweight_k"], d["chord_weight_shape"][0]
    tiny = bufs["tiny_weight"]
    act_bits = d["act_bits"]
    cache = d.get("_cpu_handle")
    if cache is not None and (tiny is None or act_bits != 0):  # the common call, once the handle is built
        y = cpu_backend.linear_cached(cache, bufs, d["buckets"], x, bias, act_bits, N, K)
        if y is not None:
            return y
    if tiny is not None and act_bits == 0:
        w = tiny if x.dtype == torch.float32 else tiny.to(x.dtype)
        return F.linear(x, w, None if bias is None else bias.to(x.dtype))
    packed = (bufs["qweight"], bufs["scales"], bufs["zeros"], bufs["perm"], mod.buckets, K)  # (chord.ops.Packed order)
    return linear_packed(d, x, packed, N, bias, act_bits)


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= int(x)
    return p


def _frozen_bias(bias: torch.Tensor | None) -> nn.Parameter | None:
    return bias if bias is None or isinstance(bias, nn.Parameter) else nn.Parameter(bias, requires_grad=False)


class MixedPrecisionLinear(_MixedWeightHolder):
    """``nn.Linear`` with a per-output-row mixed-precision weight: y = x @ W_hat.T + b.

    x: float32/float16/bfloat16 [..., in_features] -> [..., out_features] in x.dtype.
    ``act_bits=8`` quantizes activations per row to int8 on the fly (see ``chord.mp_linear``).
    """

    chord_layer_kind = "linear"

    def __init__(
        self,
        mw: MixedWeight,
        bias: torch.Tensor | None = None,
        *,
        float_weight: torch.Tensor | None = None,
        act_bits: int = 0,
    ):
        super().__init__()
        self.in_features, self.out_features = mw.K, mw.N
        self._init_holder(mw, (mw.N, mw.K), float_weight, act_bits)
        self.bias = _frozen_bias(bias)

    @classmethod
    def _float_kwargs(cls, mod: nn.Linear) -> dict:
        return dict(bias=mod.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (a dict read, not Module.__getattr__: reports/2026-12-07-call-costs.md)
        return _linear(self, x, self._parameters.get("bias"))

    def to_float(self) -> nn.Linear:
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None, device=self.qweight.device)
        with torch.no_grad():
            lin.weight = nn.Parameter(self.restored_weight().detach(), requires_grad=lin.weight.requires_grad)
            if self.bias is not None:
                lin.bias = self.bias
        return lin


class MixedPrecisionConv2d(_MixedWeightHolder):
    """``nn.Conv2d`` (groups=1) with a per-output-filter mixed-precision weight.

    Computed as im2col (``F.unfold``) + ``mp_linear`` over the [out, in*kh*kw] weight, which
    equals ``F.conv2d`` with the dequantized weight. Input [B, C, H, W] or [C, H, W], float.
    """

    chord_layer_kind = "conv2d"

    def __init__(
        self,
        mw: MixedWeight,
        weight_shape: Sequence[int],
        bias: torch.Tensor | None,
        *,
        stride: tuple[int, int],
        padding: tuple[int, int] | str,
        dilation: tuple[int, int],
        padding_mode: str = "zeros",
        float_weight: torch.Tensor | None = None,
        act_bits: int = 0,
    ):
        super().__init__()
        out_c, in_c, kh, kw = (int(s) for s in weight_shape)
        self.in_channels, self.out_channels, self.kernel_size = in_c, out_c, (kh, kw)
        self.stride, self.dilation = tuple(stride), tuple(dilation)
        self.padding_mode = padding_mode
        # explicit pre-padding [left, right, top, bottom] for 'same' padding or non-zero modes
        if isinstance(padding, str) or padding_mode != "zeros":
            if isinstance(padding, str):
                if padding == "valid":
                    pads = [0, 0, 0, 0]
                else:  # 'same' (stride 1): split total padding like nn.Conv2d does
                    pads = []
                    for d, k in zip(reversed(self.dilation), (kw, kh)):
                        total = d * (k - 1)
                        pads += [total // 2, total - total // 2]
            else:
                pads = [padding[1], padding[1], padding[0], padding[0]]
            self.pre_pad, self.padding = tuple(pads), (0, 0)
        else:
            self.pre_pad, self.padding = None, tuple(padding)
        self._init_holder(mw, (out_c, in_c, kh, kw), float_weight, act_bits)
        self.bias = _frozen_bias(bias)
        self._orig_padding = padding

    @classmethod
    def _check_float(cls, mod: nn.Conv2d) -> None:
        if mod.groups != 1:
            raise ValueError(
                f"MixedPrecisionConv2d: groups must be 1 (a channel is a full output filter), got {mod.groups}"
            )

    @classmethod
    def _float_kwargs(cls, mod: nn.Conv2d) -> dict:
        return dict(
            weight_shape=mod.weight.shape,
            bias=mod.bias,
            stride=mod.stride,
            padding=mod.padding,
            dilation=mod.dilation,
            padding_mode=mod.padding_mode,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x: expected [B, {self.in_channels}, H, W], got {list(x.shape)}")
        if self.pre_pad is not None:
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            x = F.pad(x, self.pre_pad, mode=mode)
        tiny = self._buffers["tiny_weight"]
        if tiny is not None and self.act_bits == 0:
            # the dequantized filter is kept (see _refresh_tiny): torch's conv is the im2col +
            # F.linear it stands for, without the unfold/transposes (faster on Caser's filter:
            # reports/2026-12-07-call-costs.md)
            w = tiny.view(self.chord_weight_shape).to(x.dtype)
            y = F.conv2d(
                x, w, None if self.bias is None else self.bias.to(x.dtype), self.stride, self.padding, self.dilation
            )
            return y[0] if unbatched else y
        B, _, H, W = x.shape
        kh, kw = self.kernel_size
        Ho = (H + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        Wo = (W + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        if kh == H and self.padding == (0, 0) and kw == 1 and self.in_channels == 1 and self.stride[1] == 1:
            cols = x[:, 0].transpose(1, 2)  # Caser's vertical filter: [B, W, H]
        elif kw == W and self.padding[1] == 0 and self.dilation == (1, 1) and Ho > 0:
            # full-width kernels (Caser's horizontal filters): window t is rows t*s .. t*s+kh-1 of
            # every channel, a strided view -- no im2col gather
            x = x.contiguous()
            C = self.in_channels
            xp = F.pad(x, (0, 0, self.padding[0], self.padding[0])) if self.padding[0] else x
            Hp = xp.shape[2]
            if C == 1:  # a window's kh rows are one run of kh*W values: one view op, not two
                cols = xp.as_strided((B, Ho, kh * W), (Hp * W, self.stride[0] * W, 1))
            else:
                cols = xp.as_strided((B, Ho, C, kh, W), (C * Hp * W, self.stride[0] * W, Hp * W, W, 1))
                cols = cols.reshape(B, Ho, C * kh * W)
        else:
            cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride).transpose(1, 2)
        y = _linear(self, cols, self._parameters.get("bias"))  # [B, Ho*Wo, out]
        out = self.out_channels
        if y.is_contiguous():  # the [B, out, Ho, Wo] view of its transpose, in one view op
            y = y.as_strided((B, out, Ho, Wo), (Ho * Wo * out, 1, Wo * out, out))
        else:
            y = y.transpose(1, 2).reshape(B, out, Ho, Wo)
        return y[0] if unbatched else y

    def to_float(self) -> nn.Conv2d:
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self._orig_padding,
            dilation=self.dilation,
            bias=self.bias is not None,
            padding_mode=self.padding_mode,
            device=self.qweight.device,
        )
        with torch.no_grad():
            conv.weight = nn.Parameter(self.restored_weight().detach(), requires_grad=conv.weight.requires_grad)
            if self.bias is not None:
                conv.bias = self.bias
        return conv


def _row_tables_numpy(perm, scales, zeros, buckets, N, K):
    """QuantizedEmbedding's row tables on CPU in numpy (single-threaded): torch ops on a 100k-row
    table run torch's OpenMP pool, which beside a busy core made adaptation slower at 2 threads
    than at 1 (reports/2026-12-06-one-core.md). Same values as the torch path."""
    p = perm.detach().numpy().astype(np.int64)
    slot, bits = np.zeros(N, np.int64), np.zeros(N, np.int64)
    for b, start, n, _ in fmt.bucket_spans(buckets, K):
        rows = p[start : start + n]
        slot[rows] = np.arange(n)
        bits[rows] = b
    scale, zero = np.empty(N, np.float32), np.empty(N, np.float32)
    scale[p], zero[p] = scales.detach().numpy(), zeros.detach().numpy()
    return tuple(torch.from_numpy(a) for a in (slot, bits, scale, zero))


class QuantizedEmbedding(_MixedWeightHolder):
    """``nn.Embedding`` with each row (item) quantized at its own width, FBGEMM-style: packed
    row data plus a scale (and zero point) per row; a lookup dequantizes only the gathered rows.

    Also the item-scoring path of tied-embedding recommenders: :meth:`score` (mp_linear against
    the packed table) and :meth:`topk` (fused ``chord.mp_topk``), never dequantizing the
    whole table.
    """

    chord_layer_kind = "embedding"

    def __init__(
        self,
        mw: MixedWeight,
        *,
        padding_idx: int | None = None,
        float_weight: torch.Tensor | None = None,
        act_bits: int = 0,
    ):
        super().__init__()
        self.num_embeddings, self.embedding_dim = mw.N, mw.K
        self.padding_idx = padding_idx
        self._init_holder(mw, (mw.N, mw.K), float_weight, act_bits)
        self._build_row_tables()

    def _row_tables_of(self, mw: MixedWeight) -> dict:
        """Per original row: slot inside its width bucket, width, scale, zero (gather-friendly,
        non-persistent; rebuilt on every re-pack), and the C++ lookup's bucket list."""
        N, K = self.num_embeddings, self.embedding_dim
        dev = mw.qweight.device
        if dev.type == "cpu":
            slot, bits, scale, zero = _row_tables_numpy(mw.perm, mw.scales, mw.zeros, mw.buckets, N, K)
        else:
            perm = mw.perm.long()
            slot = torch.zeros(N, dtype=torch.int64, device=dev)
            bits = torch.zeros(N, dtype=torch.int64, device=dev)
            for b, start, n, _ in fmt.bucket_spans(mw.buckets, K):
                rows = perm[start : start + n]
                slot[rows] = torch.arange(n, device=dev)
                bits[rows] = b
            scale = torch.empty(N, dtype=torch.float32, device=dev)
            zero = torch.empty(N, dtype=torch.float32, device=dev)
            scale[perm], zero[perm] = mw.scales, mw.zeros
        # [bits, byte offset, rows] of each live width bucket, for the C++ lookup
        lookup = [[b, off, n] for b, _, n, off in fmt.bucket_spans(mw.buckets, K) if b and n]
        return {"row_slot": slot, "row_bits": bits, "row_scale": scale, "row_zero": zero, "lookup": lookup}

    def _install_row_tables(self, tables: dict) -> None:
        for name in ("row_slot", "row_bits", "row_scale", "row_zero"):
            if name in self._buffers:
                setattr(self, name, tables[name])
            else:
                self.register_buffer(name, tables[name], persistent=False)
        self._lookup_buckets = tables["lookup"]
        self.__dict__.pop("_lookup_cache", None)  # never keep a replaced table alive

    def _build_row_tables(self):
        self._install_row_tables(self._row_tables_of(self.mw))

    def staged(self, mw: MixedWeight) -> dict:
        st = super().staged(mw)
        st["rows"] = self._row_tables_of(st["mw"])
        return st

    def install(self, staged: dict) -> None:
        super().install(staged)
        self._install_row_tables(staged["rows"])

    def _after_load(self) -> None:
        super()._after_load()
        self._build_row_tables()

    @classmethod
    def _check_float(cls, mod: nn.Embedding) -> None:
        if mod.max_norm is not None:
            raise ValueError(
                "QuantizedEmbedding: max_norm renormalizes rows at lookup; not supported for a frozen packed table"
            )

    @classmethod
    def _float_kwargs(cls, mod: nn.Embedding) -> dict:
        return dict(padding_idx=mod.padding_idx)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized float32 table [num_embeddings, dim]. Materializes it: for
        compatibility only; lookups and scoring never call it."""
        return self.dequantized_weight(torch.float32)

    _LOOKUP_BUFFERS = ("qweight", "row_bits", "row_slot", "row_scale", "row_zero")

    def _lookup_arrays(self):
        """numpy views of the lookup's buffers (None off CPU), cached while the very same tensors
        are installed: ``.to()``, ``set_packed`` and state-dict loads replace them, and in-place
        writes go through the shared memory."""
        bufs = self._buffers
        ts = tuple(bufs[n] for n in self._LOOKUP_BUFFERS)
        c = self.__dict__.get("_lookup_cache")
        if c is None:
            c = self.__dict__["_lookup_cache"] = _LookupCache()
        if c.arrays is not None and all(a is b for a, b in zip(c.tensors, ts)):
            return c.arrays
        c.tensors, c.arrays = (), None
        if not all(t.is_cpu and t.is_contiguous() and not t.requires_grad for t in ts):
            return None
        c.tensors, c.arrays = ts, tuple(t.numpy() for t in ts)
        return c.arrays

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids int [...] -> float32 [..., dim]: only the gathered rows are dequantized."""
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"ids: expected int64/int32 indices, got {ids.dtype}")
        flat = ids.reshape(-1).long()
        K = self.embedding_dim
        if cpu_backend.eager_ok(flat):
            arrays = self._lookup_arrays()
            if arrays is not None:
                # eager CPU: one C++ gather (the torch ops below cost far more at a 50-id history,
                # reports/2026-12-07-call-costs.md)
                flat = flat.contiguous()
                out = torch.empty(flat.numel(), K, dtype=torch.float32)
                cpu_backend._cpu.embedding_lookup(flat.numpy(), *arrays, self._lookup_buckets, K, out.numpy())
                return out.reshape(*ids.shape, K)
        out = torch.zeros(flat.numel(), K, dtype=torch.float32, device=flat.device)
        # index_select, not [flat]: an id outside [0, N) -- -1 included -- raises IndexError like
        # nn.Embedding (indexing would wrap -1 to the last row), with no data-dependent branch
        rbits, rslot = self.row_bits.index_select(0, flat), self.row_slot.index_select(0, flat)
        rzero = self.row_zero.index_select(0, flat)[:, None]
        rscale = self.row_scale.index_select(0, flat)[:, None]
        for b, _, n, byte_off in fmt.bucket_spans(self.buckets, K):
            if b == 0 or n == 0:
                continue
            rb = fmt.row_bytes(K, b)
            sel = rbits == b
            # one row gather per width bucket (rows of a bucket are equal-sized and contiguous);
            # ids of other widths read the bucket's row 0 and are masked out
            bucket = self.qweight[byte_off : byte_off + n * rb].view(n, rb)
            raw = bucket.index_select(0, torch.where(sel, rslot, torch.zeros_like(rslot)))
            u = fmt.unpack_ints(raw, b, K).to(torch.float32)
            vals = (u - rzero) * rscale
            out = torch.where(sel[:, None], vals, out)
        return out.reshape(*ids.shape, K)

    def score(self, user_repr: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Tied-embedding scores. user_repr float [B, d]; item_ids None -> [B, num_embeddings]
        (``mp_linear`` over the packed table), int64 [B, C] -> [B, C] (gathered rows)."""
        if item_ids is None:
            return _linear(self, user_repr, None)
        cand = self(item_ids)
        return torch.einsum("bd,bcd->bc", user_repr.to(cand.dtype), cand).to(user_repr.dtype)

    def topk(
        self, user_repr: torch.Tensor, k: int, candidates: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k of :meth:`score` without materializing all scores where the fused kernel exists:
        returns (scores float32 [B, k], ids int64 [B, k]) -- ids are item rows (not positions in
        ``candidates``). Ties: see :func:`chord.mp_topk`."""
        return mp_topk(user_repr, self.mw, k, candidates=candidates, act_bits=self.act_bits)

    def to_float(self) -> nn.Embedding:
        emb = nn.Embedding(
            self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx, device=self.qweight.device
        )
        with torch.no_grad():
            emb.weight = nn.Parameter(self.restored_weight().detach(), requires_grad=emb.weight.requires_grad)
        return emb


SWAPS = {"linear": MixedPrecisionLinear, "conv2d": MixedPrecisionConv2d, "embedding": QuantizedEmbedding}
