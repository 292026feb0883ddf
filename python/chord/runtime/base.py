"""What every fused runner shares: reading a torch model's layers into the spec the C++
runners take (zero-copy numpy views of its tensors), the staleness watch, the model lock around
each native call, the argument checks of ``represent`` / ``topk``, and the errors."""

from __future__ import annotations

import operator

import torch
from torch import nn

from ..backends.cpu import _cpu  # None without the C++ extension (backends.cpu says why)
from ..quantize.concurrency import LOCK_HOOKS, lock_of
from ..quantize.modules import MixedPrecisionConv2d, MixedPrecisionLinear, QuantizedEmbedding


class UnsupportedModelError(TypeError):
    """The model holds something the fused runtime cannot run exactly."""


class StaleRuntimeError(RuntimeError):
    """The model's modules or tensors changed since the runner read them; re-compile."""


def fail(msg: str):
    raise UnsupportedModelError(msg)


def np_view(t: torch.Tensor, name: str, dtype=torch.float32):
    """A zero-copy numpy view of a CPU tensor of ``dtype`` (contiguous copy only if needed)."""
    if t.device.type != "cpu":
        fail(f"{name}: expected a CPU tensor, got device {t.device}")
    if t.dtype != dtype:
        fail(f"{name}: expected {dtype}, got {t.dtype}")
    t = t.detach()
    return (t if t.is_contiguous() else t.contiguous()).numpy()


_version = operator.attrgetter("_version")


class Watch:
    """What the runner read, to detect that the model changed under it (cheaply)."""

    def __init__(self):
        self.slots: list[tuple[dict, str, object]] = []  # (container dict, key, object)
        self.tensors: list[tuple[torch.Tensor, int]] = []  # (tensor, its _version)

    def module(self, parent: nn.Module, name: str) -> nn.Module:
        m = parent._modules[name]
        self.slots.append((parent._modules, name, m))
        return m

    def tensor(self, mod: nn.Module, name: str) -> torch.Tensor | None:
        d = mod._parameters if name in mod._parameters else mod._buffers
        t = d.get(name)
        self.slots.append((d, name, t))
        if t is not None:
            self.tensors.append((t, t._version))
        return t

    def freeze(self) -> None:
        """Flatten for :meth:`stale`: C-level map() loops over plain tuples (a few us per call)."""
        self._dicts = tuple(d for d, _, _ in self.slots)
        self._keys = tuple(k for _, k, _ in self.slots)
        self._objs = tuple(o for _, _, o in self.slots)
        self._ts = tuple(t for t, _ in self.tensors)
        self._versions = tuple(v for _, v in self.tensors)

    def stale(self) -> str | None:
        try:  # tuple == compares identical objects without calling their __eq__
            same = tuple(map(dict.get, self._dicts, self._keys)) == self._objs
        except Exception:  # noqa: BLE001 - a replaced tensor's elementwise __eq__ (any error: not the same)
            same = False
        if not same:
            k = next(k for d, k, o in self.slots if d.get(k) is not o)
            return f"{k!r} was replaced"
        if tuple(map(_version, self._ts)) != self._versions:
            return "a weight was modified in place"
        return None


def swapped_spec(w: Watch, mod: nn.Module, path: str) -> dict:
    """Spec of a chord-swapped Linear/Conv2d: its packed weight, or the dequantized fp32 copy
    the module itself computes with (tiny layers, exact activations)."""
    bias = w.tensor(mod, "bias")
    tiny = w.tensor(mod, "tiny_weight")
    bias_np = None if bias is None else np_view(bias, f"{path}.bias")
    if tiny is not None and mod.act_bits == 0:
        return {"kind": "fp32", "weight": np_view(tiny, f"{path}.tiny_weight"), "bias": bias_np}
    return {
        "kind": "packed",
        **packed_spec(w, mod, path),
        "K": mod.qweight_k,
        "act_bits": int(mod.act_bits),
        "bias": bias_np,
    }


def linear_spec(w: Watch, parent: nn.Module, attr: str, path: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is nn.Linear:
        weight, bias = w.tensor(mod, "weight"), w.tensor(mod, "bias")
        return {
            "kind": "fp32",
            "weight": np_view(weight, f"{path}.weight"),
            "bias": None if bias is None else np_view(bias, f"{path}.bias"),
        }
    if type(mod) is MixedPrecisionLinear:
        return swapped_spec(w, mod, path)
    fail(f"{path}: expected nn.Linear or chord MixedPrecisionLinear, got {type(mod).__name__}")


def packed_spec(w: Watch, mod, path: str) -> dict:
    out = {}
    for name, dt in (
        ("qweight", torch.uint8),
        ("scales", torch.float32),
        ("zeros", torch.float32),
        ("perm", torch.int32),
    ):
        out[name] = np_view(w.tensor(mod, name), f"{path}.{name}", dt)
    out["buckets"] = [int(b) for b in mod.buckets]
    return out


def table_spec(w: Watch, parent: nn.Module, attr: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is nn.Embedding:
        if mod.max_norm is not None:
            fail(f"{attr}: max_norm renormalizes rows at lookup; not supported")
        return {"kind": "fp32", "weight": np_view(w.tensor(mod, "weight"), f"{attr}.weight")}
    if type(mod) is QuantizedEmbedding:
        return {"kind": "packed", **packed_spec(w, mod, attr), "K": mod.embedding_dim, "act_bits": int(mod.act_bits)}
    fail(f"{attr}: expected nn.Embedding or chord QuantizedEmbedding, got {type(mod).__name__}")


def norm_spec(w: Watch, parent: nn.Module, attr: str, dim: int, path: str) -> dict:
    mod = w.module(parent, attr)
    if type(mod) is not nn.LayerNorm:
        fail(f"{path}: expected nn.LayerNorm, got {type(mod).__name__}")
    if tuple(mod.normalized_shape) != (dim,):
        fail(f"{path}: expected normalized_shape ({dim},), got {tuple(mod.normalized_shape)}")
    wt, b = w.tensor(mod, "weight"), w.tensor(mod, "bias")
    return {
        "weight": None if wt is None else np_view(wt, f"{path}.weight"),
        "bias": None if b is None else np_view(b, f"{path}.bias"),
        "eps": float(mod.eps),
        "dim": dim,
    }


def check_hooks(model: nn.Module) -> None:
    """Forward hooks would run in torch but not in the fused runtime: refuse them."""
    if torch.nn.modules.module._global_forward_hooks or torch.nn.modules.module._global_forward_pre_hooks:
        fail("model: global module forward hooks are registered; the fused runtime would skip them")
    for name, m in model.named_modules():
        # chord's own model lock (chord.quantize.concurrency) computes nothing: not a reason to refuse
        if any(h not in LOCK_HOOKS for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values())):
            fail(f"model: module {name or '<root>'!r} has forward hooks; the fused runtime would skip them")


def conv_spec(w: Watch, parent: nn.Module, attr: str, path: str) -> dict:
    """A stride-1, unpadded, groups-1 Conv2d as the linear map over its im2col rows (weight
    [out, in * kh * kw]): nn.Conv2d (fp32) or MixedPrecisionConv2d (packed)."""
    mod = w.module(parent, attr)
    if type(mod) is nn.Conv2d:
        if (
            mod.groups != 1
            or tuple(mod.stride) != (1, 1)
            or tuple(mod.dilation) != (1, 1)
            or mod.padding not in ((0, 0), "valid")
        ):
            fail(f"{path}: expected a stride-1, dilation-1, unpadded Conv2d with groups=1")
        weight, bias = w.tensor(mod, "weight"), w.tensor(mod, "bias")
        return {
            "kind": "fp32",
            "weight": np_view(weight, f"{path}.weight").reshape(weight.shape[0], -1),
            "bias": None if bias is None else np_view(bias, f"{path}.bias"),
        }
    if type(mod) is MixedPrecisionConv2d:
        if (
            mod.pre_pad is not None
            or tuple(mod.padding) != (0, 0)
            or tuple(mod.stride) != (1, 1)
            or tuple(mod.dilation) != (1, 1)
        ):
            fail(f"{path}: expected a stride-1, dilation-1, unpadded MixedPrecisionConv2d")
        return swapped_spec(w, mod, path)
    fail(f"{path}: expected nn.Conv2d or chord MixedPrecisionConv2d, got {type(mod).__name__}")


class FusedRunner:
    """Common part of the fused runners: staleness, argument checks, output allocation.
    Subclasses set ``self._runner`` (a C++ runner), ``num_items``, ``dim`` and ``max_len``
    (None: any length)."""

    max_len: int | None = None

    def _compile(self, model, spec_fn, runner_cls, isa: str, check_stale: bool, on_stale: str = "raise") -> dict:
        """Read ``model`` into a spec (``spec_fn(model, watch)``), build the C++ runner
        (``runner_cls(spec, isa)``) and set the facts every runner has; returns the spec."""
        if _cpu is None:  # pragma: no cover
            raise RuntimeError(
                "chord.runtime needs the C++ extension chord_kernels._cpu (build it: "
                "python setup.py build_ext --inplace)"
            )
        if on_stale not in ("raise", "rebuild"):
            raise ValueError(f"on_stale: expected 'raise' or 'rebuild', got {on_stale!r}")
        self.check_stale = bool(check_stale)
        self.on_stale = on_stale
        isa = _cpu.cpu_isa(isa)  # a bad isa / CHORD_CPU_ISA is a ValueError, not an unsupported model
        self._model, self._build = model, (spec_fn, runner_cls, isa)
        self.num_items, self.dim = model.num_items, model.dim
        return self._read(model)

    def _read(self, model) -> dict:
        """(Re)read the model: a new watch and C++ runner, published in one store (``_live``)
        so a concurrent call uses the old pair or the new one, never one of each."""
        spec_fn, runner_cls, isa = self._build
        watch = Watch()
        spec = spec_fn(model, watch)
        watch.freeze()
        try:
            runner = runner_cls(spec, isa)
        except ValueError as e:
            raise UnsupportedModelError(str(e)) from e
        self._facts(spec)
        self._live = (watch, runner)
        return spec

    def _facts(self, spec: dict) -> None:
        """Facts a runner reports from its spec (subclasses add theirs)."""
        self.item_table = "packed" if spec["item_emb"]["kind"] == "packed" else "fp32"

    @property
    def _watch(self) -> Watch:
        return self._live[0]

    @property
    def _runner(self):
        return self._live[1]

    @property
    def isa(self) -> str:
        return self._runner.isa

    def is_stale(self) -> str | None:
        """None while the model is unchanged, else why it is stale."""
        return self._watch.stale()

    def _run(self, method: str, *args):
        """``runner.<method>(*args, threads)`` under the model's lock, held shared (models that
        re-pack -- ``DeviceModel``, ``quantize_(..., keep_float=True)`` -- have one): the
        staleness check and the native run see one state of the model. A swap
        (``apply``/``quantize_``/``load_state_dict``) waits for running calls; a call after it
        finds the runner stale and raises :class:`StaleRuntimeError` (``on_stale="raise"``) or
        re-reads the model and runs with the new weights (``"rebuild"``). Never a mix."""
        lock = lock_of(self._model)
        if lock is not None:
            lock.acquire_read()
        try:
            watch, runner = self._live
            if self.check_stale:
                why = watch.stale()
                if why:
                    if self.on_stale == "raise":
                        raise StaleRuntimeError(
                            f"chord.runtime: the model changed since compile ({why}; e.g. "
                            "DeviceModel.apply / quantize_ re-swapped it): call chord.runtime.compile again "
                            "(or compile with on_stale='rebuild')"
                        )
                    self._read(self._model)
                    runner = self._live[1]
            return getattr(runner, method)(*args, self._threads())
        finally:
            if lock is not None:
                lock.release_read()

    def _check(self, seqs) -> torch.Tensor:
        if not isinstance(seqs, torch.Tensor) or seqs.dim() != 2 or seqs.dtype != torch.int64:
            got = f"{seqs.dtype} {list(seqs.shape)}" if isinstance(seqs, torch.Tensor) else type(seqs).__name__
            raise ValueError(f"seqs: expected an int64 tensor [B, l] of item ids, got {got}")
        if seqs.device.type != "cpu":
            raise ValueError(f"seqs: expected a CPU tensor, got device {seqs.device}")
        if seqs.shape[1] < 1 or (self.max_len is not None and seqs.shape[1] > self.max_len):
            raise ValueError(f"seqs: expected length 1 <= l <= max_len={self.max_len}, got {seqs.shape[1]}")
        return seqs if seqs.is_contiguous() else seqs.contiguous()

    def _topk_args(self, seqs, k, candidates):
        if not isinstance(k, int) or isinstance(k, bool):
            raise TypeError(f"k: expected an int, got {type(k).__name__}")
        cand = None
        if candidates is not None:
            if not isinstance(candidates, torch.Tensor) or candidates.dtype != torch.int64:
                got = candidates.dtype if isinstance(candidates, torch.Tensor) else type(candidates).__name__
                raise TypeError(f"candidates: expected an int64 tensor of item ids or None, got {got}")
            if candidates.dim() not in (1, 2) or (candidates.dim() == 2 and candidates.shape[0] != seqs.shape[0]):
                raise ValueError(
                    f"candidates: expected [C] (shared) or [{seqs.shape[0]}, C], got {list(candidates.shape)}"
                )
            cand = candidates.contiguous().numpy()
        avail = self.num_items if cand is None else cand.shape[-1]
        if not 1 <= k <= avail:
            raise ValueError(
                f"k: expected 1 <= k <= {avail} ({'candidates per row' if cand is not None else 'items'}), got {k}"
            )
        B = seqs.shape[0]
        return cand, torch.empty(B, k, dtype=torch.float32), torch.empty(B, k, dtype=torch.int64)

    @staticmethod
    def _threads() -> int:
        return max(1, torch.get_num_threads())
