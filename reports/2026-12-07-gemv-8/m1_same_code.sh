#!/bin/bash
# m1_same_code.sh A.o B.o: compare the M = 1 tile functions (tile_vnni<V512, BITS, R, 1, NA>)
# of two builds of mp_linear_gemv_avx512vnni.o, instruction by instruction (jump targets and
# rip-relative addresses masked). B has the MULTI template argument (false at M = 1).
dis() {
  objdump -d --no-show-raw-insn --disassemble="$2" "$1" | grep -P '^\s+[0-9a-f]+:' |
    sed 's/^ *[0-9a-f]*://; s/[0-9a-f]\{3,\} <[^>]*>/ADDR/g; s/0x[0-9a-f]*(%rip)/RIP/g'
}
for s in $(nm "$1" | grep tile_vnni | awk '{print $3}'); do
  d=$(c++filt "$s" | grep -o "V512, [0-9], [0-9], 1, [0-9]>")
  [ -z "$d" ] && continue
  want="${d%>}, false>("
  t=$(nm "$2" | awk '{print $3}' | while read -r x; do c++filt "$x" | grep -qF "$want" && echo "$x"; done | head -1)
  echo "tile_vnni<$d: $(dis "$1" "$s" | wc -l) instructions, $(diff <(dis "$1" "$s") <(dis "$2" "$t") | grep -c '^[<>]') differ"
done
