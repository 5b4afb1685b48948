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
    /// Whether the update divides by the running maximum v̄ of the second moment (AMSGrad).
    public let amsgrad: Bool
    /// Whether the weight decay is decoupled (AdamW) rather than added to the gradient.
    let decoupledWeightDecay: Bool

    /// Creates an Adam optimizer for `parameters`, with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - learningRate: η, finite and ≥ 0; ``Optimizer/learningRate`` can change it later.
    ///   - beta1: β₁ in `[0, 1)`, the decay of the first moment `m`.
    ///   - beta2: β₂ in `[0, 1)`, the decay of the second moment `v`.
    ///   - epsilon: ε, finite and ≥ 0, added to `√v̂`.
    ///   - weightDecay: λ, added to the gradient as `λ·p` (an L2 penalty, PyTorch's `Adam`); use
    ///     ``AdamW`` for decoupled weight decay.
    ///   - amsgrad: Whether to divide by the running maximum v̄ of `v` (AMSGrad).
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
