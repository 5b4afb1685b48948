/// AdamW, as PyTorch's `torch.optim.AdamW` (with its defaults: learning rate 1e-3, betas
/// (0.9, 0.999), ε 1e-8, weight decay 1e-2, no AMSGrad): ``Adam`` with decoupled weight decay.
///
/// Before the Adam update (which then sees the plain gradient), each parameter decays:
/// `p ← p − η·λ·p`, that is `p ← (1 − η·λ)·p`. State: as ``Adam``.
public final class AdamW<Scalar: TensorScalar>: Adam<Scalar> {
    /// Creates an AdamW optimizer for `parameters`, with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - learningRate: η, finite and ≥ 0; ``Optimizer/learningRate`` can change it later.
    ///   - beta1: β₁ in `[0, 1)`, the decay of the first moment `m`.
    ///   - beta2: β₂ in `[0, 1)`, the decay of the second moment `v`.
    ///   - epsilon: ε, finite and ≥ 0, added to `√v̂`.
    ///   - weightDecay: λ, decoupled: the parameters shrink by `η·λ·p` each step.
    ///   - amsgrad: Whether to divide by the running maximum v̄ of `v` (AMSGrad).
    public init(
        _ parameters: [Parameter<Scalar>], names: [String]? = nil, learningRate: Scalar = 1e-3,
        beta1: Scalar = 0.9, beta2: Scalar = 0.999, epsilon: Scalar = 1e-8, weightDecay: Scalar = 1e-2,
        amsgrad: Bool = false
    ) {
        super.init(
            name: "AdamW", parameters, names: names, learningRate: learningRate, beta1: beta1,
            beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, amsgrad: amsgrad,
            decoupledWeightDecay: true)
    }
}
