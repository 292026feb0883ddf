#!/bin/bash
# same_code.sh A.o B.o: every tile_vnni instantiation of A also in B, instruction by instruction
# (jump targets and rip-relative addresses masked); lists the tiles only B has.
dis() {
  objdump -d --no-show-raw-insn --disassemble="$2" "$1" | grep -P '^\s+[0-9a-f]+:' |
    sed 's/^ *[0-9a-f]*://; s/[0-9a-f]\{3,\} <[^>]*>/ADDR/g; s/0x[0-9a-f]*(%rip)/RIP/g'
}
name() { c++filt "$1" | sed 's/chord::mpl::(anonymous namespace):://g' | grep -o 'tile_vnni<[^(]*>'; }
for s in $(nm "$1" | grep tile_vnni | awk '{print $3}' | sort -u); do
  if nm "$2" | awk '{print $3}' | grep -qx "$s"; then
    echo "$(name "$s"): $(dis "$1" "$s" | wc -l) instructions, $(diff <(dis "$1" "$s") <(dis "$2" "$s") | grep -c '^[<>]') differ"
  else
    echo "$(name "$s"): missing in $2"
  fi
done
for s in $(nm "$2" | grep tile_vnni | awk '{print $3}' | sort -u); do
  nm "$1" | awk '{print $3}' | grep -qx "$s" || echo "only in $2: $(name "$s")"
done
