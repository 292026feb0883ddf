# backbone-only forward, CPU time (thread_time), per tree, interleaved, 2 rounds
for r in 1 2; do for t in base old new; do
  case $t in base) d=/work/smallop_runs/base;; old) d=/work/smallop_runs/old2;; new) d=/work/wt-smallop;; esac
  echo "== round $r $t $(uptime | sed 's/.*load/load/')"
  for th in 1 2; do ck=cpu; [ $th = 2 ] && ck=wall; (cd $d && CLK=$ck PYTHONPATH=$d/python:$d python /work/smallop_runs/e2e_split.py $th 4 150 | tail -3); done
done; done
