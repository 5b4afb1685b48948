/// ELU, `x` where positive and `α · (eˣ − 1)` elsewhere, as PyTorch's `nn.ELU(alpha)`.
public final class ELU<Scalar: TensorScalar>: ActivationLayer<Scalar> {
    /// Creates the activation; `alpha` must be finite (PyTorch's default is 1).
    public init(alpha: Double = 1) { super.init("ELU(alpha: \(alpha))", .elu(alpha: alpha)) }
}
