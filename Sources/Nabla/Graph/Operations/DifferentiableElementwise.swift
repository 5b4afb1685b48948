// Elementwise functions and their backward rules. A rule whose local derivative can be
// infinite or NaN applies it with `guardedMultiply`, so a zero upstream gradient stays zero.
// A NaN input gives a NaN gradient (where the upstream gradient is nonzero), also in rules
// built from masks, which would otherwise read NaN as "not positive".

extension TensorOperations {
    /// `eˣ`.
    public static func exp(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("exp", [x], Nabla.exp(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, y)]
        }
    }

    /// The natural logarithm.
    public static func log(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("log", [x], Nabla.log(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, reciprocal(x))]
        }
    }

    /// `1 / x`.
    public static func reciprocal(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("reciprocal", [x], 1 / x.value, file: file, line: line) { y, g, _ in
            [guardedMultiply(g, -(y * y))]
        }
    }

    /// The square root. Its gradient at 0 is taken as 0 rather than infinity; at a negative
    /// `x` it is NaN, like the value.
    public static func sqrt(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("sqrt", [x], Nabla.sqrt(x.value), file: file, line: line) { y, g, _ in
            let isZero = y.value.map { $0 == 0 ? 1 : 0 }
            let one = constant(Tensor(1)), zero = constant(Tensor(0))
            let safe = select(isZero, one, y)
            return [guardedMultiply(g, select(isZero, zero, scale(reciprocal(safe), by: 0.5)))]
        }
    }

    /// `x²`.
    public static func square(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("square", [x], Nabla.square(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, scale(x, by: 2))]
        }
    }

    /// `xᵖ` for a constant exponent `p`, as C's `pow` (NaN for a negative `x` unless `p` is an
    /// integer).
    ///
    /// For `0 < p < 1` the gradient at exactly 0 is taken as 0 rather than infinity, so
    /// `pow(x, 0.5)` agrees with ``sqrt(_:file:line:)``.
    public static func pow(
        _ x: Variable<Scalar>, _ p: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("pow", [x], Nabla.pow(x.value, p), file: file, line: line) { g, _ in
            guard p != 0 else { return [constant(.zeros(shape: x.shape))] }
            var derivative = scale(pow(x, p - 1), by: p)
            if p > 0 && p < 1 {
                derivative = select(x.value.map { $0 == 0 ? 1 : 0 }, constant(Tensor(0)), derivative)
            }
            return [guardedMultiply(g, derivative)]
        }
    }

    /// `|x|`; its gradient at 0 is 0.
    public static func abs(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("abs", [x], Nabla.abs(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, constant(Nabla.sign(x.value)))]
        }
    }

    /// The hyperbolic tangent.
    public static func tanh(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("tanh", [x], Nabla.tanh(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, shift(negate(square(y)), by: 1))]
        }
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`.
    public static func sigmoid(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("sigmoid", [x], Nabla.sigmoid(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, y - square(y))]
        }
    }

    /// `max(0, x)`, keeping NaN. Its gradient at exactly 0 is 0, as in PyTorch and JAX.
    public static func relu(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("relu", [x], Nabla.relu(x.value), file: file, line: line) { g, _ in
            [select(x.value.map { $0 > 0 || $0.isNaN ? 1 : 0 }, nanPropagated(g, from: x.value), constant(Tensor(0)))]
        }
    }

    /// `x` where positive, `slope · x` elsewhere.
    public static func leakyRelu(
        _ x: Variable<Scalar>, slope: Scalar = 0.01, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("leakyRelu", [x], Nabla.leakyRelu(x.value, slope: slope), file: file, line: line) { g, _ in
            [select(x.value.map { $0 > 0 || $0.isNaN ? 1 : 0 }, nanPropagated(g, from: x.value), scale(g, by: slope))]
        }
    }

    /// GELU, tanh form: `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, composed of
    /// differentiable ops.
    public static func gelu(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let inner = scale(x + scale(pow(x, 3), by: 0.044715), by: Scalar.sqrt(2 / Scalar.pi))
        return scale(x * shift(tanh(inner), by: 1), by: 0.5)
    }

    /// `x` clamped to `range`; the gradient is zero where `x` was clamped.
    public static func clamp(
        _ x: Variable<Scalar>, to range: ClosedRange<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("clamp", [x], Nabla.clamp(x.value, to: range), file: file, line: line) { g, _ in
            let passes = x.value.map { range.contains($0) || $0.isNaN ? 1 : 0 }
            return [select(passes, nanPropagated(g, from: x.value), constant(Tensor(0)))]
        }
    }

    /// `g`, made NaN wherever `x` is NaN (and `g` is nonzero): masks read NaN as neither side,
    /// so rules built from them pass `g` through this. Free when `x` holds no NaN.
    static func nanPropagated(_ g: Variable<Scalar>, from x: Tensor<Scalar>) -> Variable<Scalar> {
        guard x.withUnsafeBufferPointer({ $0.contains { $0.isNaN } }) else { return g }
        return guardedMultiply(g, constant(x.map { $0.isNaN ? .nan : 1 }))
    }

    /// `x ⊙ mask / keepProbability`: dropout with a given 0/1 mask (inverted scaling).
    public static func dropout(
        _ x: Variable<Scalar>, mask: Tensor<Scalar>, keepProbability: Scalar,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        Misuse.checkSameShape("dropout", x.shape, mask.shape)
        return multiply(x, constant(mask / keepProbability), file: file, line: line)
    }
}
