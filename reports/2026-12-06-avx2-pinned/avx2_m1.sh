# Run from this folder: MAIN=<main checkout, built> OLD=<422567f checkout, built> bash avx2_m1.sh > avx2_m1.jsonl
for r in 1 2 3; do
 for T in 1 2; do
  TREE=main_avx2 CHORD_CPU_ISA=avx2 T=$T PYTHONPATH=$MAIN/python:$MAIN SHAPES=1x4096x4096 MIXES=mix3 REPS=200 python percall.py
  TREE=422567f_auto T=$T PYTHONPATH=$OLD/python:$OLD SHAPES=1x4096x4096 MIXES=mix3 REPS=200 python percall.py
  TREE=422567f_avx2 CHORD_CPU_ISA=avx2 T=$T PYTHONPATH=$OLD/python:$OLD SHAPES=1x4096x4096 MIXES=mix3 REPS=200 python percall.py
  TREE=main_auto T=$T PYTHONPATH=$MAIN/python:$MAIN SHAPES=1x4096x4096 MIXES=mix3 REPS=200 python percall.py
 done
done
