"""The Python extension builds on an AArch64 host: setup.py selects the sources for the target
architecture (x86 SIMD files on x86 only, the NEON files compile on AArch64, kernels_absent.cpp
stubs the rest), and that selection, for aarch64, compiles and links into an AArch64 shared
object that exports PyInit__cpu and needs nothing but Python's C API and the C/C++ runtimes.

What this proves and what it does not (no AArch64 Python here): the bindings are cross-compiled
with setup.py's flags (at -O1, to keep CI short) against pybind11's headers and this host's
Python headers -- the same CPython version and, like every 64-bit Linux, the same LP64 type
sizes, but an x86-64 pyconfig.h; the kernel objects are the AArch64 CMake build's (-O3, the
same files: checked below). The module is linked, never imported: loading it needs an AArch64
CPython, which this machine does not have.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import pybind11

from tests.capi.native import ROOT

CXX = "aarch64-linux-gnu-g++"
# x86 intrinsics, directly or through csrc/common/x86_intrin.h
X86_INTRINSICS = re.compile(r'#include\s*[<"](immintrin\.h|x86intrin\.h|common/x86_intrin\.h)[>"]')


def _setup():
    """setup.py as a module (its setup() call runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("chord_setup_under_test", ROOT / "setup.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sources_per_architecture():
    s = _setup()
    x86, a64 = s.extension_sources("x86_64", str(ROOT)), s.extension_sources("aarch64", str(ROOT))
    assert s.extension_sources("AMD64", str(ROOT)) == x86  # Windows' spelling
    assert s.extension_sources("arm64", str(ROOT)) == a64  # macOS' spelling
    assert all(f.startswith("csrc/") and not f.startswith("csrc/capi/") for f in x86)
    assert set(a64) < set(x86)
    for f in a64:  # nothing x86-only is compiled for aarch64
        text = (ROOT / f).read_text()
        assert not X86_INTRINSICS.search(text) and 'target("avx' not in text, f
    for f in set(x86) - set(a64):  # and only x86 code is left out
        assert X86_INTRINSICS.search((ROOT / f).read_text()), f
    assert "csrc/common/kernels_absent.cpp" in a64
    assert {"csrc/quantize_pack/quantize_pack_neon.cpp", "csrc/topk/topk_i8_neon_dotprod.cpp"} <= set(a64)
    assert any(f.startswith("csrc/bindings/") for f in a64)


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, " ".join(map(str, cmd)) + "\n" + r.stderr[-4000:]
    return r.stdout


def test_extension_cross_compiles_and_links_for_aarch64(a64_build, tmp_path):
    s = _setup()
    sources = s.extension_sources("aarch64", str(ROOT))
    bindings = [f for f in sources if f.startswith("csrc/bindings/")]
    kernels = [f for f in sources if f not in bindings]
    objdir = a64_build / "CMakeFiles" / "chord_objects.dir"
    built = sorted(
        p.relative_to(objdir).as_posix()[: -len(".o")] for p in objdir.rglob("*.o") if "csrc/capi/" not in p.as_posix()
    )
    assert built == kernels  # the CMake aarch64 build compiled exactly setup.py's kernel set

    # setup.py's flags (pybind11 and CPython add -fPIC -fvisibility=hidden -g0 -DNDEBUG -fwrapv)
    flags = [f if f != "-O3" else "-O1" for f in s.cflags] + ["-fPIC", "-g0", "-DNDEBUG", "-fwrapv"]
    inc = ["-I" + str(ROOT / "csrc"), "-I" + pybind11.get_include(), "-I" + sysconfig.get_paths()["include"]]

    def compile_one(f):
        out = tmp_path / (f.replace("/", "_") + ".o")
        _run([CXX, *flags, *inc, "-c", str(ROOT / f), "-o", str(out)])
        return out

    with ThreadPoolExecutor(2) as pool:
        objs = list(pool.map(compile_one, bindings))
    so = tmp_path / "_cpu.cpython-aarch64-linux-gnu.so"
    _run([CXX, "-shared", *s.lflags, *map(str, objs), *(str(objdir / (k + ".o")) for k in kernels), "-o", str(so)])

    assert "Machine:                           AArch64" in _run(["aarch64-linux-gnu-readelf", "-h", str(so)])
    defined = _run(["aarch64-linux-gnu-nm", "-D", "--defined-only", str(so)])
    assert re.search(r"\bT PyInit__cpu$", defined, re.M), defined[-2000:]
    undefined = [
        ln.split()[-1] for ln in _run(["aarch64-linux-gnu-nm", "-D", "--undefined-only", str(so)]).splitlines()
    ]
    # Python's C API, or versioned glibc / libstdc++ / libgcc symbols; weak ones (w) are optional
    weak = {ln.split()[-1] for ln in _run(["aarch64-linux-gnu-nm", "-D", str(so)]).splitlines() if " w " in ln}
    unexpected = [u for u in undefined if not (u.startswith(("Py", "_Py")) or "@" in u or u in weak)]
    assert not unexpected, unexpected[:20]
