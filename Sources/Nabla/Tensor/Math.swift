import RealModule

// Elementwise math. Every function keeps a NaN input a NaN, as IEEE 754 asks: Swift's
// `max(0, x)` and `x > 0 ? x : 0` would turn it into 0, so ReLU and its kin test for it.

/// `eˣ` elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func exp<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.mappingBuffer(ElementwiseKernels.exp)
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
/// The error function `erf(x) = 2/√π · ∫₀ˣ e^(−t²) dt` elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func erf<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.erf($0) }
}
/// The complementary error function `1 − erf(x)` elementwise, accurate where `erf(x)` is near 1.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func erfc<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.map { Scalar.erfc($0) }
}
/// The hyperbolic tangent elementwise.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func tanh<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.mappingBuffer(ElementwiseKernels.tanh)
}
/// The logistic sigmoid `1 / (1 + e⁻ˣ)` elementwise, without overflow for large `|x|`.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func sigmoid<Scalar>(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
    x.mappingBuffer(ElementwiseKernels.sigmoid)
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
/// How GELU is computed, as PyTorch's `approximate` argument (`'none'` or `'tanh'`).
public enum GELUApproximation: Sendable, Hashable {
    /// The exact form `x · Φ(x)`, where `Φ(x) = ½ · erfc(−x/√2)` is the standard normal
    /// distribution function.
    case none
    /// The tanh form `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, computed as
    /// `x · sigmoid(2u)`, which is the same, for accuracy at negative `x`.
    case tanh
}
/// GELU elementwise: exact `x · Φ(x)` by default, or its tanh form (see ``GELUApproximation``).
/// `gelu(+∞) = +∞` and `gelu(−∞) = 0`; NaN stays NaN.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func gelu<Scalar>(_ x: Tensor<Scalar>, approximate: GELUApproximation = .none)
    -> Tensor<Scalar>
{
    approximate == .none ? x.mappingBuffer(ElementwiseKernels.gelu) : x.map { Scalar.gelu($0, approximate) }
}
/// The derivative of ``gelu(_:approximate:)`` elementwise, with its limits 1 at +∞ and 0 at −∞.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
func geluDerivative<Scalar>(_ x: Tensor<Scalar>, approximate: GELUApproximation) -> Tensor<Scalar> {
    approximate == .none
        ? x.mappingBuffer(ElementwiseKernels.geluDerivative) : x.map { Scalar.geluDerivative($0, approximate) }
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

extension Tensor {
    /// A tensor of the same shape from a kernel that maps `count` scalars into a buffer.
    func mappingBuffer(
        _ kernel: (UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, Int) -> Void
    ) -> Tensor {
        withUnsafeBufferPointer { input in
            Tensor(unsafeUninitializedShape: shape) { output in
                guard let y = output.baseAddress, let x = input.baseAddress else { return }
                kernel(x, y, output.count)
            }
        }
    }
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

extension TensorScalar {
    /// The logistic sigmoid of one value, without overflow for large `|x|`.
    @inlinable @inline(__always)
    static func sigmoid(_ x: Self) -> Self {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    /// GELU of one value, with its limits at ±∞ (a plain `x · Φ(x)` gives `−∞ · 0 = NaN` at −∞).
    @inlinable @inline(__always)
    static func gelu(_ x: Self, _ approximate: GELUApproximation) -> Self {
        if x.isInfinite { return x > 0 ? x : 0 }
        switch approximate {
        case .none:
            return x * (erfc(-x * oneOverSquareRootOfTwo) / 2)  // x · erfc would overflow near the top
        case .tanh:
            // ½(1 + tanh(u)) = sigmoid(2u), without the cancellation of 1 + tanh(u) near −1.
            return x * sigmoid(2 * squareRootOfTwoOverPi * (x + 0.044715 * x * x * x))
        }
    }

    /// The derivative of ``gelu(_:_:)``, with its limits at ±∞: 1 and 0.
    @inlinable @inline(__always)
    static func geluDerivative(_ x: Self, _ approximate: GELUApproximation) -> Self {
        if x.isInfinite { return x > 0 ? 1 : 0 }
        switch approximate {
        case .none:
            // Φ(x) + x · φ(x)
            let density = exp(-x * x / 2) * oneOverSquareRootOfTwoPi
            return erfc(-x * oneOverSquareRootOfTwo) / 2 + x * density
        case .tanh:
            // ½(1 + tanh(u)) + ½x · sech²(u) · u′ with u = √(2/π)(x + 0.044715x³), where
            // ½(1 + tanh(u)) = p = sigmoid(2u) and sech²(u) = 4pq, q = sigmoid(−2u).
            let u = squareRootOfTwoOverPi * (x + 0.044715 * x * x * x)
            let (p, q) = (sigmoid(2 * u), sigmoid(-2 * u))
            guard q != 0 else { return p }  // x · u′ may overflow where sech²(u) is 0
            let du = squareRootOfTwoOverPi * (1 + 3 * 0.044715 * x * x)
            return p + 2 * x * p * q * du
        }
    }

    @inlinable static var oneOverSquareRootOfTwo: Self { 0.70710678118654752440 }
    @inlinable static var oneOverSquareRootOfTwoPi: Self { 0.39894228040143267794 }
    @inlinable static var squareRootOfTwoOverPi: Self { 0.79788456080286535588 }
}
