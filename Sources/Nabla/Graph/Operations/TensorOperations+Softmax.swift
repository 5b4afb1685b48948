// Softmax, log-softmax and cross-entropy. The forwards subtract the maximum along the axis
// (softmax is shift-invariant, so treating it as a constant is exact); the backward rules are
// written with differentiable ops and read the op's output, so they can be differentiated again.

extension TensorOperations {
    /// The softmax along `axis`: `exp(x) / sum(exp(x), axis)`, computed stably.
    ///
    /// - Parameters:
    ///   - x: Any shape; `axis` must not be empty.
    ///   - axis: The axis to normalize along; negative values count from the end.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: The shape of `x`; every slice along `axis` sums to 1.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func softmax(
        _ x: Variable<Scalar>, alongAxis axis: Int = -1,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.softmax(x.value, alongAxis: axis)
        let axis = Misuse.resolveAxis("softmax", axis, shape: x.shape)
        return record("softmax", [x], value, file: file, line: line) { y, g, _ in
            // ∂x = y ⊙ (g − Σ_axis g ⊙ y)
            [y * (g - sum(g * y, alongAxes: [axis], keepingDimensions: true))]
        }
    }

    /// The log-softmax along `axis`: `x − log(sum(exp(x), axis))`, computed stably.
    ///
    /// - Parameters:
    ///   - x: Any shape; `axis` must not be empty.
    ///   - axis: The axis to normalize along; negative values count from the end.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: The shape of `x`. Finite wherever `x` is finite, even for large `|x|`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func logSoftmax(
        _ x: Variable<Scalar>, alongAxis axis: Int = -1,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.logSoftmax(x.value, alongAxis: axis)
        let axis = Misuse.resolveAxis("logSoftmax", axis, shape: x.shape)
        return record("logSoftmax", [x], value, file: file, line: line) { y, g, _ in
            // ∂x = g − softmax(x) ⊙ Σ_axis g, with softmax(x) = exp(y).
            [g - exp(y) * sum(g, alongAxes: [axis], keepingDimensions: true)]
        }
    }

    /// The mean cross-entropy of `logits` against target distributions `labels`:
    /// `−(1/N) Σₙ Σ_c labels[n, c] · logSoftmax(logits)[n, c]`.
    ///
    /// Stable for large logits; the gradient with respect to `logits` is
    /// `(softmax(logits) − labels) / N` when each row of `labels` sums to 1.
    ///
    /// - Parameters:
    ///   - logits: `[N, C]` unnormalized scores.
    ///   - labels: `[N, C]` one-hot or probability rows, a constant.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: A scalar (shape `[]`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func crossEntropy(
        logits: Variable<Scalar>, labels: Tensor<Scalar>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "crossEntropy"
        Misuse.check(
            logits.shape.count == 2, op, "logits \(logits.shape) must be [N, C]")
        Misuse.check(
            labels.shape == logits.shape, op,
            "logits \(logits.shape) and labels \(labels.shape): shapes differ")
        Misuse.check(logits.shape[0] > 0, op, "logits \(logits.shape): the batch is empty")
        let logProbabilities = logSoftmax(logits, alongAxis: 1, file: file, line: line)
        // A zero label contributes 0 even where its log-probability is −∞ (a masked logit).
        let total = sum(guardedMultiply(constant(labels), logProbabilities, file: file, line: line))
        return scale(total, by: -1 / Scalar(logits.shape[0]), file: file, line: line)
    }

    /// The mean cross-entropy of `logits` against class indices: `crossEntropy(logits:labels:)`
    /// with one-hot labels.
    ///
    /// - Parameters:
    ///   - logits: `[N, C]` unnormalized scores.
    ///   - classIndices: `N` classes, each in `0..<C`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: A scalar (shape `[]`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func crossEntropy(
        logits: Variable<Scalar>, classIndices: [Int],
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "crossEntropy"
        Misuse.check(logits.shape.count == 2, op, "logits \(logits.shape) must be [N, C]")
        let (count, classes) = (logits.shape[0], logits.shape[1])
        Misuse.check(
            classIndices.count == count, op,
            "logits \(logits.shape) and \(classIndices.count) class indices: counts differ")
        var oneHot = [Scalar](repeating: 0, count: count * classes)
        for (row, index) in classIndices.enumerated() {
            Misuse.check(
                (0..<classes).contains(index), op,
                "class index \(index) at row \(row) is out of range for logits \(logits.shape)")
            oneHot[row * classes + index] = 1
        }
        return crossEntropy(
            logits: logits, labels: Tensor(shape: logits.shape, scalars: oneHot), file: file, line: line)
    }
}
