#!/bin/bash
# ab_bench.sh OUT ROUNDS: the brief's bench command, old tree (main's pool) and new tree alternating
# (order flips each round), each run under the timing lock; load logged before/after each run.
OUT=$1; N=${2:-2}; mkdir -p $OUT
OLD=${OLD:?the old tree, built}; NEW=${NEW:?the new tree, built}
for r in $(seq 1 $N); do
  order="old new"; [ $((r % 2)) = 0 ] && order="new old"
  for v in $order; do
    T=$OLD; [ $v = new ] && T=$NEW
    echo "$(date +%T) $v $r start load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
    PYTHONPATH=$T/python:$T flock /work/timing.lock python -m chord bench --suites kernels \
      --shapes 16x4096x4096,1x4096x4096 --mixes mix3 --paths act8 --baselines torch_dynamic_int8 \
      --threads 1,2 --peer ggml --stat min --no-plots --out $OUT/${v}_$r > $OUT/${v}_$r.txt 2>&1
    echo "$(date +%T) $v $r rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  done
done
