"""Triton kernels for ``chord::mp_linear`` over the packed format of ``chord.format``.

Families (one file each, GemLite style): ``gemv`` (CUDA cores, small M), ``gemm`` (``tl.dot``
tiles, larger M) for ``chord::mp_linear``; ``topk`` (fused scoring + top-k, ``chord::mp_topk``);
``quantize_pack`` (the packer, ``chord::quantize_pack``); ``layout`` reads the packed format; ``configs`` holds the autotuning tables
and dispatch threshold; ``dispatch`` checks arguments (with the op's checks, ``chord.ops``),
picks a family and launches.

Importing this package imports triton but probes no GPU. Set ``TRITON_INTERPRET=1`` *before*
the first import to run the kernels on CPU tensors through the Triton interpreter.
"""

from .dispatch import INTERPRET, choose_path, mp_linear, mp_linear_packed
from .quantize_pack import quantize_pack
from .topk import mp_topk_packed

__all__ = ["mp_linear", "mp_linear_packed", "mp_topk_packed", "quantize_pack", "choose_path", "INTERPRET"]
