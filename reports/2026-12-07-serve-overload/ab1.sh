#!/bin/bash
# A/B: admission off (--max-inflight 0, the old server) vs on (default), same loadgen, same session
cd /tmp/serve-new && export PYTHONPATH=$PWD/python:$PWD
for w in 1 2; do
for mi in 0 64; do
  uptime
  python -m chord.serve.loadgen --spawn --workers $w --max-batch 64 --max-inflight $mi --concurrency 16 64 256 --seconds 5 --overload-factor 4 --out /tmp/serve_exp/ab1_w${w}_mi${mi}.json
done; done
uptime
