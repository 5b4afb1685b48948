#!/bin/sh
# Seconds per WGAN-GP iteration on Fashion-MNIST: Nabla (manual and autodiff backward) against
# PyTorch (wgan_gp_images.py), the same networks, batch and recipe, at 1 and 2 threads,
# interleaved in one sitting. Usage, from the repository's root, after `make build`:
#
#   sh Benchmarks/torch/compare_wgan_images.sh [iterations=30] [rounds=2]
#
# Uses the PyTorch of Benchmarks/.build/torch-venv (see Benchmarks/README.md).
set -eu
iterations=${1:-30}
rounds=${2:-2}
nabla=.build/release/nabla
python=Benchmarks/.build/torch-venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-6s %-8s %-18s %s\n' round threads run "s/iteration"
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    for path in manual autodiff; do
      flag=$([ "$path" = autodiff ] && echo --autodiff || true)
      seconds=$(OPENBLAS_NUM_THREADS=$threads $nabla wgan-gp --data fashion-mnist --iterations "$iterations" \
        --score-samples 500 --classifier "$work/classifier.safetensors" $flag \
        | sed -n 's/.*(\([0-9.]*\) s per iteration).*/\1/p')
      printf '%-6s %-8s %-18s %s\n' "$round" "$threads" "nabla $path" "$seconds"
    done
    seconds=$(cd Benchmarks/torch && "../../$python" wgan_gp_images.py --iterations "$iterations" --threads "$threads" \
      --sample-count 500 --samples "$work/torch.safetensors" | sed -n 's/.*"seconds_per_iteration": \([0-9.]*\).*/\1/p')
    printf '%-6s %-8s %-18s %s\n' "$round" "$threads" "pytorch" "$seconds"
  done
done
