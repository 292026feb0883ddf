#!/bin/bash
# variants.sh ROUNDS CODE...: bench_m.py once per $GEMV10 code per round (order reversed every other round)
rounds=$1; shift
cd "$(dirname "$0")/../.."
export PYTHONPATH=$PWD/python:$PWD OMP_NUM_THREADS=1
for ((r = 0; r < rounds; r++)); do
  codes=("$@"); if ((r % 2)); then codes=($(printf '%s\n' "$@" | tac)); fi
  for c in "${codes[@]}"; do
    p=direct; [ "$c" = panel ] && p=panel
    GEMV10=$c PATHS=$p python reports/2026-12-07-gemv-8/bench_m.py | sed "s#^#$r $c #"
  done
done
