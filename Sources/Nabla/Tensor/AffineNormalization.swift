// Normalization with an affine map at the tensor level, over Kernels/AffineNormalizationKernels.swift:
// what the graph's fused normalization op runs when no tape records its backward.

/// The shape of a fused normalization: `x` viewed as `[outer, groups, inner]`, each group
/// normalized over its `outer · inner` values, and `γ`, `β` per group or per inner position.
struct AffineNormalizationShape: Sendable {
    let outer: Int, groups: Int, inner: Int
    let layout: AffineNormalizationKernels.Layout
    /// The number of values of `γ` and `β`: `inner` per position; per group, `groups` or a
    /// divisor of it that the groups cycle through (the channels of instance normalization).
    let parameterCount: Int

    init(outer: Int, groups: Int, inner: Int, layout: AffineNormalizationKernels.Layout, parameterCount: Int? = nil) {
        (self.outer, self.groups, self.inner, self.layout) = (outer, groups, inner, layout)
        self.parameterCount = parameterCount ?? (layout == .perGroup ? groups : inner)
    }
}

/// `y = x̂ ⊙ γ + β` over the groups of `shape`, and each group's statistics `[groups, 4]`
/// (pivot, mean less the pivot, `(variance + ε)^(−1/2)`, biased variance) for the backward.
func affineNormalizationForward<Scalar: TensorScalar>(
    _ x: Tensor<Scalar>, scale: Tensor<Scalar>, offset: Tensor<Scalar>, shape: AffineNormalizationShape,
    epsilon: Scalar
) -> (output: Tensor<Scalar>, statistics: Tensor<Scalar>) {
    var output = Tensor<Scalar>.zeros(shape: x.shape)
    var statistics = Tensor<Scalar>.zeros(shape: [shape.groups, AffineNormalizationKernels.statisticCount])
    guard x.scalarCount > 0 else { return (output, statistics) }
    // Every tensor here is used after the kernel returns, which keeps its buffer alive.
    AffineNormalizationKernels.forward(
        x: x.unsafeScalars.baseAddress!, scale: scale.unsafeScalars.baseAddress!,
        offset: offset.unsafeScalars.baseAddress!, y: output.unsafeMutableScalars().baseAddress!,
        statistics: statistics.unsafeMutableScalars().baseAddress!, outer: shape.outer, groups: shape.groups,
        inner: shape.inner, parameterCount: shape.parameterCount, layout: shape.layout, epsilon: epsilon)
    withExtendedLifetime((x, scale, offset)) {}
    return (output, statistics)
}

/// The backward of ``affineNormalizationForward(_:scale:offset:shape:epsilon:)`` from
/// `outputGradient` = ∂L/∂y: ∂L/∂x (when `needsInput`), ∂L/∂γ and ∂L/∂β (flat, of
/// `shape.parameterCount`).
func affineNormalizationBackward<Scalar: TensorScalar>(
    _ outputGradient: Tensor<Scalar>, x: Tensor<Scalar>, scale: Tensor<Scalar>, statistics: Tensor<Scalar>,
    shape: AffineNormalizationShape, needsInput: Bool
) -> (input: Tensor<Scalar>?, scale: Tensor<Scalar>, offset: Tensor<Scalar>) {
    var input = needsInput ? Tensor<Scalar>.zeros(shape: x.shape) : nil
    var scaleGradient = Tensor<Scalar>.zeros(shape: [shape.parameterCount])
    var offsetGradient = Tensor<Scalar>.zeros(shape: [shape.parameterCount])
    guard x.scalarCount > 0 else { return (input, scaleGradient, offsetGradient) }
    AffineNormalizationKernels.backward(
        g: outputGradient.unsafeScalars.baseAddress!, x: x.unsafeScalars.baseAddress!,
        scale: scale.unsafeScalars.baseAddress!, statistics: statistics.unsafeScalars.baseAddress!,
        inputGradient: input?.unsafeMutableScalars().baseAddress,
        scaleGradient: scaleGradient.unsafeMutableScalars().baseAddress!,
        offsetGradient: offsetGradient.unsafeMutableScalars().baseAddress!,
        outer: shape.outer, groups: shape.groups, inner: shape.inner, parameterCount: shape.parameterCount,
        layout: shape.layout)
    withExtendedLifetime((outputGradient, x, scale, statistics)) {}
    return (input, scaleGradient, offsetGradient)
}
