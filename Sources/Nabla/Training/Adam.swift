/// Adam, as PyTorch's `torch.optim.Adam` (with its defaults: learning rate 1e-3, betas
/// (0.9, 0.999), ε 1e-8, no weight decay, no AMSGrad).
///
/// For each parameter `p` with gradient `g`, at step `t` (counted per parameter from 1), with
/// `m` and `v` starting at zero:
/// ```
/// g ← g + λ·p                                  (weight decay λ ≠ 0, an L2 penalty)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̄ ← max(v̄, v)  with AMSGrad (then v̄ replaces v below), starting at zero
/// p ← p − η / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
/// that is `p ← p − η · m̂ / (√v̂ + ε)` with the bias-corrected `m̂ = m / (1 − β₁ᵗ)` and
/// `v̂ = v / (1 − β₂ᵗ)`; ε is added outside the square root.
///
/// State: `exp_avg` (m), `exp_avg_sq` (v), and `max_exp_avg_sq` (v̄) with AMSGrad.
///
/// ``AdamW`` decays the weights instead of adding `λ·p` to the gradient.
public class Adam<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// β₁ in `[0, 1)`: the decay of the first moment.
    public let beta1: Scalar
    /// β₂ in `[0, 1)`: the decay of the second moment.
    public let beta2: Scalar
    /// ε ≥ 0, added to `√v̂`.
    public let epsilon: Scalar
    /// λ ≥ 0.
    public let weightDecay: Scalar
    public let amsgrad: Bool
    /// Whether the weight decay is decoupled (AdamW) rather than added to the gradient.
    let decoupledWeightDecay: Bool

    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - weightDecay: λ, added to the gradient as `λ·p` (an L2 penalty, PyTorch's `Adam`); use
    ///     ``AdamW`` for decoupled weight decay.
    public convenience init(
        _ parameters: [Parameter<Scalar>], names: [String]? = nil, learningRate: Scalar = 1e-3,
        beta1: Scalar = 0.9, beta2: Scalar = 0.999, epsilon: Scalar = 1e-8, weightDecay: Scalar = 0,
        amsgrad: Bool = false
    ) {
        self.init(
            name: "Adam", parameters, names: names, learningRate: learningRate, beta1: beta1,
            beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad,
            decoupledWeightDecay: false)
    }

    init(
        name: String, _ parameters: [Parameter<Scalar>], names: [String]?, learningRate: Scalar,
        beta1: Scalar, beta2: Scalar, epsilon: Scalar, weightDecay: Scalar, amsgrad: Bool,
        decoupledWeightDecay: Bool
    ) {
        Misuse.check(beta1 >= 0 && beta1 < 1, name, "beta1 \(beta1) must be in [0, 1)")
        Misuse.check(beta2 >= 0 && beta2 < 1, name, "beta2 \(beta2) must be in [0, 1)")
        Misuse.check(epsilon >= 0 && epsilon.isFinite, name, "epsilon \(epsilon) must be finite and ≥ 0")
        Misuse.check(weightDecay >= 0 && weightDecay.isFinite, name, "weight decay \(weightDecay) must be finite and ≥ 0")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(
            name: name, parameters: parameters, keys: names, learningRate: learningRate,
            stateNames: ["exp_avg", "exp_avg_sq"] + (amsgrad ? ["max_exp_avg_sq"] : []))
    }

    override final func update(
        _ parameter: UnsafeMutableBufferPointer<Scalar>, gradient: UnsafeBufferPointer<Scalar>,
        state: ParameterState<Scalar>
    ) {
        OptimizerKernels.adam(
            parameter, gradient: gradient, firstMoment: state[0], secondMoment: state[1],
            maximumSecondMoment: amsgrad ? state[2] : nil, step: state.step,
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, decoupled: decoupledWeightDecay)
    }
}

extension OptimizerKernels {
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func adam<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, gradient g: UnsafeBufferPointer<Scalar>,
        firstMoment m: UnsafeMutableBufferPointer<Scalar>, secondMoment v: UnsafeMutableBufferPointer<Scalar>,
        maximumSecondMoment vMax: UnsafeMutableBufferPointer<Scalar>?, step: Int,
        learningRate: Scalar, beta1: Scalar, beta2: Scalar, epsilon: Scalar, weightDecay: Scalar,
        decoupled: Bool
    ) {
        let stepSize = learningRate / (1 - Scalar.pow(beta1, step))
        let correction2Root = (1 - Scalar.pow(beta2, step)).squareRoot()
        let decay = 1 - learningRate * weightDecay
        if weightDecay == 0 && vMax == nil {  // the common case, in one branch-free loop
            return adamWithoutDecay(
                p, g, m, v, stepSize: stepSize, correction2Root: correction2Root, beta1: beta1, beta2: beta2,
                epsilon: epsilon)
        }
        for i in p.indices {
            var d = g[i]
            if weightDecay != 0 {
                if decoupled { p[i] *= decay } else { d += weightDecay * p[i] }
            }
            m[i] = beta1 * m[i] + (1 - beta1) * d
            v[i] = beta2 * v[i] + (1 - beta2) * d * d
            var second = v[i]
            if let vMax {
                // NaN-propagating, as torch.maximum.
                vMax[i] = Scalar.maximumPropagatingNaN(vMax[i], v[i])
                second = vMax[i]
            }
            p[i] -= stepSize * m[i] / (second.squareRoot() / correction2Root + epsilon)
        }
    }

    /// Adam's update with no weight decay and no AMSGrad, as one loop that vectorizes.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func adamWithoutDecay<Scalar: TensorScalar>(
        _ p: UnsafeMutableBufferPointer<Scalar>, _ g: UnsafeBufferPointer<Scalar>,
        _ m: UnsafeMutableBufferPointer<Scalar>, _ v: UnsafeMutableBufferPointer<Scalar>,
        stepSize: Scalar, correction2Root: Scalar, beta1: Scalar, beta2: Scalar, epsilon: Scalar
    ) {
        let count = p.count
        guard count > 0 else { return }
        let (p, g, m, v) = (p.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!)
        let (oneMinusBeta1, oneMinusBeta2) = (1 - beta1, 1 - beta2)
        // Eight at a time (the scalar `squareRoot` is a libm call that blocks vectorizing), then
        // the tail; both round exactly alike.
        typealias Vector = SIMD8<Scalar>
        let width = Vector.scalarCount
        var start = 0
        while start + width <= count {
            let d = UnsafeRawPointer(g + start).loadUnaligned(as: Vector.self)
            let first = beta1 * UnsafeRawPointer(m + start).loadUnaligned(as: Vector.self) + oneMinusBeta1 * d
            let second = beta2 * UnsafeRawPointer(v + start).loadUnaligned(as: Vector.self) + oneMinusBeta2 * d * d
            let parameter = UnsafeRawPointer(p + start).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(m + start).storeBytes(of: first, as: Vector.self)
            UnsafeMutableRawPointer(v + start).storeBytes(of: second, as: Vector.self)
            UnsafeMutableRawPointer(p + start).storeBytes(
                of: parameter - stepSize * first / (ElementwiseKernels.squareRoots(second) / correction2Root + epsilon),
                as: Vector.self)
            start += width
        }
        for i in start..<count {
            let d = g[i]
            let first = beta1 * m[i] + oneMinusBeta1 * d
            let second = beta2 * v[i] + oneMinusBeta2 * d * d
            m[i] = first
            v[i] = second
            p[i] -= stepSize * first / (second.squareRoot() / correction2Root + epsilon)
        }
    }
}
