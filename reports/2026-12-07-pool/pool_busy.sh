#!/bin/bash
taskset -c 1 python -c "while 1: pass" &
B=$!
sleep 0.3
"$@"
kill $B
