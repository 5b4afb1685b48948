// The activations of PointwiseActivation as differentiable ops. Each op's rule multiplies by the
// next derivative, itself an op, up to the second derivative: a third is a misuse, never zeros.

extension TensorOperations {
    /// SiLU (swish), `x · σ(x)`, with its limits at ±∞: 0 at −∞, `x` at +∞.
    public static func silu(_ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line) -> Variable<Scalar> {
        activate(x, .silu, file: file, line: line)
    }

    /// ELU, `x` where positive and `α · (eˣ − 1)` elsewhere; its derivative at 0 is `α`, as in PyTorch.
    public static func elu(
        _ x: Variable<Scalar>, alpha: Scalar = 1, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        activate(x, .elu(alpha: Double(alpha)), file: file, line: line)
    }

    /// PyTorch's `Softplus(beta, threshold)`: `log(1 + e^{βx}) / β`, and `x` where `βx > threshold`.
    public static func softplus(
        _ x: Variable<Scalar>, beta: Scalar, threshold: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        activate(x, .softplus(beta: Double(beta), threshold: Double(threshold)), file: file, line: line)
    }

    /// Hardswish, `x · relu6(x + 3) / 6`, with PyTorch's slope `(2x + 3)/6` on the closed `[−3, 3]`.
    public static func hardswish(_ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line) -> Variable<Scalar> {
        activate(x, .hardswish, file: file, line: line)
    }

    /// Mish, `x · tanh(softplus(x))`, with its limits at ±∞: 0 at −∞, `x` at +∞.
    public static func mish(_ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line) -> Variable<Scalar> {
        activate(x, .mish, file: file, line: line)
    }

    /// `activation` (or its `order`-th derivative) elementwise; its rule multiplies the upstream
    /// gradient by the next derivative, so first and second derivatives are exact.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func activate(
        _ x: Variable<Scalar>, _ activation: PointwiseActivation, order: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let name = order == 0 ? "\(activation)" : "\(activation) derivative \(order)"
        return record(name, [x], Nabla.activate(x.value, activation, order: order), file: file, line: line) { g, _ in
            Misuse.check(
                order < 2, "\(activation)",
                "a derivative of order \(order + 1) was asked for; orders 1 and 2 are available")
            return [guardedMultiply(g, activate(x, activation, order: order + 1, file: file, line: line))]
        }
    }
}
