#!/bin/bash
# E2: event timeline, 1 worker; args: concurrency seconds max_inflight... (extra json in $EXTRA)
cd /work/wt-serve; export PYTHONPATH=$PWD/python
c=$1; sec=$2; shift 2; tag=$c
for mi in $*; do
  port=$((20000 + RANDOM % 10000))
  ${PRE} python /tmp/serve4/trace2.py $port $mi /tmp/serve4/e2_${mi}_$c.json "${EXTRA:-{\}}" &
  spid=$!
  for i in $(seq 60); do curl -s localhost:$port/healthz >/dev/null && break; sleep 0.5; done
  echo "== max_inflight $mi $EXTRA"
  ${PRE} python -m chord.serve.loadgen --url http://127.0.0.1:$port --concurrency $c --seconds $sec 2>&1 | grep "c="
  kill -INT $spid; wait $spid
  python /tmp/serve4/an2.py /tmp/serve4/e2_${mi}_$c.json 0.5 $(python -c "print($sec-0.3)")
done
