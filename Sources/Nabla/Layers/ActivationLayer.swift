/// What the activations of ``PointwiseActivation`` share (``SiLU``, ``ELU``, ``Softplus``,
/// ``Hardswish``, ``Mish``): the forward `f(x)`, the manual backward `∂L/∂y ⊙ f′(x)`, and the
/// graph-mode forward, whose rule gives exact first and second derivatives. Any shape; a NaN
/// input gives a NaN output and gradient, and ±∞ the activation's limits.
public class ActivationLayer<Scalar: TensorScalar>: Layer<Scalar> {
    /// The function and its derivatives.
    public let activation: PointwiseActivation
    private let name: String
    private var cachedInput: Tensor<Scalar>?

    init(_ name: String, _ activation: PointwiseActivation) {
        activation.check(name)
        self.name = name
        self.activation = activation
    }

    public override var description: String { name }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.activate(input, activation)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        cachedInput = input
        return activate(input, activation)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        return activationGradient(outputGradient, input: LayerShapes.cached(cachedInput, self, outputGradient), activation)
    }
}
