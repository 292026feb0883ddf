#!/usr/bin/env bash
# Native (Python-free) builds of chord for the tests in tests/capi/:
#   tools/arm/ci.sh tools              ensure the cross toolchain + qemu-user are present
#   tools/arm/ci.sh x86 DIR            build libchord + example + fuzzer for this host
#                                      (ASan/UBSan when CHORD_SANITIZE=1) into DIR
#   tools/arm/ci.sh aarch64 DIR        cross-build the same for aarch64 into DIR
#   tools/arm/ci.sh qemu CPU BIN ARGS  run an aarch64 binary under qemu-aarch64 -cpu CPU
# CHORD_TARGETS="t1 t2" builds only those CMake targets (default: all).
# Missing tools (g++-aarch64-linux-gnu, qemu-user) are installed with apt-get only when absent
# and only under CI=true or CHORD_ARM_INSTALL=1; otherwise `tools` exits 3 ("missing"), which
# the tests turn into a skip outside CI and a failure under CI=true. Nothing is cached.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
JOBS="${CHORD_BUILD_JOBS:-2}"
SYSROOT=/usr/aarch64-linux-gnu

have_tools() {
  command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null && command -v cmake >/dev/null
}

ensure_tools() {
  have_tools && return 0
  if [[ "${CI:-}" != "true" && "${CHORD_ARM_INSTALL:-}" != "1" ]]; then
    echo "missing: g++-aarch64-linux-gnu / qemu-user / cmake (set CHORD_ARM_INSTALL=1 to apt-get them)" >&2
    return 3
  fi
  if ! command -v apt-get >/dev/null; then
    echo "missing: g++-aarch64-linux-gnu / qemu-user, and no apt-get to install them" >&2
    return 3
  fi
  local sudo=""
  [[ "$(id -u)" != 0 ]] && sudo="sudo"
  echo "installing g++-aarch64-linux-gnu qemu-user cmake (absent)" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    g++-aarch64-linux-gnu qemu-user cmake >&2
  have_tools
}

build() {  # build DIR [cmake args...]
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log" >&2; return 1; }
  # CHORD_TARGETS="a b": only those targets (and what they need), e.g. not the benchmark drivers
  # shellcheck disable=SC2086
  cmake --build "$dir" -j "$JOBS" ${CHORD_TARGETS:+--target $CHORD_TARGETS} >"$dir.build.log" 2>&1 \
    || { grep -E "error|Error" -A5 "$dir.build.log" | head -60 >&2; return 1; }
}

cmd="${1:-}"
shift || true
case "$cmd" in
  tools) ensure_tools ;;
  x86)
    mkdir -p "$(dirname "$1")"
    san=OFF; [[ "${CHORD_SANITIZE:-0}" == 1 ]] && san=ON
    build "$1" -DCHORD_SANITIZE="$san" ;;
  aarch64)
    ensure_tools
    mkdir -p "$(dirname "$1")"
    build "$1" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" ;;
  qemu)
    cpu="$1"; shift
    exec qemu-aarch64 -cpu "$cpu" -L "$SYSROOT" "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
