"""Every kernel variant, as ``triton.compile`` inputs: ahead-of-time compilation for a GPU
target without a GPU (CI checks that each compiles for Hopper, sm_90).

A variant is one family (GEMV, GEMM) x activation dtype x dot precision, with every width
branch (8/4/2/1-bit) live so each code path is compiled, plus the all-pruned kernel. Must run
WITHOUT ``TRITON_INTERPRET`` (the interpreter replaces the compiler).
"""
from __future__ import annotations

import inspect

import triton
import triton.language as tl

from . import configs
from .gemm import mp_gemm_kernel
from .gemv import mp_gemv_kernel

_PTR = {"x": "*{x}", "qw": "*u8", "sc": "*fp32", "ze": "*fp32", "perm": "*i32", "bias": "*fp32",
        "xscale": "*fp32", "y": "*{x}"}
_TY = {"fp16": tl.float16, "bf16": tl.bfloat16, "fp32": tl.float32}


#: integer arguments a launch at the benchmark shapes (K, N multiples of 16) specializes as
#: multiples of 16, as triton's JIT does
_ALIGNED_INTS = ("K", "stride_xm", "stride_ym")


def _source(kernel, xdt: str, constexprs: dict):
    names = kernel.arg_names
    sig, attrs = {}, {}
    for i, name in enumerate(names):
        if name in constexprs:
            sig[name] = "constexpr"
        elif name.endswith("_ptr"):
            sig[name] = _PTR[name[:-4]].format(x=xdt)
            attrs[(i,)] = [["tt.divisibility", 16]]   # torch allocations are 16-byte aligned
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
            yield (f"gemm/{xdt}/{prec}/all-widths/{tag(blocks)}",
                   _source(mp_gemm_kernel, xdt, {**flags_all, **blocks, **dot}), cfg)
        yield (f"gemm/fp16/all-pruned/{tag(blocks)}",
               _source(mp_gemm_kernel, "fp16", {**flags_pruned, **blocks, **dict(DOT_DTYPE=tl.float16, DOT_PREC="tf32")}),
               cfg)


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
            k = triton.compile(src, target=target,
                               options=dict(num_warps=cfg["num_warps"], num_stages=cfg["num_stages"]))
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
