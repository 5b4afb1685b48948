// Elementwise kernels and vector math over buffers, per level (see CNablaKernels.h). The Swift
// side (VectorMath.swift, Elementwise.swift) splits large buffers across threads and picks the
// level; every function here is bit-identical to its portable Swift counterpart.
#ifndef CNABLA_ELEMENTWISE_H
#define CNABLA_ELEMENTWISE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Vector math (VectorMath.swift): Cephes expf and tanhf, Numerical Recipes' erfcc

/// `output[i] = f(input[i])` for `count` floats, with f one of exp, tanh, sigmoid
/// `1 / (1 + e⁻ˣ)`, erfc, exact GELU `x · erfc(−x/√2) / 2` and its derivative
/// `Φ(x) + x · φ(x)`; `output` may be `input`. The same bits as the portable `VectorMath` lanes.
#define NABLA_VECTOR_MATH(NAME, LEVEL) \
    void nabla_##NAME##_f32_##LEVEL(const float *input, float *output, int64_t count);
#define NABLA_VECTOR_MATH_ALL(LEVEL) \
    NABLA_VECTOR_MATH(exp, LEVEL) NABLA_VECTOR_MATH(tanh, LEVEL) \
    NABLA_VECTOR_MATH(sigmoid, LEVEL) NABLA_VECTOR_MATH(erfc, LEVEL) \
    NABLA_VECTOR_MATH(gelu, LEVEL) NABLA_VECTOR_MATH(gelu_derivative, LEVEL)
NABLA_VECTOR_MATH_ALL(avx2)
NABLA_VECTOR_MATH_ALL(avx512)

/// Softmax over each of `rows` rows of `columns` floats (`input` and `output` `[rows, columns]`):
/// `exp(x − max) / Σ exp(x − max)`, NaN throughout a row holding NaN or whose maximum is
/// infinite; the same bits as SoftmaxKernels' portable row.
#define NABLA_SOFTMAX_ROWS(LEVEL) \
    void nabla_softmax_rows_f32_##LEVEL(const float *input, float *output, int64_t rows, \
        int64_t columns);
NABLA_SOFTMAX_ROWS(avx2)
NABLA_SOFTMAX_ROWS(avx512)

// MARK: - Max pooling (PoolingKernels.swift)

/// The 2×2 max pool with column stride 2 and no padding of `planes` NCHW planes
/// `[planes, height, width]` with row stride `strideHeight`: each window's maximum into `output`
/// and its offset into `source` into `indices`, both `[planes, outputHeight, outputWidth]`
/// (`2·outputWidth ≤ width`). Ties keep the first tap in row-major window order; a NaN wins
/// unless a NaN came first.
#define NABLA_MAX_POOL_2X2(LEVEL) \
    void nabla_max_pool_2x2_f32_##LEVEL(const float *source, int64_t planes, int64_t height, \
        int64_t width, int64_t outputHeight, int64_t outputWidth, int64_t strideHeight, \
        float *output, int64_t *indices);
NABLA_MAX_POOL_2X2(avx2)
NABLA_MAX_POOL_2X2(avx512)

// MARK: - Recurrent cells (RecurrentKernels.swift)

/// An LSTM cell's backward step over `batch` rows of `h` units: from the gates' activations
/// `gates` (`[batch, 4h]`, i f g o), `saved` = tanh(c'), the previous cell state, ∂L/∂h' in
/// `dHidden` and ∂L/∂c' in `dCell` (all `[batch, h]`), writes ∂L/∂(gate pre-activations) into
/// `dGates` (`[batch, 4h]`), ∂L/∂c into `dCell`, and zeros `dHidden`. The same bits as
/// LSTMCellKernels' portable loop.
#define NABLA_LSTM_BACKWARD_STEP(S, SUFFIX, LEVEL) \
    void nabla_lstm_backward_step_##SUFFIX##_##LEVEL(const S *gates, const S *saved, \
        const S *previousCell, S *dHidden, S *dCell, S *dGates, int64_t batch, int64_t h);
NABLA_LSTM_BACKWARD_STEP(float, f32, avx2)
NABLA_LSTM_BACKWARD_STEP(float, f32, avx512)
NABLA_LSTM_BACKWARD_STEP(double, f64, avx2)
NABLA_LSTM_BACKWARD_STEP(double, f64, avx512)

// MARK: - Adam (OptimizerKernels.swift)

/// Adam's update without weight decay or AMSGrad over `count` parameters, in place:
/// `m = β₁m + (1 − β₁)g`, `v = β₂v + (1 − β₂)g²`, `p −= stepSize·m / (√v / correction2Root + ε)`.
#define NABLA_ADAM(S, SUFFIX, LEVEL) \
    void nabla_adam_##SUFFIX##_##LEVEL(S *parameters, const S *gradient, S *firstMoment, \
        S *secondMoment, int64_t count, S stepSize, S correction2Root, S beta1, S beta2, \
        S epsilon);
NABLA_ADAM(float, f32, avx2)
NABLA_ADAM(float, f32, avx512)
NABLA_ADAM(double, f64, avx2)
NABLA_ADAM(double, f64, avx512)

#ifdef __cplusplus
}
#endif

#endif
