/// The log-softmax along an axis, computed stably; its backward reads the saved output:
/// `dx = g − exp(y) ⊙ Σ_axis g`.
public final class LogSoftmax<Scalar: TensorScalar>: Layer<Scalar> {
    /// The axis to normalize along; negative values count from the end.
    public let axis: Int
    private var cachedOutput: Tensor<Scalar>?

    public init(axis: Int = -1) {
        self.axis = axis
    }

    public override var description: String { "LogSoftmax(axis: \(axis))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.logSoftmax(input, alongAxis: axis)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let output = logSoftmax(input, alongAxis: axis)
        cachedOutput = output
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let y = LayerShapes.cached(cachedOutput, self, outputGradient)
        let axis = Misuse.resolveAxis("\(self)", axis, shape: y.shape)
        return outputGradient - exp(y) * outputGradient.sum(alongAxes: [axis], keepingDimensions: true)
    }
}
