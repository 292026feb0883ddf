#!/bin/bash
# BASE: a checkout of the base commit with its extension built (python/ and chord_kernels/); NEW: this tree
# Interleaved A/B in alternating processes: base tree (main cc804bd + its build) and new tree,
# REPS times each, order alternated; every process under the timing lock (< 5 min each).
# usage: ab.sh NEWTREE ROUNDS REPS > result
NEW=${1:?NEW tree}; R=${2:-20}; REPS=${3:-2}
for rep in $(seq 1 $REPS); do
  if [ $((rep % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for tree in $order; do
    if [ $tree = base ]; then P=$BASE/python:$BASE; else P=$NEW/python:$NEW; fi
    echo "== $tree rep $rep load:$(uptime | sed 's/.*load average://')"
    PYTHONPATH=$P flock ${LOCK:-/tmp/timing.lock} timeout 280 python $(dirname "$0")/ab.py $R
    echo "== end load:$(uptime | sed 's/.*load average://')"
  done
done
