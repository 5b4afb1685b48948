/// Mish, `x · tanh(softplus(x))`, as PyTorch's `nn.Mish`.
public final class Mish<Scalar: TensorScalar>: ActivationLayer<Scalar> {
    public init() { super.init("Mish", .mish) }
}
