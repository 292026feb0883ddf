set -x
# The lead's quiet run, twelfth session (AVX2-only Zen3 host), after every helper stopped.
cd /work/wt-lead
export PYTHONPATH=$PWD/python:$PWD
R=reports/2026-12-07-quiet12
mkdir -p $R
uptime; date; python setup.py build_ext --inplace -q > /work/quiet12/build.log 2>&1; echo "build rc $?"
uptime; date; python tools/regen_headline.py --out reports/2026-12-07-bench-quiet12 > /work/quiet12/headline.log 2>&1; echo "headline rc $?"
python reports/2026-12-07-roof-2/show.py reports/2026-12-07-bench-quiet12 > $R/headline_roof_show.txt 2>&1
for r in 1; do uptime; date; python -m chord bench --suites kernels --shapes 1x8192x8192,1x4096x4096 --mixes mix3 --paths act8 --baselines torch_fp32,torch_dynamic_int8 --peer ggml --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/m1_ggml_$r > $R/m1_ggml_$r.txt 2>&1; echo "m1 $r rc $?"; python reports/2026-12-07-roof-2/show.py $R/m1_ggml_$r > $R/m1_ggml_${r}_show.txt 2>&1; done
uptime; date; python -m chord bench --suites kernels --shapes 16x4096x4096,32x4096x4096,64x4096x4096,256x4096x4096 --mixes mix3 --paths act8,exact --baselines torch_dynamic_int8,torch_fp32 --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/gemm > $R/gemm.txt 2>&1; echo "gemm rc $?"
uptime; date; python -m chord bench --suites e2e,scoring --threads 1,2 --stat min --max-time 1.0 --no-plots --out $R/e2e > $R/e2e.txt 2>&1; echo "e2e rc $?"
uptime; date; for r in 1 2 3 4; do python -m chord bench --suites kernels,scoring,adaptation --shapes 1x4096x4096,16x4096x4096 --mixes mix3 --paths exact,act8 --baselines torch_fp32 --models sasrec --threads 1,2 --stat min --max-time 0.3 --no-plots --contend --out $R/contended_$r > $R/contended_$r.txt 2>&1; done; python reports/2026-12-07-contend-3/show.py $R/contended_1 $R/contended_2 $R/contended_3 $R/contended_4 > $R/contended.txt 2>&1; echo "contend rc $?"
uptime; date; CHORD_CPU_ISA=avx2 python -m chord bench --grid tests/bench/gate/ci.toml --json tests/bench/gate/ci_ratios_avx2.json --no-plots > $R/ci_ratios.txt 2>&1; echo "ratios rc $?"
uptime; date; python -m chord bench --callgrind > $R/callgrind.txt 2>&1; echo "callgrind rc $?"
# regenerate only if kernels changed this session: the gate's baseline takes their counts once
uptime; date; python -m chord bench --callgrind --update-baseline > $R/callgrind_update.txt 2>&1; echo "callgrind update rc $?"
uptime; date; echo ALLDONE
