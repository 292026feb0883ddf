#!/bin/bash
# A/B on a shared machine: admission off (--max-inflight 0: the server as before) vs on (64 = the
# default, max batch), same loadgen and knee level for both, interleaved; code: snapshot of 441c4ad
cd /tmp/serve-new && export PYTHONPATH=$PWD/python:$PWD
for w in 1 2; do
for k in 64 256; do
for mi in 0 64; do
  echo "=== workers $w knee $k max_inflight $mi  $(uptime)"
  python -m chord.serve.loadgen --spawn --workers $w --max-batch 64 --max-inflight $mi --concurrency 16 64 256 --seconds 5 --overload-factor 4 --knee-concurrency $k --out /tmp/serve_exp/ab2/w${w}_k${k}_mi${mi}.json
done; done; done
echo "=== harsh: retry after 1 ms, workers 1 knee 64 max_inflight 64  $(uptime)"
python -m chord.serve.loadgen --spawn --workers 1 --max-batch 64 --concurrency 16 64 256 --seconds 5 --overload-factor 4 --knee-concurrency 64 --ignore-retry-after --out /tmp/serve_exp/ab2/w1_k64_mi64_ignore_retry.json
echo "=== done $(uptime)"
