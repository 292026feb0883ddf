#!/bin/bash
# ab_drv.sh OUT ROUNDS: (DRV/drv_base, DRV/drv_new built by build.sh with ../../2026-12-07-gemm-2/gemm_i8_driver.cpp) alternated C++ driver runs (base = main's csrc, new = this branch), RT priority, 1 thread pinned to CPU 1
OUT=$1; R=${2:-2}
for r in $(seq 1 $R); do
  for cfg in "16 1 300" "64 1 60" "256 1 25" "1024 1 6" "16 2 300" "256 2 40" "256 1 10 avx2"; do
    set -- $cfg
    for b in base new; do
      PIN=""; [ "$2" = 1 ] && PIN="taskset -c 1"
      echo "r$r $b $(chrt -f 50 $PIN ${DRV:-/tmp/g4}/drv_$b $cfg | tail -1) ${4:-}"
    done
  done
done > $OUT
