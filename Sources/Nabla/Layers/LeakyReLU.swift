/// `x` where positive, `slope · x` elsewhere, keeping NaN.
public final class LeakyReLU<Scalar: TensorScalar>: Layer<Scalar> {
    public let slope: Scalar
    private var cachedInput: Tensor<Scalar>?

    /// Creates the activation; PyTorch's default slope is 0.01.
    public init(slope: Scalar = 0.01) {
        Misuse.check(slope.isFinite, "LeakyReLU", "slope \(slope) must be finite")
        self.slope = slope
    }

    public override var description: String { "LeakyReLU(slope: \(slope))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.leakyRelu(input, slope: slope)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        cachedInput = input
        return leakyRelu(input, slope: slope)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let input = LayerShapes.cached(cachedInput, self, outputGradient)
        let slope = slope
        return Tensor.broadcasting("\(self)", outputGradient, input) { g, x in
            x > 0 ? g : (x.isNaN ? x : slope * g)
        }
    }
}
