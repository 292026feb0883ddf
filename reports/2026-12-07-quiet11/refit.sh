set -x
cd /work/wt-lead
export PYTHONPATH=$PWD/python:$PWD
R=reports/2026-12-07-quiet11
mkdir -p $R
uptime; date; python setup.py build_ext --inplace -q > /work/quiet11/build0.log 2>&1; echo "build rc $?"
uptime; date; python tools/mp_linear_i8_costfit.py --out $R/costfit avx2 > $R/costfit.txt 2>&1; echo "fit rc $?"
uptime; date
