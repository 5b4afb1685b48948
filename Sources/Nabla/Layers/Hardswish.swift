/// Hardswish, `x · relu6(x + 3) / 6`, as PyTorch's `nn.Hardswish` (its slope on the closed
/// `[−3, 3]` is `(2x + 3)/6`, PyTorch's convention at the kinks).
public final class Hardswish<Scalar: TensorScalar>: ActivationLayer<Scalar> {
    public init() { super.init("Hardswish", .hardswish) }
}
