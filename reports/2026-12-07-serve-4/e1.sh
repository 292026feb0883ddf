#!/bin/bash
# E1: timeline of 1 worker, admission off (0) / on (64): c=64 for 3 s then c=256 for 3 s
cd /work/wt-serve; export PYTHONPATH=$PWD/python
for mi in $*; do
  port=$((20000 + RANDOM % 10000))
  nice -n -15 python /tmp/serve4/trace_server.py $port $mi /tmp/serve4/e1_$mi.json &
  spid=$!
  for i in $(seq 60); do curl -s localhost:$port/healthz >/dev/null && break; sleep 0.5; done
  echo "== max_inflight $mi"
  nice -n -15 python -m chord.serve.loadgen --url http://127.0.0.1:$port --concurrency 64 256 --seconds 3 2>&1 | grep -v knee
  kill -INT $spid; wait $spid
  python /tmp/serve4/analyze.py /tmp/serve4/e1_$mi.json 0.5 2.8
  python /tmp/serve4/analyze.py /tmp/serve4/e1_$mi.json 3.6 5.8
done
