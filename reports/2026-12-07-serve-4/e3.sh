#!/bin/bash
# E3: A/B main vs branch, alternating: e3.sh TAG "loadgen args" [rounds]
tag=$1; args=$2; rounds=${3:-2}
for r in $(seq $rounds); do
  for side in main wt; do
    if [ $side = main ]; then root=/work/main; else root=/work/wt-serve; fi
    echo "== $side round $r"
    (cd $root && PYTHONPATH=$root/python:$root timeout 300 ${PRE} python -m chord.serve.loadgen --spawn $args --out /tmp/serve4/${tag}_${side}_$r.json 2>&1 | grep -E "c=|check|knee at")
  done
done
