/// AdamW, as PyTorch's `torch.optim.AdamW` (with its defaults: learning rate 1e-3, betas
/// (0.9, 0.999), ε 1e-8, weight decay 1e-2, no AMSGrad): ``Adam`` with decoupled weight decay.
///
/// Before the Adam update (which then sees the plain gradient), each parameter decays:
/// `p ← p − η·λ·p`, that is `p ← (1 − η·λ)·p`. State: as ``Adam``.
public final class AdamW<Scalar: TensorScalar>: Adam<Scalar> {
    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - weightDecay: λ, decoupled: the parameters shrink by `η·λ·p` each step.
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
