# Shared by scripts/reproduce_*.sh: run the numbered commands of the array CMDS.
# usage (sourced): source scripts/lib/run_commands.sh "$0" "$@"
#   no arguments: print the calling script's header; --list: the numbered commands;
#   N [N ...]: run those commands in order; --all: run every command in order.
script=$1
shift
if [[ $# -eq 0 ]]; then sed -n '2,8p' "$script"; exit 2; fi
if [[ $1 == --list ]]; then
  for i in "${!CMDS[@]}"; do echo "$((i + 1)): ${CMDS[$i]}"; done
  exit 0
fi
sel=("$@")
[[ $1 == --all ]] && sel=($(seq 1 ${#CMDS[@]}))
for n in "${sel[@]}"; do
  echo "+ ${CMDS[$((n - 1))]}" >&2
  eval "${CMDS[$((n - 1))]}"
done
