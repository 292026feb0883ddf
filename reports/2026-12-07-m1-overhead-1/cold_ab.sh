#!/bin/bash
# BASE: a checkout of the base commit with its extension built (python/ and chord_kernels/); NEW: this tree
# alternating processes: base tree vs new tree, cold.py (api with a stubbed C call after a stream)
R=${1:-10}
for rep in 1 2; do
  for tree in base new; do
    if [ $tree = base ]; then P=$BASE/python:$BASE; else P=$NEW/python:$NEW; fi
    echo "== $tree rep $rep $(uptime)"
    COLD_ONLY=1 PYTHONPATH=$P python $(dirname "$0")/cold.py $R | grep -E "timer|api_stub|min_stub"
  done
done
