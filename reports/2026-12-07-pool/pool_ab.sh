#!/bin/bash
# Exact-path A/B of two trees and pool variants, alternated, 3 rounds, under SCHED_FIFO (the
# machine was shared: FIFO keeps other sessions off our 2 cores while timing; drop `chrt -f 10`
# on a quiet machine). Usage: OLD=/work/wt-pool-old NEW=/work/main pool_ab.sh OUT.jsonl M REPS VARIANT...
# VARIANT: old | new | VAR=VALUE (new tree with that environment). Prints nothing; see OUT.jsonl.
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1; shift; M=$1; shift; REPS=$1; shift; ACT=${ACT:-0}
for round in 1 2 3; do
  for v in "$@"; do
    case $v in
      old) d=$OLD; envs="";;
      new) d=$NEW; envs="";;
      *) d=$NEW; envs="$v";;
    esac
    (cd $d && env PYTHONPATH=$d/python:$d CHORD_CPU_ISA=${ISA:-avx2} $envs chrt -f 10 python $HERE/pool_mb.py $M $REPS 1,2 8 $OUT $ACT "$v" > /dev/null)
  done
done
