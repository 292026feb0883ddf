"""Builds the C++ CPU kernels (csrc/, pybind11 only, no torch headers) into chord_kernels._cpu
and installs the packages `chord` (python/chord) and `chord_kernels`.

Environment knobs:
  CHORD_SANITIZE=1   build with -fsanitize=address,undefined (see docs/development.md, "Sanitizers")
  CHORD_BUILD_JOBS=N parallel compile jobs (default 2)

Threads come from csrc/common/parallel.h (one pool for every kernel family); no OpenMP.
"""

import glob
import os
import platform
import re

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import find_packages, setup

X86_MACHINES = ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86")
# x86 kernel files (target pragmas, immintrin.h): compiled for x86 only, as in CMakeLists.txt.
# The *_neon*.cpp files compile to nothing off AArch64, and csrc/common/kernels_absent.cpp
# stubs the other architecture's kernels that the dispatchers name.
X86_ONLY = re.compile(r"_avx[0-9a-z]*\.cpp$")


def extension_sources(machine: str | None = None, root: str = ".") -> list[str]:
    """The C++ sources of chord_kernels._cpu for a target `machine` (platform.machine()
    spelling: x86_64, AMD64, aarch64, arm64, ...; default: this host), relative to `root`.
    csrc/capi is the Python-free runtime (CMakeLists.txt), never part of the extension."""
    machine = (machine or platform.machine()).lower()
    files = sorted(
        os.path.relpath(f, root).replace(os.sep, "/")
        for f in glob.glob(os.path.join(root, "csrc/**/*.cpp"), recursive=True)
    )
    files = [f for f in files if not f.startswith("csrc/capi/")]
    if machine not in X86_MACHINES:
        files = [f for f in files if not X86_ONLY.search(f)]
    return files


cflags = ["-O3", "-std=c++17", "-fvisibility=hidden", "-Wall", "-Wno-unknown-pragmas"]
lflags = ["-pthread"]
if os.environ.get("CHORD_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    cflags = [f for f in cflags if f != "-O3"] + ["-O1"] + san
    lflags += san

if __name__ == "__main__":  # also under pip (setuptools.build_meta runs this file as __main__)
    ParallelCompile("CHORD_BUILD_JOBS", default=2).install()
    ext = Pybind11Extension(
        "chord_kernels._cpu",
        extension_sources(),
        include_dirs=["csrc"],
        extra_compile_args=cflags,
        extra_link_args=lflags,
        cxx_std=17,
    )
    # Metadata, dependencies, the console script and the package layout are in pyproject.toml;
    # this file only adds what needs code: the C++ extension's sources and flags.
    setup(
        packages=["chord"]
        + [f"chord.{p}" for p in find_packages("python/chord")]
        + ["chord_kernels"]
        + [f"chord_kernels.{p}" for p in find_packages("chord_kernels")],
        ext_modules=[ext],
        cmdclass={"build_ext": build_ext},
    )
