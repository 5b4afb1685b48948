/// How a loss reduces its per-element (or per-sample) terms to one value, as PyTorch's `reduction`.
public enum LossReduction: Sendable, Hashable {
    /// The mean: over the samples for ``NLLLoss`` (weighted by their class weights), over every
    /// element for ``KLDivLoss``.
    case mean
    /// The sum.
    case sum
    /// The sum divided by the batch size: ``KLDivLoss``'s `batchmean`, the mean the definition
    /// of the divergence asks for.
    case batchMean
}

/// The negative log-likelihood of class indices under log-probabilities, as PyTorch's
/// `NLLLoss(weight, ignore_index, reduction)`.
///
/// For log-probabilities `x` (`[N, C]`, say a ``LogSoftmax`` output) and targets `yₙ`, each sample
/// not ignored adds `−w[yₙ] · x[n, yₙ]`; ``LossReduction/mean`` divides the sum by `Σ w[yₙ]` over
/// those samples (PyTorch's weighted mean), ``LossReduction/sum`` does not. A batch whose every
/// sample is ignored has no mean: the loss is NaN, as in PyTorch. Only the target entries get a
/// gradient, `−w[yₙ]` over the same divisor.
public struct NLLLoss<Scalar: TensorScalar>: Loss {
    /// `[C]` class weights, or `nil` for 1 each.
    public let weight: Tensor<Scalar>?
    /// The target value whose samples add nothing (PyTorch's default −100).
    public let ignoreIndex: Int
    /// ``LossReduction/mean`` or ``LossReduction/sum``.
    public let reduction: LossReduction

    public init(weight: Tensor<Scalar>? = nil, ignoreIndex: Int = -100, reduction: LossReduction = .mean) {
        Misuse.check(reduction != .batchMean, "NLLLoss", "reduction batchMean is KLDivLoss's; use mean or sum")
        if let weight {
            Misuse.check(weight.rank == 1, "NLLLoss", "weight \(weight.shape) must be [C]")
        }
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    /// - Parameters:
    ///   - logProbabilities: `[N, C]`, `N ≥ 1`.
    ///   - target: `N` class indices, each in `0..<C` or ``ignoreIndex``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ logProbabilities: Tensor<Scalar>, target: [Int])
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        let coefficients = self.coefficients(logProbabilities.shape, target)
        let value = (logProbabilities * coefficients).sum().scalar
        return (value, coefficients)
    }

    /// The loss on the tape: `Σ c ⊙ x` with the constant coefficients `c` (`−w[yₙ]` over the
    /// divisor at each target entry, 0 elsewhere), differentiable to any order.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ logProbabilities: Variable<Scalar>, target: [Int]) -> Variable<Scalar> {
        let coefficients = self.coefficients(logProbabilities.shape, target)
        return TensorOperations.sum(
            TensorOperations.guardedMultiply(TensorOperations.constant(coefficients), logProbabilities))
    }

    /// `−w[yₙ] / divisor` at each target entry, 0 elsewhere (even where `x` is −∞), `[N, C]`.
    private func coefficients(_ shape: [Int], _ target: [Int]) -> Tensor<Scalar> {
        let op = "NLLLoss"
        Misuse.check(shape.count == 2 && shape[0] > 0 && shape[1] > 0, op, "log-probabilities \(shape) must be [N, C], both positive")
        Misuse.check(target.count == shape[0], op, "log-probabilities \(shape) and \(target.count) class indices: counts differ")
        let classes = shape[1]
        if let weight {
            Misuse.check(weight.shape == [classes], op, "weight \(weight.shape) for log-probabilities \(shape): expected [\(classes)]")
        }
        let weights = weight?.scalars ?? Array(repeating: 1, count: classes)
        var values = [Scalar](repeating: 0, count: shape[0] * classes)
        var total: Scalar = 0
        for (row, index) in target.enumerated() where index != ignoreIndex {
            Misuse.check(
                (0..<classes).contains(index), op,
                "class index \(index) at row \(row) is out of range for log-probabilities \(shape) (ignoreIndex \(ignoreIndex))")
            values[row * classes + index] = -weights[index]
            total += weights[index]
        }
        let divisor = reduction == .mean ? total : 1
        return Tensor(shape: shape, scalars: values.map { $0 / divisor })
    }
}
