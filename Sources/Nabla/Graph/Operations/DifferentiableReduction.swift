// Reductions, broadcasting and their backward rules. `reduce(_:toShape:)` and
// `broadcast(_:toShape:)` are each other's backward, and undo broadcasting everywhere.

extension TensorOperations {
    /// The sum along `axes` (all axes if `nil`).
    public static func sum(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let resolved = Misuse.resolveAxes("sum", axes ?? Array(x.shape.indices), shape: x.shape)
        let value = x.value.sum(alongAxes: resolved, keepingDimensions: keepingDimensions)
        return record("sum", [x], value, file: file, line: line) { g, _ in
            let kept = x.value.reducedShape(resolved, keepingDimensions: true)
            return [broadcast(reshape(g, to: kept), toShape: x.shape)]
        }
    }

    /// The mean along `axes` (all axes if `nil`).
    public static func mean(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let resolved = Misuse.resolveAxes("mean", axes ?? Array(x.shape.indices), shape: x.shape)
        let count = resolved.map { x.shape[$0] }.reduce(1, *)
        Misuse.check(count > 0, "mean", "axes \(resolved) of shape \(x.shape) are empty")
        return divide(
            sum(x, alongAxes: resolved, keepingDimensions: keepingDimensions, file: file, line: line),
            by: Scalar(count), file: file, line: line)
    }

    /// The maximum along `axes` (all axes if `nil`). The gradient is shared equally among tied
    /// maxima.
    public static func max(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let resolved = Misuse.resolveAxes("max", axes ?? Array(x.shape.indices), shape: x.shape)
        let kept = x.value.max(alongAxes: resolved, keepingDimensions: true)
        let value = kept.reshaped(to: x.value.reducedShape(resolved, keepingDimensions: keepingDimensions))
        return record("max", [x], value, file: file, line: line) { g, _ in
            let isMax = Tensor.broadcasting("max", x.value, kept) { $0 == $1 ? 1 : 0 }
            let share = isMax / isMax.sum(alongAxes: resolved, keepingDimensions: true)
            return [broadcast(reshape(g, to: kept.shape), toShape: x.shape) * constant(share)]
        }
    }

    /// The variance along `axes` (all axes if `nil`): the mean squared deviation.
    public static func variance(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        // A constant pivot per group makes a constant group's deviation exactly 0 (see
        // `Tensor.variance(alongAxes:keepingDimensions:correction:)`).
        let resolved = Misuse.resolveAxes("variance", axes ?? Array(x.shape.indices), shape: x.shape)
        let shifted = x - constant(x.value.pivot(alongAxes: resolved))
        let deviation = shifted - mean(shifted, alongAxes: resolved, keepingDimensions: true, file: file, line: line)
        return mean(square(deviation), alongAxes: resolved, keepingDimensions: keepingDimensions)
    }

    /// `x` repeated along its size-1 axes to `shape` (NumPy broadcasting).
    public static func broadcast(
        _ x: Variable<Scalar>, toShape shape: [Int], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        if x.shape == shape { return x }
        return record("broadcast", [x], x.value.broadcasted(to: shape), file: file, line: line) { g, _ in
            [reduce(g, toShape: x.shape)]
        }
    }

    /// Sums `x` down to `shape`, the shape it was broadcast from: the adjoint of ``broadcast(_:toShape:file:line:)``.
    public static func reduce(
        _ x: Variable<Scalar>, toShape shape: [Int], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        if x.shape == shape { return x }
        return record("reduce", [x], x.value.unbroadcasted(to: shape), file: file, line: line) { g, _ in
            [broadcast(g, toShape: x.shape)]
        }
    }
}
