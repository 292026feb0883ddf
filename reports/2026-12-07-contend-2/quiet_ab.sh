#!/bin/bash
# usage: quiet_ab.sh OUTDIR ROUNDS tag=TREE ...  -- uncontended 2-thread rows, trees alternated round by round
out=$1; rounds=$2; shift 2
hi=/work/wt-contend/reports/2026-12-07-pool/pool_hi.sh
mkdir -p "$out"
bash /work/pause_training.sh; trap 'bash /work/resume_training.sh' EXIT
for r in $(seq 1 $rounds); do
  for tv in "$@"; do
    tag=${tv%%=*}; tree=${tv#*=}
    echo "$tag $r $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log.txt"
    (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites kernels \
      --shapes 1x4096x4096,1x8192x8192,16x4096x4096 --mixes mix3 --paths act8 --baselines torch_fp32 \
      --threads 2 --stat min --max-time 0.5 --no-plots --out "$out/k_${tag}_$r" > "$out/k_${tag}_$r.log" 2>&1)
    (cd "$tree" && PYTHONPATH=$tree/python:$tree $hi python -m chord bench --suites scoring,adaptation --models sasrec \
      --adapt-shapes 4096x4096 --mixes mix3 --baselines torch_fp32 --threads 2 --stat min --max-time 0.5 --no-plots \
      --out "$out/s_${tag}_$r" > "$out/s_${tag}_$r.log" 2>&1)
  done
done
echo "end $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/log.txt"
