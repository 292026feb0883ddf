#!/bin/bash
# BASE: a checkout of the base commit with its extension built (python/ and chord_kernels/); NEW: this tree
for rep in 1 2; do for tree in base new; do
  if [ $tree = base ]; then P=$BASE/python:$BASE; else P=$NEW/python:$NEW; fi
  echo "== $tree rep $rep load:$(uptime | sed 's/.*load average://')"
  PYTHONPATH=$P flock ${LOCK:-/tmp/timing.lock} timeout 200 python $(dirname "$0")/pieces.py | head -6
done; done
