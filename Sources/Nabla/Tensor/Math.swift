import RealModule

// Elementwise math. Every function keeps a NaN input a NaN, as IEEE 754 asks: Swift's
// `max(0, x)` and `x > 0 ? x : 0` would turn it into 0, so ReLU and its kin test for it.

/// `eˣ` elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func exp<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.exp($0) }
}
/// The natural logarithm elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func log<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.log($0) }
}
/// `log(1 + x)` elementwise, accurate near 0.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func log1p<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.log(onePlus: $0) }
}
/// `eˣ − 1` elementwise, accurate near 0.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func expm1<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.expMinusOne($0) }
}
/// The square root elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func sqrt<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { $0.squareRoot() }
}
/// `x²` elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func square<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { $0 * $0 }
}
/// `xᵖ` elementwise, as C's `pow`: NaN for a negative `x` unless `p` is an integer, and `x⁰ = 1`
/// for every `x`, even 0 and NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func pow<Scalar>(_ x: Tensor<Scalar>, _ p: Scalar) -> Tensor<Scalar> {
    if p == 2 { return square(x) }
    return x.map { Scalar.power($0, p) }
}
/// `xʸ` elementwise with broadcasting, as C's `pow`.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func pow<Scalar>(_ x: Tensor<Scalar>, _ y: Tensor<Scalar>) -> Tensor<Scalar> {
    Tensor.broadcasting("pow", x, y, Scalar.power)
}
/// The absolute value elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func abs<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Swift.abs($0) }
}
/// The sign elementwise: −1, 0 or 1 (NaN stays NaN).
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func sign<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
}
/// The sine elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func sin<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.sin($0) }
}
/// The cosine elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func cos<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.cos($0) }
}
/// The hyperbolic tangent elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.tanh($0) }
}
/// The logistic sigmoid `1 / (1 + e⁻ˣ)` elementwise, without overflow for large `|x|`.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func sigmoid<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { value in
        if value >= 0 { return 1 / (1 + Scalar.exp(-value)) }
        let e = Scalar.exp(value)
        return e / (1 + e)
    }
}
/// `max(0, x)` elementwise, keeping NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func relu<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { $0 > 0 || $0.isNaN ? $0 : 0 }
}
/// `x` where positive, `slope · x` elsewhere, keeping NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func leakyRelu<Scalar>(_ x: Tensor<Scalar>, slope: Scalar = 0.01) -> Tensor<Scalar> {
    x.map { $0 > 0 || $0.isNaN ? $0 : slope * $0 }
}
/// `softplus(x) = log(1 + eˣ)` elementwise, stable for large `|x|`.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func softplus<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { value in
        value > 0 ? value + Scalar.log(onePlus: Scalar.exp(-value))
            : Scalar.log(onePlus: Scalar.exp(value))
    }
}
/// `x` clamped to `range`, keeping NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func clamp<Scalar>(_ x: Tensor<Scalar>, to range: ClosedRange<Scalar>)
    -> Tensor<Scalar>
{
    x.map { $0 < range.lowerBound ? range.lowerBound : ($0 > range.upperBound ? range.upperBound : $0) }
}
/// The larger of `x` and `y` elementwise with broadcasting; NaN if either is NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func maximum<Scalar>(_ x: Tensor<Scalar>, _ y: Tensor<Scalar>) -> Tensor<Scalar> {
    Tensor.broadcasting("maximum", x, y, Scalar.maximumPropagatingNaN)
}
/// The smaller of `x` and `y` elementwise with broadcasting; NaN if either is NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func minimum<Scalar>(_ x: Tensor<Scalar>, _ y: Tensor<Scalar>) -> Tensor<Scalar> {
    Tensor.broadcasting("minimum", x, y, Scalar.minimumPropagatingNaN)
}

extension TensorScalar {
    /// `xʸ` with C's special cases, which swift-numerics' `pow` (NaN for any negative `x`, and
    /// for 0⁰) does not follow.
    @inlinable @inline(__always)
    static func power(_ x: Self, _ y: Self) -> Self {
        if y == 0 { return 1 }
        if let n = Int(exactly: y) { return pow(x, n) }
        guard x < 0 else { return pow(x, y) }
        // An integer too large for Int is even; an infinite x or y ignores x's sign.
        if y.rounded() == y || x.isInfinite || y.isInfinite { return pow(-x, y) }
        return .nan
    }
}
