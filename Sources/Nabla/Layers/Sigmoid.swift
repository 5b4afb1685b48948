/// The logistic sigmoid `1 / (1 + e⁻ˣ)` elementwise; its backward reads the saved output:
/// `dx = g · y · (1 − y)`.
public final class Sigmoid<Scalar: TensorScalar>: Layer<Scalar> {
    private var cachedOutput: Tensor<Scalar>?

    public override init() {}

    public override var description: String { "Sigmoid()" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.sigmoid(input)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let output = sigmoid(input)
        cachedOutput = output
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let output = LayerShapes.cached(cachedOutput, self, outputGradient)
        return Tensor.broadcasting("\(self)", outputGradient, output) { g, y in g * (y - y * y) }
    }
}
