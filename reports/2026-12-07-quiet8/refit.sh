set -x
cd /work/wt-lead
export PYTHONPATH=$PWD/python:$PWD
R=reports/2026-12-07-quiet8
mkdir -p $R/costfit
uptime; date; python tools/mp_linear_i8_costfit.py --out $R/costfit avx512_vnni avx2 > $R/costfit/measure.log 2>&1; echo "costfit rc $?"
uptime; date; echo REFITDONE
