# A/B of the e2e suite: three builds interleaved, two rounds (busy machine: compare within a round)
#   base = 732f26e (the quiet9 state), old = main 3982e48 (before this branch), new = smallop
set -u
OUT=/work/smallop_runs/ab
mkdir -p $OUT
for r in 1 2; do
  for t in base old new; do
    case $t in base) d=/work/smallop_runs/base;; old) d=/work/smallop_runs/old2;; new) d=/work/wt-smallop;; esac
    echo "== round $r $t $(date +%T) $(uptime | sed 's/.*load/load/')"
    (cd $d && PYTHONPATH=$d/python:$d python -m chord bench --suites e2e --threads 1,2 --stat min --no-plots --out $OUT/${t}_$r > $OUT/${t}_$r.txt 2>&1)
    grep -A6 "### e2e: min" $OUT/${t}_$r.txt | tail -4
  done
done
