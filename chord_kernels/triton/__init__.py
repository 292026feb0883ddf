"""Triton kernels for ``chord::mp_linear`` over the packed format of ``chord.format``.

Families (one file each, GemLite style): ``gemv`` (CUDA cores, small M), ``gemm`` (``tl.dot``
tiles, larger M); ``layout`` reads the packed format; ``configs`` holds the autotuning tables
and dispatch threshold; ``dispatch`` checks arguments, picks a family and launches.

Importing this package imports triton but probes no GPU. Set ``TRITON_INTERPRET=1`` *before*
the first import to run the kernels on CPU tensors through the Triton interpreter.
"""
from .dispatch import INTERPRET, choose_path, mp_linear, mp_linear_packed

__all__ = ["mp_linear", "mp_linear_packed", "choose_path", "INTERPRET"]
