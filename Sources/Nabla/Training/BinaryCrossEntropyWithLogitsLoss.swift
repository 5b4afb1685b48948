/// Binary cross-entropy from logits, as PyTorch's `BCEWithLogitsLoss()` (no `weight`, no
/// `pos_weight`), averaged over **every element**:
///
/// `loss = (1/n) Σᵢ ℓ(xᵢ, yᵢ)`, with `ℓ(x, y) = −y·log σ(x) − (1 − y)·log(1 − σ(x))`,
///
/// computed stably as `max(x, 0) − x·y + log1p(exp(−|x|))`. The linear part comes first, so a
/// confident right answer cancels exactly and the small `log1p` term survives; nothing
/// overflows for any finite logit, and infinite logits give the limits (0 for `x = +∞, y = 1`
/// and for `x = −∞, y = 0`). The gradient with respect to the logits is `(σ(x) − y) / n`.
///
/// Targets are usually 0 or 1, but any value is accepted (soft targets in `[0, 1]`).
public struct BinaryCrossEntropyWithLogitsLoss<Scalar: TensorScalar>: Loss {
    public init() {}

    /// - Parameters:
    ///   - logits: Any non-empty shape.
    ///   - target: The shape of `logits`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func valueAndGradient(_ logits: Tensor<Scalar>, target: Tensor<Scalar>)
        -> (value: Scalar, gradient: Tensor<Scalar>)
    {
        Misuse.checkLossShapes("BinaryCrossEntropyWithLogitsLoss", prediction: logits.shape, target: target.shape)
        let count = Scalar(logits.scalarCount)
        let (sum, gradient) = logits.lossTerms(pairedWith: target) { x, y in
            (Scalar.binaryCrossEntropy(logit: x, target: y), (Scalar.sigmoid(x) - y) / count)
        }
        return (sum / count, gradient)
    }

    /// `mean(binaryCrossEntropy(logits:targets:))`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func callAsFunction(_ logits: Variable<Scalar>, target: Tensor<Scalar>) -> Variable<Scalar> {
        Misuse.checkLossShapes("BinaryCrossEntropyWithLogitsLoss", prediction: logits.shape, target: target.shape)
        return TensorOperations.mean(TensorOperations.binaryCrossEntropy(logits: logits, targets: target))
    }
}

extension TensorOperations {
    /// The elementwise binary cross-entropy of `logits` against constant `targets`,
    /// `max(x, 0) − x·y + log1p(exp(−|x|))`, unreduced (see ``BinaryCrossEntropyWithLogitsLoss``).
    ///
    /// Its derivative with respect to `x` is `σ(x) − y`, recorded with differentiable ops, so it
    /// can be differentiated again (the second derivative is `σ(x)(1 − σ(x))`). A formula built
    /// from `relu` and `abs` would get the gradient wrong at exactly `x = 0`.
    ///
    /// - Parameters:
    ///   - logits: Any shape.
    ///   - targets: The shape of `logits`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    public static func binaryCrossEntropy(
        logits: Variable<Scalar>, targets: Tensor<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        Misuse.check(
            logits.shape == targets.shape, "binaryCrossEntropy",
            "logits \(logits.shape) and targets \(targets.shape): shapes differ")
        let value = Tensor.broadcasting("binaryCrossEntropy", logits.value, targets) {
            Scalar.binaryCrossEntropy(logit: $0, target: $1)
        }
        return record("binaryCrossEntropy", [logits], value, file: file, line: line) { g, _ in
            [guardedMultiply(g, subtract(sigmoid(logits), constant(targets)))]
        }
    }
}

extension TensorScalar {
    /// `max(x, 0) − x·y + log1p(exp(−|x|))`, with `0 · ∞ = 0` in the linear part so that
    /// infinite logits give the limit (a plain `∞ − ∞` would be NaN).
    @inline(__always)
    static func binaryCrossEntropy(logit x: Self, target y: Self) -> Self {
        let tail = log(onePlus: exp(-Swift.abs(x)))
        guard x.isInfinite else { return ((x > 0 ? x : 0) - x * y) + tail }
        let weight = x > 0 ? 1 - y : -y
        return (weight == 0 ? 0 : weight * x) + tail
    }
}
