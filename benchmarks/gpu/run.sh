#!/usr/bin/env bash
# The one-call GPU check (<= 8 minutes on one H100/H200): the Triton kernel tests on CUDA
# (compiled, bf16 included, no interpreter: mp_linear, mp_topk, quantize_pack), then the
# benchmark tables (benchmarks/gpu/check.py: mp_linear layers, fused scoring + top-k, packing).
# Usage (repo root, on the GPU machine): bash benchmarks/gpu/run.sh [check.py args, e.g. --quick]
# Writes tests.log and gpu_check.json under $OUT when it is set. Needs torch + triton + pytest
# (+ hypothesis, safetensors); the C++ CPU extension is optional (CPU ops fall back to torch).
# Nothing is installed: the repo runs from its tree (PYTHONPATH below), under the machine's
# python3 and its torch/triton (checked against triton 3.6 / torch 2.11 / Python 3.12).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/python:$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
LOG=${OUT:+$OUT/tests.log}
LOG=${LOG:-/dev/null}
[ -n "${OUT:-}" ] && mkdir -p "$OUT"
start=$(date +%s)

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>/dev/null || true
$PY -c "import sys, torch, triton; print('python', sys.version.split()[0], 'torch', torch.__version__, 'triton', triton.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" || exit 2

# 1) correctness on the GPU: every test of the interpreter suite, compiled for this device.
#    One config per family (CHORD_TRITON_AUTOTUNE=0): each variant compiles once; xdist spreads
#    the compiles over the CPU cores when it is installed.
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
CHORD_TRITON_TEST_DEVICE=cuda CHORD_TRITON_AUTOTUNE=0 timeout 200 \
  $PY -m pytest -q -p no:cacheprovider $XDIST tests/chord_kernels/test_triton_mp_linear.py \
  tests/chord_kernels/test_triton_topk.py tests/chord_kernels/test_triton_quantize_pack.py 2>&1 | tee "$LOG" | tail -25
test_rc=${PIPESTATUS[0]}
echo "tests: exit $test_rc after $(( $(date +%s) - start ))s"

# 2) the benchmark, in whatever time is left of ~7.5 minutes (it skips cases past its budget)
left=$(( 440 - ($(date +%s) - start) ))
[ "$left" -lt 60 ] && left=60
timeout $(( left + 20 )) $PY benchmarks/gpu/check.py --budget-s $(( left - 50 > 30 ? left - 50 : 30 )) "$@"
bench_rc=$?
echo "tests exit $test_rc, benchmark exit $bench_rc, total $(( $(date +%s) - start ))s"
[ "$test_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
