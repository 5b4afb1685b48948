// Elementwise functions and their backward rules. A rule whose local derivative can be
// infinite or NaN applies it with `guardedMultiply`, so a zero upstream gradient stays zero.
// A NaN input gives a NaN gradient (where the upstream gradient is nonzero), also in rules
// built from masks, which would otherwise read NaN as "not positive".

extension TensorOperations {
    /// `eˣ`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func exp(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("exp", [x], Nabla.exp(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, y)]
        }
    }

    /// `eˣ − 1`, accurate near 0; its derivative is `eˣ`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func expm1(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("expm1", [x], Nabla.expm1(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, exp(x))]
        }
    }

    /// The natural logarithm.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func log(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("log", [x], Nabla.log(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, reciprocal(x))]
        }
    }

    /// `log(1 + x)`, accurate near 0; its derivative is `1 / (1 + x)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func log1p(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("log1p", [x], Nabla.log1p(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, reciprocal(shift(x, by: 1)))]
        }
    }

    /// `1 / x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func reciprocal(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("reciprocal", [x], 1 / x.value, file: file, line: line) { y, g, _ in
            [guardedMultiply(g, -(y * y))]
        }
    }

    /// The square root. Its gradient at 0 is taken as 0 rather than infinity; at a negative
    /// `x` it is NaN, like the value.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func abs(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("abs", [x], Nabla.abs(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, constant(Nabla.sign(x.value)))]
        }
    }

    /// The sine.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func sin(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("sin", [x], Nabla.sin(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, cos(x))]
        }
    }

    /// The cosine.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func cos(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("cos", [x], Nabla.cos(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, negate(sin(x)))]
        }
    }

    /// The error function `erf(x) = 2/√π · ∫₀ˣ e^(−t²) dt`; its derivative is `2/√π · e^(−x²)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func erf(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("erf", [x], Nabla.erf(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, scale(exp(negate(square(x))), by: 1.12837916709551257390))]
        }
    }

    /// The hyperbolic tangent.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func tanh(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("tanh", [x], Nabla.tanh(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, shift(negate(square(y)), by: 1))]
        }
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func sigmoid(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("sigmoid", [x], Nabla.sigmoid(x.value), file: file, line: line) { y, g, _ in
            [guardedMultiply(g, y - square(y))]
        }
    }

    /// `softplus(x) = log(1 + eˣ)`, stable for large `|x|`; its derivative is `sigmoid(x)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func softplus(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("softplus", [x], Nabla.softplus(x.value), file: file, line: line) { g, _ in
            [guardedMultiply(g, sigmoid(x))]
        }
    }

    /// `max(0, x)`, keeping NaN. Its gradient at exactly 0 is 0, as in PyTorch and JAX.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func relu(
        _ x: Variable<Scalar>, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("relu", [x], Nabla.relu(x.value), file: file, line: line) { g, _ in
            // Unless a tape records this backward: one pass (a NaN input passes a nonzero g as NaN).
            guard GraphContext.isRecordingBackward else {
                return [constant(Tensor.broadcasting("relu", g.value, x.value) { g, x in
                    x > 0 ? g : (x.isNaN && g != 0 ? x : 0)
                })]
            }
            let passes = x.value.map { !($0 <= 0) ? 1 : 0 }  // positive or NaN
            return [select(passes, nanPropagated(g, from: x.value), constant(Tensor(0)))]
        }
    }

    /// `x` where positive, `slope · x` elsewhere.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func leakyRelu(
        _ x: Variable<Scalar>, slope: Scalar = 0.01, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("leakyRelu", [x], Nabla.leakyRelu(x.value, slope: slope), file: file, line: line) { g, _ in
            let passes = x.value.map { !($0 <= 0) ? 1 : 0 }  // positive or NaN
            return [select(passes, nanPropagated(g, from: x.value), scale(g, by: slope))]
        }
    }

    /// GELU, as PyTorch's `gelu(x, approximate:)`.
    ///
    /// - `.none` (the default): exact `x · Φ(x)`, where `Φ(x) = ½ · erfc(−x/√2)` is the standard
    ///   normal distribution function. Its derivative is `Φ(x) + x · φ(x)`, with `φ` the normal
    ///   density.
    /// - `.tanh`: `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`.
    ///
    /// Both take their limits at ±∞: `gelu(+∞) = +∞` with gradient 1 and `gelu(−∞) = 0` with
    /// gradient 0. Derivatives of every order are available.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func gelu(
        _ x: Variable<Scalar>, approximate: GELUApproximation = .none,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("gelu", [x], Nabla.gelu(x.value, approximate: approximate), file: file, line: line) { g, _ in
            [guardedMultiply(g, geluDerivative(x, approximate: approximate))]
        }
    }

    /// The derivative of ``gelu(_:approximate:file:line:)``: an op of its own, so that its value
    /// is one guarded pass (finite at ±∞) and its rule gives the second derivative.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func geluDerivative(
        _ x: Variable<Scalar>, approximate: GELUApproximation,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.geluDerivative(x.value, approximate: approximate)
        return record("geluDerivative", [x], value, file: file, line: line) { g, _ in
            switch approximate {
            case .none:
                // φ(x) · (2 − x²); φ is 0 where 2 − x² is infinite.
                let density = scale(exp(scale(square(x), by: -0.5)), by: Scalar.oneOverSquareRootOfTwoPi)
                return [guardedMultiply(guardedMultiply(g, density), shift(negate(square(x)), by: 2))]
            case .tanh:
                // sech²(u) · (u′ + ½x · u″ − x · tanh(u) · u′²), u = √(2/π)(x + 0.044715x³), with
                // sech²(u) = 4pq and tanh(u) = p − q for p = sigmoid(2u), q = sigmoid(−2u), which
                // keep their accuracy where tanh(u) is near ±1.
                let c = Scalar.squareRootOfTwoOverPi, a: Scalar = 0.044715
                let u = scale(x + scale(pow(x, 3), by: a), by: c)
                let (p, q) = (sigmoid(scale(u, by: 2)), sigmoid(scale(u, by: -2)))
                let du = scale(shift(scale(square(x), by: 3 * a), by: 1), by: c)
                let ddu = scale(x, by: 6 * a * c)
                // g · sech²(u) is 0 where the other factors are infinite, so it leads every
                // product: then no order of derivative turns 0 · ∞ into NaN at ±∞.
                let gs = guardedMultiply(g, scale(p * q, by: 4))
                let gsx = guardedMultiply(gs, x)
                return [guardedMultiply(gs, du) + scale(guardedMultiply(gsx, ddu), by: 0.5)
                    - guardedMultiply(guardedMultiply(gsx, p - q), square(du))]
            }
        }
    }

    /// `x` clamped to `range`; the gradient is zero where `x` was clamped.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func clamp(
        _ x: Variable<Scalar>, to range: ClosedRange<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("clamp", [x], Nabla.clamp(x.value, to: range), file: file, line: line) { g, _ in
            let passes = x.value.map { range.contains($0) || $0.isNaN ? 1 : 0 }
            return [select(passes, nanPropagated(g, from: x.value), constant(Tensor(0)))]
        }
    }

    /// The larger of `lhs` and `rhs` elementwise, with broadcasting; NaN if either is NaN.
    ///
    /// Where they tie, each gets half the gradient, as in PyTorch; where either is NaN, both get
    /// a NaN gradient.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func maximum(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        choosing("maximum", lhs, rhs, Nabla.maximum(lhs.value, rhs.value), file: file, line: line, by: >)
    }

    /// The smaller of `lhs` and `rhs` elementwise, with broadcasting; NaN if either is NaN.
    ///
    /// Where they tie, each gets half the gradient, as in PyTorch; where either is NaN, both get
    /// a NaN gradient.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func minimum(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        choosing("minimum", lhs, rhs, Nabla.minimum(lhs.value, rhs.value), file: file, line: line, by: <)
    }

    /// Records `value`, which takes each element from `lhs` where `wins(lhs, rhs)`, from `rhs`
    /// where `wins(rhs, lhs)`, from either at a tie, and is NaN otherwise.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func choosing(
        _ name: String, _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>, _ value: Tensor<Scalar>,
        file: StaticString, line: UInt, by wins: @escaping (Scalar, Scalar) -> Bool
    ) -> Variable<Scalar> {
        record(name, [lhs, rhs], value, file: file, line: line) { g, needs in
            // lhs's share of the gradient: 1 if chosen, ½ at a tie, 0 if not, NaN with a NaN.
            let lhsShare = Tensor.broadcasting(name, lhs.value, rhs.value) { a, b in
                a == b ? 0.5 : (wins(a, b) ? 1 : (wins(b, a) ? 0 : .nan))
            }
            return [needs[0] ? reduce(guardedMultiply(g, constant(lhsShare)), toShape: lhs.shape) : nil,
                    needs[1] ? reduce(guardedMultiply(g, constant(1 - lhsShare)), toShape: rhs.shape) : nil]
        }
    }

    /// `g`, made NaN wherever `x` is NaN (and `g` is nonzero): masks read NaN as neither side,
    /// so rules built from them pass `g` through this. Free when `x` holds no NaN.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func nanPropagated(_ g: Variable<Scalar>, from x: Tensor<Scalar>) -> Variable<Scalar> {
        // An OR over every element, not an early exit, so the scan vectorizes.
        let hasNaN = x.withUnsafeBufferPointer { x in x.reduce(into: UInt8(0)) { $0 |= $1.isNaN ? 1 : 0 } } != 0
        guard hasNaN else { return g }
        return guardedMultiply(g, constant(x.map { $0.isNaN ? .nan : 1 }))
    }

    /// `x ⊙ mask / keepProbability`: dropout with a given 0/1 mask (inverted scaling).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func dropout(
        _ x: Variable<Scalar>, mask: Tensor<Scalar>, keepProbability: Scalar,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        Misuse.checkSameShape("dropout", x.shape, mask.shape)
        return multiply(x, constant(mask / keepProbability), file: file, line: line)
    }
}
