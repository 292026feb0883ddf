#!/bin/bash
# usage: m1.sh TREE OUTDIR RUNS TAG [shape]  -- contended act8 rows only
tree=$1; out=$2; runs=$3; tag=$4; shape=${5:-1x4096x4096}
hi=/work/wt-contend/reports/2026-12-07-pool/pool_hi.sh
mkdir -p "$out"
bash /work/pause_training.sh; trap 'bash /work/resume_training.sh' EXIT
for r in $(seq 1 $runs); do
  echo "$tag $r $(date +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log.txt"
  (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites kernels \
      --shapes $shape --mixes mix3 --paths act8 --baselines torch_fp32 \
      --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out "$out/${tag}_$r" > "$out/${tag}_$r.log" 2>&1)
done
