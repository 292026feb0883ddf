#!/bin/bash
# build.sh TREE(csrc dir) DRIVER.cpp OUT   (objects cached in OUT.obj; rebuilt when the source or any header is newer)
set -e
TREE=$1; DRV=$2; OUT=$3; OBJ=$OUT.obj; mkdir -p $OBJ
NEWEST_H=$(find "$TREE" -name '*.h' -o -name '*.inc' | xargs ls -t | head -1)
for f in "$TREE"/common/*.cpp "$TREE"/mp_linear/*.cpp "$DRV"; do
  o="$OBJ/$(basename "$f" .cpp).o"
  if [ -f "$o" ] && [ "$o" -nt "$f" ] && [ "$o" -nt "$NEWEST_H" ]; then continue; fi
  g++ -DNDEBUG -fwrapv -O3 -std=c++17 -Wno-unknown-pragmas -I"$TREE" -c "$f" -o "$o" &
  while [ "$(jobs -r | wc -l)" -ge "${JOBS:-2}" ]; do sleep 0.2; done
done
wait
g++ "$OBJ"/*.o -pthread -o "$OUT"
