"""Every kernel variant, as ``triton.compile`` inputs: ahead-of-time compilation for a GPU
target without a GPU (CI checks that each compiles for Hopper, sm_90).

A variant is one family (GEMV, GEMM) x activation dtype x dot precision, with every width
branch (8/4/2/1-bit) live so each code path is compiled, plus the all-pruned kernel; the
mp_topk scan (each user-block size, K step, full/sampled), its float64 rescoring kernel, and
the packer (sym/asym). Must run
WITHOUT ``TRITON_INTERPRET`` (the interpreter replaces the compiler).
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from . import configs
from .gemm import mp_gemm_kernel
from .gemv import mp_gemv_kernel
from .quantize_pack import quantize_pack_kernel
from .topk import topk_rescore_kernel, topk_scan_kernel

_PTR = {
    "x": "*{x}",
    "qw": "*u8",
    "sc": "*fp32",
    "ze": "*fp32",
    "perm": "*i32",
    "bias": "*fp32",
    "xscale": "*fp32",
    "y": "*{x}",
    # topk scan / rescore, quantize_pack
    "xh": "*{x}",
    "post": "*fp32",
    "xs": "*fp32",
    "g": "*fp32",
    "tau": "*fp32",
    "tiles": "*i32",
    "cnt": "*i32",
    "bs": "*fp32",
    "be": "*fp32",
    "br": "*i32",
    "pm": "*i32",
    "pr": "*i32",
    "xr": "*fp64",
    "out": "*fp64",
    "w": "*fp32",
}
_TY = {"fp16": tl.float16, "bf16": tl.bfloat16, "fp32": tl.float32}


#: integer arguments a launch at the benchmark shapes (K, N multiples of 16) specializes as
#: multiples of 16, as triton's JIT does
_ALIGNED_INTS = ("K", "stride_xm", "stride_ym", "stride_xr", "ldw")


def _source(kernel, xdt: str, constexprs: dict):
    names = kernel.arg_names
    sig, attrs = {}, {}
    for i, name in enumerate(names):
        if name in constexprs:
            sig[name] = "constexpr"
        elif name.endswith("_ptr"):
            sig[name] = _PTR[name[:-4]].format(x=xdt)
            attrs[(i,)] = [["tt.divisibility", 16]]  # torch allocations are 16-byte aligned
        else:
            sig[name] = "i32"
            if name in _ALIGNED_INTS:
                attrs[(i,)] = [["tt.divisibility", 16]]
    kw = "constexprs" if "constexprs" in inspect.signature(triton.compiler.ASTSource).parameters else "constants"
    return triton.compiler.ASTSource(fn=kernel, signature=sig, attrs=attrs, **{kw: constexprs})


def variants(all_configs: bool = False):
    """Yield ``(name, ASTSource, config)`` for every variant. ``all_configs`` repeats them for
    each autotuning config (minutes); otherwise the config ``CHORD_TRITON_AUTOTUNE=0`` pins."""
    # stride_xk == 1 is what a launch on contiguous x specializes to (vector loads of x)
    flags_all = dict(W8=True, W4=True, W2=True, W1=True, HAS_BIAS=True, HAS_XSCALE=True, stride_xk=1)
    flags_pruned = dict(W8=False, W4=False, W2=False, W1=False, HAS_BIAS=False, HAS_XSCALE=False)

    def tag(blocks):
        return ",".join(f"{k}={v}" for k, v in blocks.items()).replace("BLOCK_", "").replace("=", "")

    for cfg in configs.gemv_configs(False, autotune=all_configs):
        blocks = {k: v for k, v in cfg.items() if k.startswith("BLOCK")}
        for xdt in ("fp16", "bf16", "fp32"):
            yield f"gemv/{xdt}/all-widths/{tag(blocks)}", _source(mp_gemv_kernel, xdt, {**flags_all, **blocks}), cfg
        generic = {k: v for k, v in flags_all.items() if k != "stride_xk"}
        yield f"gemv/fp16/strided-x/{tag(blocks)}", _source(mp_gemv_kernel, "fp16", {**generic, **blocks}), cfg
        yield f"gemv/fp16/all-pruned/{tag(blocks)}", _source(mp_gemv_kernel, "fp16", {**flags_pruned, **blocks}), cfg
    for cfg in configs.gemm_configs(False, autotune=all_configs):
        blocks = {k: v for k, v in cfg.items() if k.startswith("BLOCK")}
        blocks["BLOCK_K"] = max(blocks["BLOCK_K"], 128)
        for xdt, prec in (("fp16", "tf32"), ("bf16", "tf32"), ("fp32", "ieee"), ("fp32", "tf32")):
            dot = dict(DOT_DTYPE=_TY[xdt], DOT_PREC=prec)
            yield (
                f"gemm/{xdt}/{prec}/all-widths/{tag(blocks)}",
                _source(mp_gemm_kernel, xdt, {**flags_all, **blocks, **dot}),
                cfg,
            )
        yield (
            f"gemm/fp16/all-pruned/{tag(blocks)}",
            _source(mp_gemm_kernel, "fp16", {**flags_pruned, **blocks, **dict(DOT_DTYPE=tl.float16, DOT_PREC="tf32")}),
            cfg,
        )
    yield from topk_variants(all_configs)
    yield from pack_variants()


#: (user block, K step, sampled tiles) of the scan compiled by default: every user-block size
#: and both K steps and both tile sources, not their full cross product (compiles take ~10-40 s
#: each on a busy 2-core machine; ``all_configs`` compiles the product)
_TOPK_DEFAULT = {(1, 16, False), (1, 64, True), (16, 16, True), (32, 64, False), (64, 16, False), (64, 64, True)}


def topk_variants(all_configs: bool = False):
    """The mp_topk scan for each user-block size of its table (M = 1 on CUDA cores, tl.dot
    above) x K step (16 / 64 bytes) x full or sampled tiles, every width live; the rescoring
    kernel."""
    widths = dict(W8=True, W4=True, W2=True, W1=True)
    for m in (1, 16, 32, 64):
        cfg = configs.topk_config(m, interpret=False)
        for bkb in (16, 64):
            blocks = dict(BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"], BLOCK_KB=bkb, USE_DOT=cfg["USE_DOT"])
            for use_list in (False, True):
                if not all_configs and (m, bkb, use_list) not in _TOPK_DEFAULT:
                    continue
                name = f"topk/scan/M{blocks['BLOCK_M']},N{blocks['BLOCK_N']},KB{bkb}" + ("/sample" if use_list else "")
                yield (
                    name,
                    _source(topk_scan_kernel, "fp16", {**widths, **blocks, "USE_LIST": use_list, "DOT_PREC": "tf32"}),
                    cfg,
                )
    rc = configs.rescore_config(interpret=False)
    yield (
        f"topk/rescore/P{rc['BLOCK_P']},K{rc['BLOCK_K']}",
        _source(topk_rescore_kernel, "fp64", {k: v for k, v in rc.items() if k.startswith("BLOCK")}),
        dict(num_warps=rc["num_warps"], num_stages=1),
    )


def pack_variants():
    """quantize_pack, symmetric and asymmetric, every width live."""
    pc = configs.pack_config(interpret=False)
    blocks = {k: v for k, v in pc.items() if k.startswith("BLOCK")}
    for asym in (False, True):
        yield (
            f"pack/{'asym' if asym else 'sym'}",
            _source(quantize_pack_kernel, "fp32", dict(W8=True, W4=True, W2=True, W1=True, ASYM=asym, **blocks)),
            dict(num_warps=pc["num_warps"], num_stages=1, enable_fp_fusion=False),
        )


def compile_options(cfg: dict) -> dict:
    """``triton.compile`` options of a variant's config (warps, stages, FMA contraction)."""
    opts = dict(num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])
    if "enable_fp_fusion" in cfg:
        opts["enable_fp_fusion"] = cfg["enable_fp_fusion"]
    return opts


def compile_all(arch: int = 90, all_configs: bool = False, verbose: bool = True) -> list[str]:
    """Compile every variant for ``cuda:sm_<arch>``; return the names compiled. Raises on the
    first failure (with the variant's name)."""
    from triton.backends.compiler import GPUTarget

    if configs.interpreting(mp_gemv_kernel):
        raise RuntimeError("compile_all: TRITON_INTERPRET is set; the interpreter bypasses the compiler")
    target = GPUTarget("cuda", arch, 32)
    done = []
    for name, src, cfg in variants(all_configs):
        try:
            k = triton.compile(src, target=target, options=compile_options(cfg))
        except Exception as e:  # noqa: BLE001 - re-raised with the variant named
            raise RuntimeError(f"variant {name} failed to compile for sm_{arch}: {e}") from e
        if "cubin" not in k.asm:
            raise RuntimeError(f"variant {name}: no cubin produced for sm_{arch}")
        done.append(name)
        if verbose:
            md = k.metadata
            print(f"ok sm_{arch} {name} shared={md.shared}", flush=True)
    return done


if __name__ == "__main__":
    import sys

    compile_all(all_configs="--all" in sys.argv)
