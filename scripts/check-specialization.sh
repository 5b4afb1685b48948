#!/bin/sh
# Checks that a release binary linking Nabla holds Float and Double specializations of the
# generic functions that training runs hot: unspecialized, they pass every scalar through value
# witnesses (the character LSTM once spent 4.5% of a step filling zeros that way).
#
#   sh scripts/check-specialization.sh .build/release/nabla
#
# `make bench` runs it on the benchmark binary. Exit 1 names every function without them. A small
# function's specialization may be inlined into its generic entry point, leaving no symbol, and
# an @inlinable one is specialized where it is inlined: the list holds neither.
set -eu
binary=${1:?usage: check-specialization.sh BINARY}
symbols=$(nm --defined-only "$binary" | awk '{print $3}' | swift demangle)
missing=0
while IFS= read -r function; do
  [ -z "$function" ] && continue
  name=$(printf '%s' "$function" | sed 's/\./\\./g')
  for scalar in Float Double; do
    # "generic specialization <Swift.Float> of Nabla.f(", "… <serialized, Swift.Float> of static
    # Nabla.T.f<A …>(", or a merged one, which stands for the scalars whose code it folded.
    printf '%s\n' "$symbols" | grep -qE \
      "(specialization <(serialized, )?Swift\.$scalar> of (static )?|merged generic specialization <.*> of (static )?)Nabla\.$name[(<]" \
      || { echo "check-specialization: no $scalar specialization of Nabla.$function in $binary"; missing=1; }
  done
done <<'LIST'
Tensor.init
matmul
linear
conv2d
conv2dBackwardFilter
CrossEntropyLoss.valueAndGradient
CrossEntropyLoss.callAsFunction
MeanSquaredErrorLoss.valueAndGradient
BitsPerCharacter.add
FashionMNIST.load
Dense.manualForward
Dense.manualBackward
Conv2D.manualForward
Conv2D.manualBackward
ConvTranspose2D.manualForward
ConvTranspose2D.manualBackward
RecurrentLayer.manualForward
RecurrentLayer.backward
LSTM.backward
TensorOperations.matmul
TensorOperations.linear
TensorOperations.lstmStep
TensorOperations.gruStep
GradientTape.gradient
LIST
[ "$missing" = 0 ] && echo "check-specialization: every listed function has Float and Double specializations in $binary"
exit "$missing"
