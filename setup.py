"""Builds the C++ CPU kernels (csrc/, pybind11 only, no torch headers) into chord_kernels._cpu
and installs the packages `chord` (python/chord) and `chord_kernels`.

Environment knobs:
  CHORD_SANITIZE=1   build with -fsanitize=address,undefined (see README "Sanitizers")
  CHORD_NO_OPENMP=1  build without OpenMP
"""
import glob
import os
import subprocess
import sys
import tempfile

from pybind11.setup_helpers import Pybind11Extension, ParallelCompile, build_ext
from setuptools import find_packages, setup

ParallelCompile("CHORD_BUILD_JOBS", default=2).install()


def _has_openmp() -> bool:
    if os.environ.get("CHORD_NO_OPENMP") == "1":
        return False
    src = "#include <omp.h>\nint main(){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.cpp")
        with open(path, "w") as f:
            f.write(src)
        cxx = os.environ.get("CXX", "c++")
        r = subprocess.run([cxx, "-fopenmp", path, "-o", os.path.join(d, "t")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0


cflags = ["-O3", "-std=c++17", "-fvisibility=hidden", "-Wall", "-Wno-unknown-pragmas"]
lflags = []
if _has_openmp():
    cflags.append("-fopenmp")
    lflags.append("-fopenmp")
if os.environ.get("CHORD_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    cflags = [f for f in cflags if f != "-O3"] + ["-O1"] + san
    lflags += san

ext = Pybind11Extension(
    "chord_kernels._cpu",
    sorted(glob.glob("csrc/**/*.cpp", recursive=True)),
    include_dirs=["csrc"],
    extra_compile_args=cflags,
    extra_link_args=lflags,
    cxx_std=17,
)

# Metadata, dependencies, the console script and the package layout are in pyproject.toml;
# this file only adds what needs code: the C++ extension's sources and flags.
setup(
    packages=["chord"] + [f"chord.{p}" for p in find_packages("python/chord")]
    + ["chord_kernels"] + [f"chord_kernels.{p}" for p in find_packages("chord_kernels")],
    ext_modules=[ext],
    cmdclass={"build_ext": build_ext},
)
