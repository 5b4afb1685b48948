#!/bin/sh
# Seconds per training step of the character language models: Nabla (manual and autodiff
# backward) against PyTorch (char_lm.py), the same models, batches and recipe, at 1 and 2
# threads, interleaved in one sitting. Usage, from the repository's root, after `make build`:
#
#   sh Benchmarks/torch/compare_char_lm.sh [steps=60] [rounds=2] [models="lstm transformer"]
#
# Each run trains `steps` steps of one epoch (then validates, which is not timed).
# Uses the PyTorch of Benchmarks/.build/torch-venv (see Benchmarks/README.md).
set -eu
steps=${1:-60}
rounds=${2:-2}
models=${3:-lstm transformer}
nabla=.build/release/nabla
python=Benchmarks/.build/torch-venv/bin/python

# "12.3s training (60 steps)" or "2m 43s training (724 steps)" → seconds per step.
per_step() {
  sed -n 's/.*, \([0-9m .]*s\) training (\([0-9]*\) steps).*/\1 \2/p' | awk '{
    seconds = 0
    for (i = 1; i < NF; i++) { v = $i; if (v ~ /m$/) seconds += 60 * v; else seconds += v }
    printf "%.4f\n", seconds / $NF }'
}

printf '%-6s %-12s %-8s %-16s %s\n' round model threads run "s/step"
for round in $(seq "$rounds"); do
  for model in $models; do
    for threads in 1 2; do
      for path in manual autodiff; do
        flag=$([ "$path" = autodiff ] && echo --autodiff || true)
        seconds=$(OPENBLAS_NUM_THREADS=$threads $nabla text --model "$model" --epochs 1 \
          --steps-per-epoch "$steps" --threads "$threads" --sample-length 0 $flag | per_step)
        printf '%-6s %-12s %-8s %-16s %s\n' "$round" "$model" "$threads" "nabla $path" "$seconds"
      done
      seconds=$(OPENBLAS_NUM_THREADS=$threads "$python" Benchmarks/torch/char_lm.py --model "$model" \
        --epochs 1 --steps-per-epoch "$steps" --threads "$threads" | per_step)
      printf '%-6s %-12s %-8s %-16s %s\n' "$round" "$model" "$threads" "pytorch" "$seconds"
    done
  done
done
