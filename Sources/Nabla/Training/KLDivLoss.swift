/// The Kullback–Leibler divergence of a target distribution from log-probabilities, as
/// PyTorch's `KLDivLoss(reduction, log_target)`.
///
/// For log-probabilities `x` and a target `t` of the same shape, each element adds
/// `t · (log t − x)`, and 0 where `t = 0` (even where `x` is −∞); with `logTarget` the target is
/// given as `log t`. ``LossReduction/batchMean`` (the default here; PyTorch's default `mean`
/// averages over every element, which is not the divergence) divides the sum by the batch size
/// `N` (the first axis), ``LossReduction/mean`` by the element count. The gradient with respect
/// to `x` is `−t` over the same divisor.
public struct KLDivLoss<Scalar: TensorScalar>: Loss {
    public let reduction: LossReduction
    /// Whether the target holds log-probabilities.
    public let logTarget: Bool

    public init(reduction: LossReduction = .batchMean, logTarget: Bool = false) {
        self.reduction = reduction
        self.logTarget = logTarget
    }

    /// - Parameters:
    ///   - logProbabilities: `[N, …]`, `N ≥ 1`.
    ///   - target: probabilities (or, with `logTarget`, log-probabilities) of the same shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ logProbabilities: Tensor<Scalar>, target: Tensor<Scalar>)
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        let (probabilities, entropyTerms, divisor) = prepare(logProbabilities.shape, target)
        let crossTerms = zip(probabilities.scalars, logProbabilities.scalars).map { t, x in t == 0 ? 0 : t * x }
        let value = (entropyTerms.sum().scalar - crossTerms.reduce(0, +)) / divisor
        return (value, probabilities * (-1 / divisor))
    }

    /// The loss on the tape: `(Σ t log t − Σ t ⊙ x) / divisor`, with `t ⊙ x` 0 where `t` is 0;
    /// differentiable to any order with respect to `x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ logProbabilities: Variable<Scalar>, target: Tensor<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        let (probabilities, entropyTerms, divisor) = prepare(logProbabilities.shape, target)
        let cross = Ops.sum(Ops.guardedMultiply(Ops.constant(probabilities), logProbabilities))
        return Ops.divide(Ops.constant(Tensor(entropyTerms.sum().scalar)) - cross, by: divisor)
    }

    /// The target as probabilities, its terms `t log t` (0 where `t` is 0), and the divisor.
    private func prepare(_ shape: [Int], _ target: Tensor<Scalar>)
        -> (probabilities: Tensor<Scalar>, entropyTerms: Tensor<Scalar>, divisor: Scalar)
    {
        let op = "KLDivLoss"
        Misuse.check(!shape.isEmpty && shape[0] > 0, op, "log-probabilities \(shape) must be [N, …] with N ≥ 1")
        Misuse.check(
            target.shape == shape, op, "log-probabilities \(shape) and target \(target.shape): shapes differ")
        let probabilities = logTarget ? exp(target) : target
        // t · log t, 0 where t is 0 (where a log target is −∞, too).
        let entropyTerms = Tensor(shape: shape, scalars: zip(probabilities.scalars, target.scalars).map { t, given in
            t == 0 ? 0 : t * (logTarget ? given : Scalar.log(t))
        })
        let divisor: Scalar = switch reduction {
        case .batchMean: Scalar(shape[0])
        case .mean: Scalar(target.scalarCount)
        case .sum: 1
        }
        return (probabilities, entropyTerms, divisor)
    }
}
