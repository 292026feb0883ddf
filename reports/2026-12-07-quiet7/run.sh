set -x
cd "$(git rev-parse --show-toplevel)"
export PYTHONPATH=$PWD/python:$PWD
R=reports/2026-12-07-quiet7
mkdir -p $R
uptime; date; python setup.py build_ext --inplace -q --force > $R/build.log 2>&1; echo "build rc $?"
uptime; date; python tools/regen_headline.py --out reports/2026-12-07-bench-quiet7 > $R/headline.log 2>&1; echo "headline rc $?"
for r in 1 2; do uptime; date; python -m chord bench --suites kernels --shapes 1x8192x8192,1x4096x4096 --mixes mix3 --paths act8 --baselines torch_fp32,torch_dynamic_int8 --peer ggml --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/m1_ggml_$r > $R/m1_ggml_$r.txt 2>&1; echo "m1 $r rc $?"; python reports/2026-12-07-roof-2/show.py $R/m1_ggml_$r > $R/m1_ggml_${r}_show.txt 2>&1; done
uptime; date; python -m chord bench --suites kernels --shapes 16x4096x4096,256x4096x4096 --mixes mix3 --paths act8,exact --baselines torch_dynamic_int8,torch_fp32 --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/gemm > $R/gemm.txt 2>&1; echo "gemm rc $?"
uptime; date; SHAPES=8192x8192 MIXES=u4,u8,mix3 PATHS=direct,panel BUDGET=0.3 python reports/2026-12-07-gemv-8/bench_m.py > $R/gemv8_m.txt 2>&1; echo "gemv8 rc $?"
uptime; date; python -m chord bench --suites e2e,scoring --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/e2e > $R/e2e.txt 2>&1; echo "e2e rc $?"
uptime; date; for r in 1 2; do python -m chord bench --suites kernels,scoring,adaptation --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out $R/contended_$r > $R/contended_$r.txt 2>&1; done; python reports/2026-12-07-contend/show_ab.py $R/contended_1 $R/contended_2 > $R/contended.txt 2>&1; echo "contend rc $?"
uptime; date; python -m chord bench --grid tests/bench/gate/ci.toml --json tests/bench/gate/ci_ratios.json --no-plots > $R/ci_ratios.txt 2>&1; echo "ratios rc $?"
uptime; date; python -m chord bench --callgrind > $R/callgrind.txt 2>&1; echo "callgrind rc $?"
uptime; date; echo ALLDONE
