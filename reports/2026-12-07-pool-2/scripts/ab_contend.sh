#!/bin/bash
# ab_contend.sh OUT ROUNDS: the contended suite (reports/2026-12-07-contend-3/ab.sh's command, interleaved),
# old tree and new tree alternating, each run under the timing lock.
OUT=$1; N=${2:-2}; mkdir -p $OUT
OLD=${OLD:?the old tree, built}; NEW=${NEW:?the new tree, built}
for r in $(seq 1 $N); do
  order="old new"; [ $((r % 2)) = 0 ] && order="new old"
  for v in $order; do
    T=$OLD; [ $v = new ] && T=$NEW
    echo "$(date +%T) $v $r start load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
    PYTHONPATH=$T/python:$T flock /work/timing.lock python -m chord bench --suites kernels,scoring,adaptation \
      --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec \
      --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out $OUT/${v}_$r > $OUT/${v}_$r.txt 2>&1
    echo "$(date +%T) $v $r rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  done
done
