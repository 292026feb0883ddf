#!/bin/bash
# incremental build of chord_kernels._cpu from SRC tree into OUT dir (objects cached per OUT, -MMD deps)
set -e
SRC=$1; OUT=$2; mkdir -p $OUT/obj
PYINC=$(python -c "import sysconfig;print(sysconfig.get_paths()['include'])")
PBINC=$(python -c "import pybind11;print(pybind11.get_include())")
FL="-DNDEBUG -fwrapv -O3 -Wall -fPIC -I$SRC/csrc -I$PBINC -I$PYINC -fvisibility=hidden -g0 -std=c++17 -Wno-unknown-pragmas -MMD $CXXEXTRA"
objs=(); pids=()
stale() {  # $1 obj, $2 src
  [ ! -f $1 ] && return 0
  [ $2 -nt $1 ] && return 0
  local d=${1%.o}.d
  if [ -f $d ]; then
    for h in $(sed -e 's/\\$//' -e 's/^.*://' $d); do [ $h -nt $1 ] && return 0; done
    return 1
  fi
  [ -n "$(find $SRC/csrc -name '*.h' -newer $1 -o -name '*.inc' -newer $1 | head -1)" ] && return 0
  return 1
}
for f in $(cd $SRC && find csrc -name '*.cpp' -not -path 'csrc/capi/*' | sort); do
  o=$OUT/obj/$(echo $f | tr / _).o
  objs+=($o)
  if stale $o $SRC/$f; then
    echo "cc $f"
    g++ $FL -c $SRC/$f -o $o -MF ${o%.o}.d &
    pids+=($!)
    if [ ${#pids[@]} -ge ${JOBS:-2} ]; then wait ${pids[0]}; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait $p; done
g++ -shared -pthread ${objs[@]} -o $OUT/_cpu.so
echo linked $OUT/_cpu.so
