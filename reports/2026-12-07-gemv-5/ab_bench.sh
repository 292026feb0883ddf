#!/bin/bash
# Alternated `chord bench` runs (M = 1, act8 mix3, 8192² and 4096²) of two trees, each with its
# own built extension (python setup.py build_ext --inplace):
#   ab_bench.sh chord OUT ROUNDS TREE_A TREE_B   chord alone, 1 thread (MINR=400: >= 400 rounds)
#   ab_bench.sh peer  OUT ROUNDS TREE_A TREE_B   with torch fp32 and the ggml peer, 1 and 2 threads
MODE=$1; OUT=$2; N=$3; A=$4; B=$5; HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$MODE" = peer ]; then
  ARGS=(--baselines torch_fp32 --peer ggml --threads 1,2 --max-time 0.5)
else
  ARGS=(--baselines "" --threads 1 --max-time 3.0 --min-rounds "${MINR:-7}")
fi
mkdir -p "$OUT"
for r in $(seq "$N"); do
  for t in A B; do
    T=$A; [ $t = B ] && T=$B
    PYTHONPATH=$T/python:$T python -m chord bench --suites kernels --shapes 1x8192x8192,1x4096x4096 --mixes mix3 \
      --paths act8 --stat min --no-plots "${ARGS[@]}" --out "$OUT/${t}_$r" > "$OUT/${t}_$r.log" 2>&1
    echo "$r $t load $(cut -d' ' -f1 /proc/loadavg) $(python3 "$HERE/show.py" "$OUT/${t}_$r")"
  done
done
