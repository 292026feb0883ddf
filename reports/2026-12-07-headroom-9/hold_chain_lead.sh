#!/bin/bash
# Hold persona7's chain (pid 2417) past its 19:15 kill so CHORD seed 43 can finish; resume it once s43 ends
# or at 19:29 at the latest (then the chain's own check stops s43 before the quiet run at 19:32).
G=$(cat /work/training.pgid)
echo "$(date +%T) hold: s43 pgid $G" >> /work/lead_runs/hold.log
while [ $(date +%s) -lt $(date -d 19:13:30 +%s) ]; do sleep 10; done
kill -STOP 2417; echo "$(date +%T) chain stopped" >> /work/lead_runs/hold.log
while kill -0 -- -$G 2>/dev/null && [ $(date +%s) -lt $(date -d 19:29 +%s) ]; do sleep 5; done
kill -CONT 2417; echo "$(date +%T) chain resumed (s43 alive: $(kill -0 -- -$G 2>/dev/null && echo yes || echo no))" >> /work/lead_runs/hold.log
