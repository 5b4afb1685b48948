import RealModule

// Smooth and piecewise activations with their first two derivatives, one scalar definition each,
// shared by the tensor functions, the tape's ops and the layers' manual backwards.

/// An elementwise activation whose value and first two derivatives Nabla computes directly:
/// each takes its limits at ±∞ (where a product such as `x · σ(x)` would give `−∞ · 0 = NaN`),
/// and a NaN input gives NaN at every order.
public enum PointwiseActivation: Sendable, Hashable, CustomStringConvertible {
    /// `x · σ(x)` (SiLU, or swish).
    case silu
    /// `x` where positive, `α · (eˣ − 1)` elsewhere.
    case elu(alpha: Double)
    /// `log(1 + e^{βx}) / β`, and `x` where `βx > threshold`, as PyTorch's `Softplus`.
    case softplus(beta: Double, threshold: Double)
    /// `x · relu6(x + 3) / 6`.
    case hardswish
    /// `x · tanh(softplus(x))`.
    case mish

    public var description: String {
        switch self {
        case .silu: "silu"
        case .elu(let alpha): "elu(alpha: \(alpha))"
        case .softplus(let beta, let threshold): "softplus(beta: \(beta), threshold: \(threshold))"
        case .hardswish: "hardswish"
        case .mish: "mish"
        }
    }

    /// The value (`order` 0), the derivative (1) or the second derivative (2) at `x`.
    @inlinable
    public func callAsFunction<Scalar: TensorScalar>(_ x: Scalar, order: Int = 0) -> Scalar {
        if x.isNaN { return x }
        switch self {
        case .silu:
            if x.isInfinite { return x > 0 ? Self.identity(x, order: order) : 0 }
            let (p, q) = (Scalar.sigmoid(x), Scalar.sigmoid(-x))
            switch order {
            case 0: return x * p
            case 1: return p + x * p * q
            default: return p * q * (2 + x * (q - p))
            }
        case .elu(let alpha):
            if x > 0 { return Self.identity(x, order: order) }
            return Scalar(alpha) * (order == 0 ? Scalar.expMinusOne(x) : Scalar.exp(x))
        case .softplus(let beta, let threshold):
            let z = Scalar(beta) * x
            if z > Scalar(threshold) { return Self.identity(x, order: order) }
            switch order {
            case 0: return Self.softplus(z) / Scalar(beta)
            case 1: return Scalar.sigmoid(z)
            default: return Scalar(beta) * Scalar.sigmoid(z) * Scalar.sigmoid(-z)
            }
        case .hardswish:
            // PyTorch's convention at the kinks: the middle piece's slope on [−3, 3].
            if x < -3 { return 0 }
            if x > 3 { return Self.identity(x, order: order) }
            switch order {
            case 0: return x * (x + 3) / 6
            case 1: return (2 * x + 3) / 6
            default: return 1 / 3
            }
        case .mish:
            if x.isInfinite { return x > 0 ? Self.identity(x, order: order) : 0 }
            let softplus = Self.softplus(x)
            let t = Scalar.tanh(softplus)
            if order == 0 { return x * t }
            let (s, cosh) = (Scalar.sigmoid(x), Scalar.cosh(softplus))
            let sech2 = 1 / (cosh * cosh)  // 0, not 1 − 1, where cosh overflows
            return order == 1 ? t + x * sech2 * s : sech2 * s * (2 + x * (1 - s - 2 * t * s))
        }
    }

    /// `x`, 1 and 0 for the orders 0, 1 and 2: where the activation is the identity.
    @inlinable @inline(__always)
    static func identity<Scalar: TensorScalar>(_ x: Scalar, order: Int) -> Scalar {
        order == 0 ? x : (order == 1 ? 1 : 0)
    }

    /// `log(1 + eˣ)`, without overflow.
    @inlinable @inline(__always)
    static func softplus<Scalar: TensorScalar>(_ x: Scalar) -> Scalar {
        x > 0 ? x + Scalar.log(onePlus: Scalar.exp(-x)) : Scalar.log(onePlus: Scalar.exp(x))
    }

    /// Checks the parameters: `α` finite; `β` positive and finite, the threshold finite.
    func check(_ layer: String) {
        switch self {
        case .elu(let alpha):
            Misuse.check(alpha.isFinite, layer, "alpha \(alpha) must be finite")
        case .softplus(let beta, let threshold):
            Misuse.check(
                beta > 0 && beta.isFinite && threshold.isFinite, layer,
                "beta \(beta) must be positive and finite, threshold \(threshold) finite")
        case .silu, .hardswish, .mish:
            break
        }
    }
}

/// `activation` applied elementwise: its value, or with `order` 1 or 2 its derivative.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func activate<Scalar>(
    _ x: Tensor<Scalar>, _ activation: PointwiseActivation, order: Int = 0
) -> Tensor<Scalar> {
    Misuse.check((0...2).contains(order), "\(activation)", "derivative order \(order): 0, 1 and 2 are available")
    return x.map { activation($0, order: order) }
}

/// `∂L/∂x = ∂L/∂y ⊙ f′(x)` for `y = activation(x)`, the manual backward of an activation layer.
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
@inlinable public func activationGradient<Scalar>(
    _ outputGradient: Tensor<Scalar>, input x: Tensor<Scalar>, _ activation: PointwiseActivation
) -> Tensor<Scalar> {
    Tensor.broadcasting("\(activation)", outputGradient, x) { g, x in g * activation(x, order: 1) }
}
