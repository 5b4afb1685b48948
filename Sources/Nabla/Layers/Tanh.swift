/// The hyperbolic tangent elementwise; its backward reads the saved output: `dx = g · (1 − y²)`.
public final class Tanh<Scalar: TensorScalar>: Layer<Scalar> {
    private var cachedOutput: Tensor<Scalar>?

    public override init() {}

    public override var description: String { "Tanh()" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.tanh(input)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let output = tanh(input)
        cachedOutput = output
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let output = LayerShapes.cached(cachedOutput, self, outputGradient)
        return Tensor.broadcasting("\(self)", outputGradient, output) { g, y in g - g * y * y }
    }
}
