/// `max(0, x)` elementwise, keeping NaN. Its gradient at exactly 0 is 0, as in PyTorch.
public final class ReLU<Scalar: TensorScalar>: Layer<Scalar> {
    private var cachedInput: Tensor<Scalar>?

    public override init() {}

    public override var description: String { "ReLU()" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.relu(input)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        cachedInput = input
        return relu(input)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let input = LayerShapes.cached(cachedInput, self, outputGradient)
        return Tensor.broadcasting("\(self)", outputGradient, input) { g, x in
            x > 0 ? g : (x.isNaN ? x : 0)
        }
    }
}
