#!/bin/bash
# build_driver.sh TREE OUT: compiles gemm_i8_driver.cpp with TREE's csrc/common and csrc/mp_linear
# sources (the flags setup.py uses; ~2 min on a quiet machine). Example:
#   bash reports/2026-12-07-gemm-2/build_driver.sh . /tmp/drv_new
#   chrt -f 50 taskset -c 1 /tmp/drv_new 256 1 20
set -e
TREE=$(cd "$1" && pwd); OUT=$2; HERE=$(cd "$(dirname "$0")" && pwd)
OBJ=$(mktemp -d)
for f in "$TREE"/csrc/common/*.cpp "$TREE"/csrc/mp_linear/*.cpp "$HERE"/gemm_i8_driver.cpp; do
  g++ -DNDEBUG -fwrapv -O3 -std=c++17 -Wno-unknown-pragmas -I"$TREE"/csrc -c "$f" -o "$OBJ/$(basename "$f" .cpp).o" &
  while [ "$(jobs -r | wc -l)" -ge "${JOBS:-2}" ]; do sleep 0.2; done
done
wait
g++ "$OBJ"/*.o -pthread -o "$OUT"
rm -rf "$OBJ"
