"""The strongest CPU peer: llama.cpp's ggml mat-vec on k-quants (optional extra ``[peer]``,
PyPI ``ggml-python``, which builds ggml from source).

The same fp32 weights are quantized with ggml's own quantizer (``ggml_quantize_chunk``) to
Q2_K (2.625 bits/weight incl. scales), Q4_K (4.5) or Q8_0 (8.5) and multiplied by x through a
one-node ggml graph (``ggml_mul_mat``: ggml quantizes x to Q8_K / Q8_0 and runs its integer
dot products), on a persistent pool of ``threads`` ggml threads.
"""

from __future__ import annotations

import ctypes
import weakref

import torch

from chord import host_memory

from . import checks
from .baselines import Prepared, Unavailable, import_peer, importable

#: peer implementation name -> ggml type name
GGML_TYPES = {"ggml_q2_k": "GGML_TYPE_Q2_K", "ggml_q4_k": "GGML_TYPE_Q4_K", "ggml_q8_0": "GGML_TYPE_Q8_0"}


def _ggml():
    return import_peer("ggml", "ggml-python", "peer")


def available() -> bool:
    return importable(_ggml)


def ggml_matmul(
    kind: str,
    w: torch.Tensor,
    x: torch.Tensor,
    n_sets: int,
    threads: int,
    hugepages: bool = False,
    qcache: dict | None = None,
) -> Prepared:
    """Prepared ggml ``mul_mat`` of x [M, K] by the ``kind``-quantized w [N, K] -> [M, N].

    ggml allocates its context itself (4 KiB pages here, as llama.cpp's malloc'd buffers);
    ``hugepages`` hands it a ``chord.host_memory`` buffer instead (2 MiB pages where the OS offers
    them), to compare the kernels on the same pages as chord's packed weights. ``qcache``: a dict
    the caller keeps for this w; the quantized bytes are kept there under ``kind`` and copied,
    not recomputed, by later calls (k-quants search scales: seconds per 4096^2 weight)."""
    ggml = _ggml()
    if kind not in GGML_TYPES:
        raise ValueError(f"kind: expected one of {sorted(GGML_TYPES)}, got {kind!r}")
    if w.device.type != "cpu":
        raise Unavailable("ggml peer runs on cpu only")
    qtype = getattr(ggml, GGML_TYPES[kind])
    N, K = w.shape
    M = x.shape[0]
    blck = ggml.ggml_blck_size(qtype)
    if K % blck:
        raise Unavailable(f"{kind} needs K % {blck} == 0, got K={K}")
    row = ggml.ggml_row_size(qtype, K)
    over = ggml.ggml_tensor_overhead()
    # weights + activations + outputs + graph objects, plus ggml's work buffer (x quantized)
    mem = n_sets * (row * N + 4 * K * M + 4 * N * M + 4 * over + ggml.ggml_graph_overhead()) + 2 * K * M + (16 << 20)
    arena = host_memory.empty_uint8(mem) if hugepages else None
    buf = ctypes.c_void_p(arena.data_ptr()) if arena is not None else None
    ctx = ggml.ggml_init(ggml.ggml_init_params(mem_size=mem, mem_buffer=buf, no_alloc=False))
    if not ctx:
        raise Unavailable("ggml_init failed (out of memory?)")
    holder = Prepared(
        fn=None,
        bytes_read=row * N,
        n_sets=n_sets,
        note=f"ggml {GGML_TYPES[kind][10:]}, {threads} thr" + (", 2 MiB pages" if hugepages else ""),
    )
    weakref.finalize(holder, ggml.ggml_free, ctx)
    wf = w.detach().to(torch.float32).contiguous()
    xf = x.detach().to(torch.float32).contiguous()
    graphs = []
    first = None
    cached = None if qcache is None else qcache.get(kind)
    if cached is not None and cached.numel() != row * N:
        raise ValueError(f"qcache: holds {cached.numel()} bytes for {kind}, expected {row * N} (another weight?)")
    for _ in range(n_sets):
        wt = ggml.ggml_new_tensor_2d(ctx, qtype, K, N)
        if first is None and cached is not None:
            ctypes.memmove(ggml.ggml_get_data(wt), cached.data_ptr(), row * N)
            first = ggml.ggml_get_data(wt)
        elif first is None:  # k-quants search scales (seconds per 4096^2): quantize once, copy
            ggml.ggml_quantize_chunk(
                qtype, ctypes.cast(wf.data_ptr(), ctypes.POINTER(ctypes.c_float)), ggml.ggml_get_data(wt), 0, N, K, None
            )
            first = ggml.ggml_get_data(wt)
            if qcache is not None:
                qcache[kind] = torch.empty(row * N, dtype=torch.uint8)
                ctypes.memmove(qcache[kind].data_ptr(), first, row * N)
        else:
            ctypes.memmove(ggml.ggml_get_data(wt), first, row * N)
        xt = ggml.ggml_new_tensor_2d(ctx, ggml.GGML_TYPE_F32, K, M)
        ctypes.memmove(ggml.ggml_get_data(xt), xf.data_ptr(), 4 * K * M)
        yt = ggml.ggml_mul_mat(ctx, wt, xt)
        gf = ggml.ggml_new_graph(ctx)
        ggml.ggml_build_forward_expand(gf, yt)
        graphs.append((gf, yt))
    n = len(graphs)
    # a persistent thread pool, as llama.cpp runs ggml (ggml_graph_compute_with_ctx would
    # create and join threads on every call); one compute plan + work buffer per graph
    tpp = ggml.ggml_threadpool_params_default(threads)
    pool = ggml.ggml_threadpool_new(ctypes.byref(tpp))
    if not pool:
        raise Unavailable("ggml_threadpool_new failed")
    weakref.finalize(holder, ggml.ggml_threadpool_free, pool)
    plans, work = [], []
    for gf, _ in graphs:
        plan = ggml.ggml_graph_plan(gf, threads, pool)
        if plan.work_size:
            buf = (ctypes.c_uint8 * plan.work_size)()
            work.append(buf)
            plan.work_data = ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint8))
        plans.append(plan)

    def fn(i: int):
        gf, _ = graphs[i % n]
        if ggml.ggml_graph_compute(gf, ctypes.byref(plans[i % n])) != 0:
            raise RuntimeError(f"ggml_graph_compute failed for {kind}")

    def output(i: int = 0) -> torch.Tensor:
        """The last result of set ``i`` as a torch tensor [M, N] (for sanity checks)."""
        _, yt = graphs[i % n]
        buf = (ctypes.c_float * (M * N)).from_address(ggml.ggml_get_data(yt))
        return torch.frombuffer(bytearray(buf), dtype=torch.float32).reshape(M, N)

    holder.fn = fn
    holder.keepalive = [graphs, output, plans, work, tpp, arena]
    ref_check = checks.rel_error_check(xf.double() @ wf.double().T, checks.GGML_TOL[kind], kind)
    holder.check = lambda _: ref_check(output(0))  # fn returns nothing: read the graph's output tensor
    holder.check_what = f"fp32 product, relative error <= {checks.GGML_TOL[kind]:g}"
    return holder
