#!/bin/bash
# ab.sh ROUNDS TREE... : run bench_m.py once per tree per round, trees alternated (order
# rotated each round); env (SHAPES, MIXES, MS, PATHS, BUDGET) passes through. Output lines:
# round tree <bench_m line>.  Summarize with summarize.py.
rounds=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
for ((r = 0; r < rounds; r++)); do
  trees=("$@")
  if ((r % 2)); then trees=($(printf '%s\n' "$@" | tac)); fi
  for t in "${trees[@]}"; do
    [ -d "$t/chord" ] || [ -d "$t/python/chord" ] || { echo "no tree $t" >&2; exit 1; }
    PYTHONPATH=$t/python:$t OMP_NUM_THREADS=1 python "$here/bench_m.py" | sed "s#^#$r $(basename "$(dirname "$t")")/$(basename "$t") #"
  done
done
