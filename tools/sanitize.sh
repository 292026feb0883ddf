#!/usr/bin/env bash
# Build the C++ kernels with AddressSanitizer + UndefinedBehaviorSanitizer and run the kernel
# tests against that build. The sanitized build lives in a temporary copy of the working tree,
# so the repository's chord_kernels/_cpu*.so (used by everyone else) is never touched.
#
#   tools/sanitize.sh                 # default kernel tests
#   tools/sanitize.sh tests/test_functional_topk.py -k exact   # any pytest arguments
#
# Python itself is not instrumented, so the ASan runtime must be loaded first (LD_PRELOAD);
# leak detection is off (CPython and torch keep allocations alive at exit by design). UBSan
# reports abort the process (halt_on_error), so any report fails the run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# CHORD_SANITIZE_KEEP=1 keeps the temporary copy (and its sanitized build) for inspection;
# CHORD_SANITIZE_DIR=<a kept copy> refreshes it from the working tree and rebuilds only what
# changed (a full ASan build takes minutes).
if [ -n "${CHORD_SANITIZE_DIR:-}" ]; then
  work="$CHORD_SANITIZE_DIR"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/chord-sanitize.XXXXXX")"
  if [ "${CHORD_SANITIZE_KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
fi

# the working tree as it is (tracked + untracked, not ignored); cp -u keeps unchanged files'
# timestamps so an incremental rebuild recompiles only edited sources
(cd "$repo" && git ls-files -co --exclude-standard -z) | (cd "$repo" && xargs -0 cp -pu --parents -t "$work" 2>/dev/null || true)
cp "$repo/chord_kernels/__init__.py" "$work/chord_kernels/" 2>/dev/null || true
[ -n "${CHORD_SANITIZE_DIR:-}" ] || rm -f "$work"/chord_kernels/_cpu*.so

echo "== building with CHORD_SANITIZE=1 in $work"
(cd "$work" && CHORD_SANITIZE=1 python setup.py build_ext --inplace -q >"$work/build.log" 2>&1) || {
  tail -40 "$work/build.log"; exit 1; }

asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
if [ ! -e "$asan" ]; then echo "libasan.so not found (gcc -print-file-name=libasan.so)"; exit 1; fi

if [ $# -eq 0 ]; then
  set -- tests/backends/test_cpu_quantize_pack.py tests/backends/test_cpu_mp_linear.py tests/test_functional_topk.py \
         tests/test_mixed_weight.py
fi
cd "$work"
so="$(ls "$work"/chord_kernels/_cpu*.so)"
ldd "$so" | grep -c libasan >/dev/null || { echo "$so is not linked against libasan"; exit 1; }
# PYTHONPATH first: the copy's chord / chord_kernels win over the editable install's finder
export PYTHONPATH="$work/python:$work${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$asan${ubsan:+:$ubsan}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# make sure the tests will exercise the sanitized build, not the repository's
so="$(python -c 'import chord_kernels._cpu as m; print(m.__file__)')"
case "$so" in "$work"/*) ;; *) echo "imported $so instead of the sanitized build in $work"; exit 1;; esac
echo "== sanitized extension: $so"
echo "== running: pytest $* (ASan + UBSan)"
python -m pytest -q -p no:cacheprovider "$@"
