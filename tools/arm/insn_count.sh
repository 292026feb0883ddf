#!/usr/bin/env bash
# Instructions of one mp_linear act8 GEMV call (M=1, K=N=512) on AArch64 under qemu-aarch64:
# one instruction per translation block (-singlestep) and exec logging (-d nochain,exec); the
# logged count with 2 calls minus the count with 1 call is one call. Same shapes and mixes as
# the x86 callgrind gate (benchmarks/baselines/callgrind.json: mp_linear/<mix>/M1xK512xN512/act8).
#   tools/arm/insn_count.sh BUILD_DIR        (an aarch64 build of tools/arm/ci.sh)
set -euo pipefail
B="$1"
count() {  # mix isa reps -> logged instructions (the log is streamed through grep, never stored)
  local fifo; fifo="$(mktemp -u)"; mkfifo "$fifo"
  grep -c '^Trace' <"$fifo" &
  local g=$!
  qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu -singlestep -d nochain,exec -D "$fifo" \
    "$B/chord_insn_count" "$1" "$2" "$3" >/dev/null
  wait "$g"
  rm -f "$fifo"
}
printf "%-6s %-13s %12s %10s\n" mix isa insns/call per_weight
for mix in u4 u8 mix3; do
  for isa in neon_dotprod neon; do
    a=$(count "$mix" "$isa" 1); b=$(count "$mix" "$isa" 2)
    awk -v m="$mix" -v i="$isa" -v d=$((b - a)) 'BEGIN { printf "%-6s %-13s %12d %10.3f\n", m, i, d, d / 262144 }'
  done
done
