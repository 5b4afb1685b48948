/// GELU, as PyTorch's `GELU(approximate:)`: exact `x · Φ(x)` by default, or the tanh form.
/// The backward is `g · gelu′(x)`, with `gelu′(x) = Φ(x) + x · φ(x)` (or the tanh form's
/// derivative); both take their limits at ±∞.
public final class GELU<Scalar: TensorScalar>: Layer<Scalar> {
    public let approximate: GELUApproximation
    private var cachedInput: Tensor<Scalar>?

    public init(approximate: GELUApproximation = .none) {
        self.approximate = approximate
    }

    public override var description: String { "GELU(approximate: .\(approximate))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.gelu(input, approximate: approximate)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        cachedInput = input
        return gelu(input, approximate: approximate)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let input = LayerShapes.cached(cachedInput, self, outputGradient)
        return Tensor.broadcasting("\(self)", outputGradient, geluDerivative(input, approximate: approximate), *)
    }
}
