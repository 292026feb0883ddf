#!/bin/bash
# xbuild.sh NAME "DEFS" [files...]: recompile the given csrc files (default: the gemm i8 pair) of the
# tree with extra -D flags into $OUT/obj/NAME/ and link them with the tree's other objects (from
# python setup.py build_ext) into $OUT/so/NAME.so (OUT default /tmp/avx2gemm3). Experiment switches: experiments.patch
set -e
cd "$(dirname "$0")/../.."; OUT=${OUT:-/tmp/avx2gemm3}
NAME=$1; DEFS=$2; shift 2
FILES=${@:-csrc/mp_linear/mp_linear_gemm_i8.cpp csrc/mp_linear/mp_linear_gemm_i8_avx2.cpp}
PY=/root/.pyenv/versions/3.11.7
CF="-DNDEBUG -fwrapv -O3 -Wall -fPIC -Icsrc -I$PY/lib/python3.11/site-packages/pybind11/include -I$PY/include/python3.11 -fvisibility=hidden -g0 -std=c++17 -Wno-unknown-pragmas"
OD=$OUT/obj/$NAME; mkdir -p $OD $OUT/so
OBJS=$(find build/temp.linux-x86_64-cpython-311/csrc -name '*.o' | sort)
LINK=""
for o in $OBJS; do
  src=csrc/${o#build/temp.linux-x86_64-cpython-311/csrc/}; src=${src%.o}.cpp
  if echo " $FILES " | grep -q " $src "; then
    no=$OD/$(basename $o); g++ $CF $DEFS -c $src -o $no; LINK="$LINK $no"
  else LINK="$LINK $o"; fi
done
g++ -O3 -shared $LINK -pthread -o $OUT/so/$NAME.so
echo built $OUT/so/$NAME.so
