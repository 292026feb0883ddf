#!/bin/bash
# ab.sh OUT ROUNDS: contended runs, interleaved (il) and row after row (seq) alternating, each under the timing lock
OUT=$1; N=${2:-3}; mkdir -p $OUT
for r in $(seq 1 $N); do
  for mode in il seq; do
    extra=""; [ $mode = seq ] && extra="--no-interleave-threads"
    echo "$(date +%T) $mode $r load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
    flock /work/timing.lock python -m chord bench --suites kernels,scoring,adaptation --shapes 1x4096x4096,16x4096x4096 \
      --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec --threads 1,2 --stat min --max-time 0.3 \
      --no-plots --contend $extra --out $OUT/${mode}_$r > $OUT/${mode}_$r.txt 2>&1
    echo "$(date +%T) $mode $r rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  done
done
