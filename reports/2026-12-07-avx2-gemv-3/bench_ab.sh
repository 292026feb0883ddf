#!/bin/bash
# The command (chord act8 rows only) from two trees in turn, base / new / base / new ...:
# tree_base/chord_kernels holds main's _cpu, tree_new/ this branch's; both use the worktree's
# Python (unchanged by this branch). usage: bench_ab.sh RUNS_DIR OUT_DIR [repeats]
R=$1; OUT=$2; N=${3:-2}
mkdir -p $OUT
for i in $(seq 1 $N); do
  for v in base new; do
    uptime | tee -a $OUT/uptime.txt
    PYTHONPATH=$R/tree_$v/python:$R/tree_$v flock /work/timing.lock \
      python -m chord bench --suites kernels --shapes 1x4096x4096,1x8192x8192 --mixes mix3 --paths act8 \
      --baselines "" --threads 1,2 --stat min --max-time 1.0 --no-plots --out $OUT/${v}_$i > $OUT/${v}_$i.log 2>&1
    grep -E "chord|roof" $OUT/${v}_$i.log | grep -v "^#" | head -20 | sed "s/^/$v $i: /"
  done
done
