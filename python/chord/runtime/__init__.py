"""Fused native inference for chord's models: one C++ call per request, as on-device engines
(llama.cpp) run a model, instead of ~50 torch ops each paying dispatch overhead.

``chord.runtime.compile(model)`` reads a ``chord.models.SASRec`` or ``Caser`` in eval mode -- fp32, or
swapped by ``chord.quantize_`` / ``chord.DeviceModel`` with any strategy, tables quantized or
not -- and returns a runner whose ``represent(seqs)`` equals ``model(seqs)`` and whose
``topk(seqs, k, candidates)`` is the rerank (user representation + fused item top-k). The
runner borrows the model's tensors (no copy of any table); it is tied to the modules and
buffers it read: after ``DeviceModel.apply``, ``quantize_``, ``dequantize_`` or an in-place
weight update, re-create it (calls on a stale runner raise :class:`StaleRuntimeError`), or
compile with ``on_stale="rebuild"``. Each call holds the model's lock shared when the model has
one (``DeviceModel``, ``quantize_(..., keep_float=True)``): it computes with the weights before
a concurrent swap or after it, never a mix (docs/validation.md, "Thread safety").
"""

from __future__ import annotations

from .base import StaleRuntimeError, UnsupportedModelError
from .caser import FusedCaser, compile_caser
from .sasrec import FusedSASRec, compile_sasrec


def compile(model, *, isa: str = "auto", check_stale: bool = True, on_stale: str = "raise"):  # noqa: A001 - mirrors torch.compile
    """A fused native runner for ``model``: a ``chord.models.SASRec`` or ``Caser``.

    isa: "auto" (best the CPU has; ``CHORD_CPU_ISA`` overrides) or a name from
    ``chord.backends.cpu.supported_isas()`` ("scalar", "avx2", "avx512", "avx512_vnni", ...);
    a bad name or an ISA this CPU lacks raises ValueError.
    check_stale: verify on every call that the model's modules and tensors are still the ones
    read at compile time (identity and ``_version`` of each tensor: microseconds, small next
    to a rerank) and raise :class:`StaleRuntimeError` otherwise. ``False`` skips it: for callers
    that re-compile after every ``DeviceModel.apply`` or in-place weight update themselves (a
    runner keeps what it laid out from the weights it read, so a stale one must not be called).
    on_stale: "raise" (:class:`StaleRuntimeError`) or "rebuild": re-read the model (under its
    lock, as at compile) and run with its new weights -- an adapting device keeps serving.
    Raises :class:`UnsupportedModelError` (a ``TypeError``) for models it cannot run exactly.
    """
    from ..models import Caser, SASRec

    if isinstance(model, SASRec):
        return compile_sasrec(model, isa=isa, check_stale=check_stale, on_stale=on_stale)
    if isinstance(model, Caser):
        return compile_caser(model, isa=isa, check_stale=check_stale, on_stale=on_stale)
    raise UnsupportedModelError(
        f"model: expected a chord.models.SASRec or Caser (fp32 or chord.quantize_d), got {type(model).__name__}"
    )


def model_spec(model) -> dict:
    """What a fused runner reads from ``model`` (a SASRec or Caser in eval mode): the config and,
    per layer / table / norm, its kind and numpy views of its tensors (``chord export`` writes
    this to the model file of the Python-free runtime). Raises :class:`UnsupportedModelError`."""
    from ..models import Caser, SASRec
    from . import caser, sasrec
    from .base import Watch

    if isinstance(model, SASRec):
        return sasrec._spec(model, Watch())
    if isinstance(model, Caser):
        return caser._spec(model, Watch())
    raise UnsupportedModelError(f"model: expected a chord.models.SASRec or Caser, got {type(model).__name__}")


__all__ = [
    "compile",
    "model_spec",
    "compile_sasrec",
    "compile_caser",
    "FusedSASRec",
    "FusedCaser",
    "StaleRuntimeError",
    "UnsupportedModelError",
]
