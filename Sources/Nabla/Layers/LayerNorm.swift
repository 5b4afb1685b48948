/// Layer normalization over the trailing axes, as PyTorch's `LayerNorm`: every block of
/// `normalizedShape` values of the input is normalized with its own mean and biased variance,
/// then `y = x̂ ⊙ γ + β` elementwise.
///
/// Shapes: the input is `[…, normalizedShape]` (any leading axes); `weight` (γ, initially 1) and
/// `bias` (β, 0) have `normalizedShape`, PyTorch's names, or are `nil` without
/// `elementwiseAffine`.
public final class LayerNorm<Scalar: TensorScalar>: Layer<Scalar> {
    public let normalizedShape: [Int]
    public let epsilon: Scalar
    /// γ, of `normalizedShape`, or `nil` without elementwise affine.
    public let weight: Parameter<Scalar>?
    /// β, of `normalizedShape`, or `nil` without elementwise affine.
    public let bias: Parameter<Scalar>?
    /// `x̂` as `[rows, size]` and `σ⁻¹` as `[rows, 1]` of the last manual forward, and its input
    /// shape.
    private var cache: (
        normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, shape: [Int]
    )?

    public init(normalizedShape: [Int], epsilon: Scalar = 1e-5, elementwiseAffine: Bool = true) {
        Misuse.check(
            !normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 }, "LayerNorm",
            "normalizedShape \(normalizedShape) must be non-empty with positive sizes")
        Misuse.check(epsilon >= 0, "LayerNorm", "epsilon \(epsilon) is negative")
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        self.weight = elementwiseAffine
            ? Parameter(name: "weight", value: .ones(shape: normalizedShape)) : nil
        self.bias = elementwiseAffine
            ? Parameter(name: "bias", value: .zeros(shape: normalizedShape)) : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias].compactMap { $0 } }

    public override var description: String {
        "LayerNorm(\(normalizedShape), epsilon: \(epsilon)"
            + (weight == nil ? ", elementwiseAffine: false)" : ")")
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try LayerShapes.endingWith(normalizedShape, shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        let rank = input.shape.count
        return TensorOperations.layerNorm(
            input, scale: weight?.variable ?? .constant(.ones(shape: normalizedShape)),
            offset: bias?.variable ?? .constant(.zeros(shape: normalizedShape)),
            axes: Array((rank - normalizedShape.count)..<rank), epsilon: epsilon)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let size = normalizedShape.reduce(1, *)
        let rows = input.reshaped(to: [input.scalarCount / size, size])
        let (normalized, inverse) = Normalization.normalize(rows, axes: [1], epsilon: epsilon)
        cache = (normalized, inverse, input.shape)
        guard let weight, let bias else { return normalized.reshaped(to: input.shape) }
        let output = normalized * weight.value.reshaped(to: [size]) + bias.value.reshaped(to: [size])
        return output.reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (normalized, inverse, shape) = cache else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: shape, self)
        let g = outputGradient.reshaped(to: normalized.shape)
        if let weight, let bias {  // dγ = Σ g·x̂ and dβ = Σ g over the rows
            weight.accumulate((g * normalized).sum(alongAxes: [0]).reshaped(to: normalizedShape))
            bias.accumulate(g.sum(alongAxes: [0]).reshaped(to: normalizedShape))
        }
        guard computesInputGradient else { return nil }
        // dx = σ⁻¹·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) along each row, with ĝ = ∂L/∂x̂ = g·γ (gHat).
        let gHat = weight.map { g * $0.value.reshaped(to: [normalized.shape[1]]) } ?? g
        return Normalization.inputGradient(gHat, normalized: normalized, inverseDeviation: inverse, axes: [1])
            .reshaped(to: shape)
    }
}
