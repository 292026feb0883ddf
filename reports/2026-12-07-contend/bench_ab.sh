#!/bin/bash
# Alternates two built trees (OLD, NEW) round by round: the full contended bench, then the
# uncontended act8 M=1 4096^2 rows, each in pool_hi.sh (own autogroup at nice -20: the shared
# machine's other sessions take little of the 2 cores; the busy loop still shares one).
# usage: OLD=/path NEW=/path bench_ab.sh OUTDIR ROUNDS
out=$1; rounds=$2
here=$(cd "$(dirname "$0")" && pwd)
hi=$here/../2026-12-07-pool/pool_hi.sh
mkdir -p "$out"; out=$(cd "$out" && pwd)
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    tree=$OLD; [ $v = new ] && tree=$NEW
    echo "== $v round $r $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> "$out/log.txt"
    (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites kernels,scoring,adaptation \
      --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec \
      --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out "$out/contended_${v}_$r" > "$out/contended_${v}_$r.log" 2>&1)
    (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites kernels --shapes 1x4096x4096 \
      --mixes mix3 --paths act8 --baselines torch_fp32 --threads 1,2 --stat min --max-time 0.5 --no-plots \
      --out "$out/quiet_${v}_$r" > "$out/quiet_${v}_$r.log" 2>&1)
  done
done
echo finished >> "$out/log.txt"
