/// Cross-entropy from logits and class indices, with optional label smoothing, as PyTorch's
/// `CrossEntropyLoss(label_smoothing: ε)` with its default `reduction='mean'`.
///
/// Each row `n` of `[N, C]` logits is compared with the target distribution
/// `qₙ = (1 − ε) · onehot(classₙ) + ε / C`, and the loss is averaged over the **batch** (the `N`
/// rows, not the `N · C` elements):
///
/// `loss = −(1/N) Σₙ Σ_c qₙ[c] · logSoftmax(logits)[n, c]`.
///
/// The gradient with respect to the logits is `(softmax(logits) − q) / N`.
///
/// Log-probabilities are computed stably (the row's maximum is subtracted first), so large
/// logits (±1e4 in `Double`, up to ±3e38 in `Float`) give the exact loss rather than NaN. A
/// class whose target probability is 0 contributes exactly 0 even where its log-probability is
/// −∞, so masked logits (−∞) leave the loss finite when ε is 0; with ε > 0 every class has a
/// target probability, and a masked class makes the loss +∞, as the definition says. Where two
/// logits of a row are further apart than the largest finite value (only near
/// ±`Float.greatestFiniteMagnitude`), their log-probability gap overflows to −∞ and a term that
/// uses it is +∞ (never NaN), even if `ε/C` times the gap would have fit.
public struct CrossEntropyLoss<Scalar: TensorScalar>: Loss {
    /// ε in `[0, 1]`: the share of each target spread uniformly over the classes.
    public let labelSmoothing: Scalar

    public init(labelSmoothing: Scalar = 0) {
        Misuse.check(
            labelSmoothing >= 0 && labelSmoothing <= 1, "CrossEntropyLoss",
            "label smoothing \(labelSmoothing) must be in [0, 1]")
        self.labelSmoothing = labelSmoothing
    }

    /// - Parameters:
    ///   - logits: `[N, C]` unnormalized scores, `N ≥ 1`.
    ///   - target: `N` class indices, each in `0..<C`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ logits: Tensor<Scalar>, target: [Int])
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        check(logits.shape, target)
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        let count = Scalar(rows)
        let (uniform, onTarget) = targetProbabilities(classes: classes)
        let (maxima, logSums) = logits.rowMaximaAndLogSums()
        let (sum, gradient) = logits.lossTerms { i, x in
            let (row, c) = i.quotientAndRemainder(dividingBy: classes)
            let logProbability = (x - maxima[row]) - logSums[row]
            let q = c == target[row] ? onTarget : uniform
            // 0 · (−∞) is 0: a class with no target probability adds nothing.
            let term = q == 0 ? 0 : q * logProbability
            return (term, (Scalar.exp(logProbability) - q) / count)
        }
        return (sum * (-1 / count), gradient)
    }

    /// The mean cross-entropy as `TensorOperations.crossEntropy(logits:labels:)` against the
    /// smoothed target distribution; differentiable to any order with respect to `logits`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Variable<Scalar>, target: [Int]) -> Variable<Scalar> {
        check(logits.shape, target)
        let classes = logits.shape[1]
        let (uniform, onTarget) = targetProbabilities(classes: classes)
        let labels = Tensor<Scalar>(unsafeUninitializedShape: logits.shape) { q in
            for i in q.indices {
                let (row, c) = i.quotientAndRemainder(dividingBy: classes)
                q[i] = c == target[row] ? onTarget : uniform
            }
        }
        return TensorOperations.crossEntropy(logits: logits, labels: labels)
    }

    /// The target probability of a class that is not the target (`ε / C`) and of the target
    /// class (`1 − ε + ε / C`).
    func targetProbabilities(classes: Int) -> (uniform: Scalar, onTarget: Scalar) {
        let uniform = labelSmoothing / Scalar(classes)
        return (uniform, (1 - labelSmoothing) + uniform)
    }

    private func check(_ shape: [Int], _ target: [Int]) {
        let op = "CrossEntropyLoss"
        Misuse.check(shape.count == 2, op, "logits \(shape) must be [N, C]")
        Misuse.check(shape[0] > 0, op, "logits \(shape): the batch is empty")
        Misuse.check(shape[1] > 0, op, "logits \(shape): there are no classes")
        Misuse.check(
            target.count == shape[0], op,
            "logits \(shape) and \(target.count) class indices: counts differ")
        for (row, index) in target.enumerated() {
            Misuse.check(
                (0..<shape[1]).contains(index), op,
                "class index \(index) at row \(row) is out of range for logits \(shape)")
        }
    }
}
