#!/bin/bash
# usage: contended.sh TREE OUTDIR RUNS  -- the quiet8 contended line, RUNS times, in pool_hi.sh, training paused
tree=$1; out=$2; runs=$3
hi=/work/wt-contend/reports/2026-12-07-pool/pool_hi.sh
mkdir -p "$out"
bash /work/pause_training.sh; trap 'bash /work/resume_training.sh' EXIT
for r in $(seq 1 $runs); do
  echo "run $r $(date +%T) $(uptime)" >> "$out/log.txt"
  (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites kernels,scoring,adaptation \
      --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec \
      --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out "$out/${4:-run}_$r" > "$out/${4:-run}_$r.log" 2>&1)
done
echo "end $(date +%T) $(uptime)" >> "$out/log.txt"
