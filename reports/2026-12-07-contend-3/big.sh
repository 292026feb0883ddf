#!/bin/bash
# big.sh OUT ROUNDS: scoring at 1M items, B = 1 and 8 (chord_topk uses the pool there), contended, interleaved
OUT=$1; N=${2:-3}; mkdir -p $OUT
for r in $(seq 1 $N); do
  echo "$(date +%T) il $r load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
  flock /work/timing.lock python -m chord bench --grid /work/contend_runs/s11/scoring_big.toml --no-plots --contend \
    --out $OUT/il_$r > $OUT/il_$r.txt 2>&1
  echo "$(date +%T) il $r rc $? load $(cut -d' ' -f1-3 /proc/loadavg)" >> $OUT/log.txt
done
