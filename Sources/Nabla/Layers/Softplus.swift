/// `log(1 + e^{βx}) / β`, and `x` where `βx > threshold`, as PyTorch's `nn.Softplus(beta, threshold)`.
public final class Softplus<Scalar: TensorScalar>: ActivationLayer<Scalar> {
    /// Creates the activation; `beta` must be positive, both finite (PyTorch's defaults: 1, 20).
    public init(beta: Double = 1, threshold: Double = 20) {
        super.init("Softplus(beta: \(beta), threshold: \(threshold))", .softplus(beta: beta, threshold: threshold))
    }
}
