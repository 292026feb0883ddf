"""The native builds the tests in tests/capi share: each built once per session, and only the
targets the tests run (tools/arm/ci.sh; CMakeLists.txt)."""

from __future__ import annotations

import shutil

import pytest

from tests.capi.native import ci
from tests.helpers import missing

# x86 (ASan/UBSan): the example, the fuzzer of the C boundary and the kernel driver (packer digest)
X86_TARGETS = "chord_rerank chord_fuzz_capi chord_kernel_test"
# aarch64: the example and the kernel driver; chord_objects also leaves the kernel objects that
# test_pyext_aarch64.py links with the Python bindings
A64_TARGETS = "chord_rerank chord_kernel_test"


@pytest.fixture(scope="session")
def x86_build(tmp_path_factory):
    """libchord + the example + the fuzzer + the kernel driver for this host, under ASan/UBSan."""
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        missing("cmake / c++ not found")
    d = tmp_path_factory.mktemp("capi") / "x86-asan"
    r = ci("x86", d, env={"CHORD_SANITIZE": "1", "CHORD_TARGETS": X86_TARGETS})
    assert r.returncode == 0, r.stderr[-4000:]
    return d


@pytest.fixture(scope="session")
def a64_build(tmp_path_factory):
    r = ci("tools")
    if r.returncode == 3:
        missing(r.stderr.strip())
    assert r.returncode == 0, r.stderr[-4000:]
    d = tmp_path_factory.mktemp("capi") / "aarch64"
    r = ci("aarch64", d, env={"CHORD_TARGETS": A64_TARGETS})
    assert r.returncode == 0, r.stderr[-4000:]
    return d
