/// SiLU (swish), `x · σ(x)`, as PyTorch's `nn.SiLU`.
public final class SiLU<Scalar: TensorScalar>: ActivationLayer<Scalar> {
    public init() { super.init("SiLU", .silu) }
}
