/// Stochastic gradient descent with momentum, Nesterov momentum and weight decay, as PyTorch's
/// `torch.optim.SGD` (with its defaults: learning rate 1e-3, no momentum, no dampening, no
/// weight decay).
///
/// For each parameter `p` with gradient `g`, at step `t` (counted per parameter from 1):
/// ```
/// g ← g + λ·p                                  (weight decay λ ≠ 0, an L2 penalty)
/// if μ ≠ 0:
///     b ← g                     at t = 1       (the buffer starts as the first gradient)
///     b ← μ·b + (1 − τ)·g       at t > 1       (dampening τ)
///     g ← g + μ·b  with Nesterov,  g ← b  without
/// p ← p − η·g
/// ```
/// State: `momentum_buffer` when μ ≠ 0.
public final class SGD<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// μ ≥ 0.
    public let momentum: Scalar
    /// τ: how much of each new gradient the momentum buffer leaves out.
    public let dampening: Scalar
    /// λ ≥ 0, added to the gradient as `λ·p`.
    public let weightDecay: Scalar
    /// Whether the update uses Nesterov momentum (`g + μ·b`) rather than the buffer `b`.
    public let nesterov: Bool

    /// Creates an SGD optimizer for `parameters`, with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - learningRate: η, finite and ≥ 0; ``Optimizer/learningRate`` can change it later.
    ///   - momentum: μ, finite and ≥ 0; 0 for plain gradient descent.
    ///   - dampening: τ, finite: how much of each new gradient the momentum buffer leaves out.
    ///   - weightDecay: λ, finite and ≥ 0, added to the gradient as `λ·p` (an L2 penalty).
    ///   - nesterov: Needs `momentum > 0` and `dampening == 0`, as in PyTorch.
    public init(
        _ parameters: [Parameter<Scalar>], names: [String]? = nil, learningRate: Scalar = 1e-3,
        momentum: Scalar = 0, dampening: Scalar = 0, weightDecay: Scalar = 0, nesterov: Bool = false
    ) {
        let name = "SGD"
        Misuse.check(momentum >= 0 && momentum.isFinite, name, "momentum \(momentum) must be finite and ≥ 0")
        Misuse.check(dampening.isFinite, name, "dampening \(dampening) must be finite")
        Misuse.check(weightDecay >= 0 && weightDecay.isFinite, name, "weight decay \(weightDecay) must be finite and ≥ 0")
        Misuse.check(
            !nesterov || (momentum > 0 && dampening == 0), name,
            "Nesterov momentum needs momentum > 0 and zero dampening (momentum \(momentum), dampening \(dampening))")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        super.init(
            name: name, parameters: parameters, keys: names, learningRate: learningRate,
            stateNames: momentum != 0 ? ["momentum_buffer"] : [])
    }

    override func update(
        _ parameter: UnsafeMutableBufferPointer<Scalar>, gradient: UnsafeBufferPointer<Scalar>,
        state: ParameterState<Scalar>
    ) {
        OptimizerKernels.sgd(
            parameter, gradient: gradient, momentumBuffer: momentum != 0 ? state[0] : nil,
            isFirstStep: state.step == 1, learningRate: learningRate, momentum: momentum,
            dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
    }
}
