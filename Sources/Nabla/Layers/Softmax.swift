/// The softmax along an axis, computed stably; its backward reads the saved output:
/// `dx = y ⊙ (g − Σ_axis g ⊙ y)`.
public final class Softmax<Scalar: TensorScalar>: Layer<Scalar> {
    /// The axis to normalize along; negative values count from the end.
    public let axis: Int
    private var cachedOutput: Tensor<Scalar>?

    public init(axis: Int = -1) {
        self.axis = axis
    }

    public override var description: String { "Softmax(axis: \(axis))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.softmax(input, alongAxis: axis)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let output = softmax(input, alongAxis: axis)
        cachedOutput = output
        return output
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        let y = LayerShapes.cached(cachedOutput, self, outputGradient)
        let axis = Misuse.resolveAxis("\(self)", axis, shape: y.shape)
        let g = outputGradient
        return y * (g - (g * y).sum(alongAxes: [axis], keepingDimensions: true))
    }
}
