/// Root-mean-square normalization, as PyTorch's `nn.RMSNorm`: every block of `normalizedShape`
/// values is divided by its root mean square, `y = x / √(mean(x²) + ε) ⊙ γ`, with no centering
/// and no bias.
///
/// Shapes: the input is `[…, normalizedShape]` (any leading axes); `weight` (γ, initially 1) has
/// `normalizedShape`, PyTorch's name, or is `nil` without `elementwiseAffine`. `epsilon` defaults
/// to the scalar type's machine epsilon, as PyTorch's `eps=None`.
public final class RMSNorm<Scalar: TensorScalar>: Layer<Scalar> {
    public let normalizedShape: [Int]
    public let epsilon: Scalar
    /// γ, of `normalizedShape`, or `nil` without elementwise affine.
    public let weight: Parameter<Scalar>?
    /// The input as `[rows, size]` and `1/√(mean(x²) + ε)` as `[rows, 1]` of the last manual forward.
    private var cache: (rows: Tensor<Scalar>, inverseRMS: Tensor<Scalar>, shape: [Int])?

    public init(normalizedShape: [Int], epsilon: Scalar? = nil, elementwiseAffine: Bool = true) {
        let epsilon = epsilon ?? Scalar.ulpOfOne
        Misuse.check(
            !normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 }, "RMSNorm",
            "normalizedShape \(normalizedShape) must be non-empty with positive sizes")
        Misuse.check(epsilon >= 0 && epsilon.isFinite, "RMSNorm", "epsilon \(epsilon) must be finite and not negative")
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        self.weight = elementwiseAffine ? Parameter(name: "weight", value: .ones(shape: normalizedShape)) : nil
    }

    public override var parameters: [Parameter<Scalar>] { weight.map { [$0] } ?? [] }

    public override var description: String {
        "RMSNorm(\(normalizedShape), epsilon: \(epsilon)" + (weight == nil ? ", elementwiseAffine: false)" : ")")
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try LayerShapes.endingWith(normalizedShape, shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        _ = checkedOutputShape(input.shape)
        let rank = input.shape.count
        let axes = Array((rank - normalizedShape.count)..<rank)
        let meanSquare = Ops.mean(Ops.square(input), alongAxes: axes, keepingDimensions: true)
        let normalized = input * Ops.reciprocal(Ops.sqrt(Ops.shift(meanSquare, by: epsilon)))
        return weight.map { normalized * $0.variable } ?? normalized
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let size = normalizedShape.reduce(1, *)
        let rows = input.reshaped(to: [input.scalarCount / size, size])
        let inverseRMS = 1 / sqrt((rows * rows).mean(alongAxes: [1], keepingDimensions: true) + epsilon)
        cache = (rows, inverseRMS, input.shape)
        let normalized = rows * inverseRMS
        return (weight.map { normalized * $0.value.reshaped(to: [size]) } ?? normalized).reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (rows, inverseRMS, shape) = cache else { Misuse.fail("\(self)", "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: shape, self)
        let g = outputGradient.reshaped(to: rows.shape)
        weight?.accumulate((g * rows * inverseRMS).sum(alongAxes: [0]).reshaped(to: normalizedShape))
        guard computesInputGradient else { return nil }
        // dx = r·ĝ − x·r³·mean(ĝ·x) along each row, with r = 1/rms and ĝ = g·γ.
        let gHat = weight.map { g * $0.value.reshaped(to: [rows.shape[1]]) } ?? g
        let inputGradient = inverseRMS * gHat
            - rows * (inverseRMS * inverseRMS * inverseRMS) * (gHat * rows).mean(alongAxes: [1], keepingDimensions: true)
        return inputGradient.reshaped(to: shape)
    }
}
