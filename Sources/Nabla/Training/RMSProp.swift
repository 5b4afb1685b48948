/// RMSProp, as PyTorch's `torch.optim.RMSprop` (with its defaults: learning rate 1e-2, α 0.99,
/// ε 1e-8, no weight decay, no momentum, not centered).
///
/// For each parameter `p` with gradient `g`, with every buffer starting at zero:
/// ```
/// g ← g + λ·p                                  (weight decay λ ≠ 0)
/// s ← α·s + (1 − α)·g²
/// centered:  ḡ ← α·ḡ + (1 − α)·g,  a ← √(s − ḡ²) + ε
/// otherwise: a ← √s + ε                       (ε outside the square root)
/// momentum μ > 0:  b ← μ·b + g / a,  p ← p − η·b
/// otherwise:       p ← p − η·g / a
/// ```
/// State: `square_avg` (s), `momentum_buffer` (b) when μ > 0, `grad_avg` (ḡ) when centered.
public final class RMSProp<Scalar: TensorScalar>: Optimizer<Scalar> {
    /// α in `[0, 1]`: the decay of the squared-gradient average.
    public let alpha: Scalar
    /// ε ≥ 0, added to the root.
    public let epsilon: Scalar
    /// λ ≥ 0.
    public let weightDecay: Scalar
    /// μ ≥ 0.
    public let momentum: Scalar
    /// Whether the squared average is centered by the gradient average (an estimate of the
    /// variance rather than the second moment).
    public let centered: Bool

    /// Creates an RMSProp optimizer for `parameters`, with PyTorch's defaults.
    ///
    /// - Parameters:
    ///   - parameters: The parameters to update, each listed once.
    ///   - names: Their keys in the saved state; their indices by default.
    ///   - learningRate: η, finite and ≥ 0; ``Optimizer/learningRate`` can change it later.
    ///   - alpha: α in `[0, 1]`, the decay of the squared-gradient average `s`.
    ///   - epsilon: ε, finite and ≥ 0, added to the root.
    ///   - weightDecay: λ, finite and ≥ 0, added to the gradient as `λ·p`.
    ///   - momentum: μ, finite and ≥ 0; above 0 the update goes through a momentum buffer `b`.
    ///   - centered: Whether to subtract the squared gradient average `ḡ²` from `s` (an estimate
    ///     of the variance rather than the second moment).
    public init(
        _ parameters: [Parameter<Scalar>], names: [String]? = nil, learningRate: Scalar = 1e-2,
        alpha: Scalar = 0.99, epsilon: Scalar = 1e-8, weightDecay: Scalar = 0, momentum: Scalar = 0,
        centered: Bool = false
    ) {
        let name = "RMSProp"
        Misuse.check(alpha >= 0 && alpha <= 1, name, "alpha \(alpha) must be in [0, 1]")
        Misuse.check(epsilon >= 0 && epsilon.isFinite, name, "epsilon \(epsilon) must be finite and ≥ 0")
        Misuse.check(weightDecay >= 0 && weightDecay.isFinite, name, "weight decay \(weightDecay) must be finite and ≥ 0")
        Misuse.check(momentum >= 0 && momentum.isFinite, name, "momentum \(momentum) must be finite and ≥ 0")
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        super.init(
            name: name, parameters: parameters, keys: names, learningRate: learningRate,
            stateNames: ["square_avg"] + (momentum > 0 ? ["momentum_buffer"] : []) + (centered ? ["grad_avg"] : []))
    }

    override func update(
        _ parameter: UnsafeMutableBufferPointer<Scalar>, gradient: UnsafeBufferPointer<Scalar>,
        state: ParameterState<Scalar>
    ) {
        OptimizerKernels.rmsProp(
            parameter, gradient: gradient, squareAverage: state[0],
            momentumBuffer: momentum > 0 ? state[1] : nil,
            gradientAverage: centered ? state[momentum > 0 ? 2 : 1] : nil,
            learningRate: learningRate, alpha: alpha, epsilon: epsilon, weightDecay: weightDecay,
            momentum: momentum)
    }
}
