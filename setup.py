"""Builds the C++ CPU kernels (csrc/, pybind11 only, no torch headers) into chord_kernels._cpu
and installs the packages `chord` (python/chord) and `chord_kernels`.

Environment knobs:
  CHORD_SANITIZE=1   build with -fsanitize=address,undefined (see docs/development.md, "Sanitizers")
  CHORD_BUILD_JOBS=N parallel compile jobs (default 2)

Threads come from csrc/common/parallel.h (one pool for every kernel family); no OpenMP.
"""

import glob
import os

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import find_packages, setup

ParallelCompile("CHORD_BUILD_JOBS", default=2).install()


cflags = ["-O3", "-std=c++17", "-fvisibility=hidden", "-Wall", "-Wno-unknown-pragmas"]
lflags = ["-pthread"]
if os.environ.get("CHORD_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    cflags = [f for f in cflags if f != "-O3"] + ["-O1"] + san
    lflags += san

ext = Pybind11Extension(
    "chord_kernels._cpu",
    # csrc/capi is the Python-free runtime (CMakeLists.txt), not part of the extension
    sorted(f for f in glob.glob("csrc/**/*.cpp", recursive=True) if not f.startswith("csrc/capi")),
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
