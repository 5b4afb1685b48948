// Reductions, broadcasting and their backward rules. `reduce(_:toShape:)` and
// `broadcast(_:toShape:)` are each other's backward, and undo broadcasting everywhere.

extension TensorOperations {
    /// The sum along `axes` (all axes if `nil`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    /// maxima. A NaN makes its result NaN, and the gradient NaN at the NaN (0 at the others).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func max(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        extremum("max", x, axes, keepingDimensions, file: file, line: line) {
            $0.max(alongAxes: $1, keepingDimensions: true)
        }
    }

    /// The minimum along `axes` (all axes if `nil`). The gradient is shared equally among tied
    /// minima. A NaN makes its result NaN, and the gradient NaN at the NaN (0 at the others).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func min(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        extremum("min", x, axes, keepingDimensions, file: file, line: line) {
            $0.min(alongAxes: $1, keepingDimensions: true)
        }
    }

    /// Records `max` or `min`: `reduceKeepingDimensions` computes it along the resolved axes.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func extremum(
        _ name: String, _ x: Variable<Scalar>, _ axes: [Int]?, _ keepingDimensions: Bool,
        file: StaticString, line: UInt,
        _ reduceKeepingDimensions: (Tensor<Scalar>, [Int]) -> Tensor<Scalar>
    ) -> Variable<Scalar> {
        let resolved = Misuse.resolveAxes(name, axes ?? Array(x.shape.indices), shape: x.shape)
        let kept = reduceKeepingDimensions(x.value, resolved)
        let value = kept.reshaped(to: x.value.reducedShape(resolved, keepingDimensions: keepingDimensions))
        return record(name, [x], value, file: file, line: line) { g, _ in
            // Elements equal to the result share the gradient; so do NaNs, which are the result.
            let isChosen = Tensor.broadcasting(name, x.value, kept) { $0 == $1 || $0.isNaN ? 1 : 0 }
            let share = isChosen / isChosen.sum(alongAxes: resolved, keepingDimensions: true)
            let spread = broadcast(reshape(g, to: kept.shape), toShape: x.shape) * constant(share)
            return [nanPropagated(spread, from: x.value)]
        }
    }

    /// The variance along `axes` (all axes if `nil`): the mean squared deviation.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func variance(
        _ x: Variable<Scalar>, alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        // A constant pivot per group makes a constant group's deviation exactly 0 (see
        // `Tensor.variance(alongAxes:keepingDimensions:correction:)`).
        let resolved = Misuse.resolveAxes("variance", axes ?? Array(x.shape.indices), shape: x.shape)
        Misuse.check(
            resolved.allSatisfy { x.shape[$0] > 0 }, "variance",
            "axes \(resolved) of shape \(x.shape) are empty")
        let shifted = x - constant(x.value.pivot(alongAxes: resolved))
        let deviation = shifted - mean(shifted, alongAxes: resolved, keepingDimensions: true, file: file, line: line)
        return mean(square(deviation), alongAxes: resolved, keepingDimensions: keepingDimensions)
    }

    /// `x` repeated along its size-1 axes to `shape` (NumPy broadcasting).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func broadcast(
        _ x: Variable<Scalar>, toShape shape: [Int], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        if x.shape == shape { return x }
        return record("broadcast", [x], x.value.broadcasted(to: shape), file: file, line: line) { g, _ in
            [reduce(g, toShape: x.shape)]
        }
    }

    /// Sums `x` down to `shape`, the shape it was broadcast from: the adjoint of ``broadcast(_:toShape:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func reduce(
        _ x: Variable<Scalar>, toShape shape: [Int], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        if x.shape == shape { return x }
        return record("reduce", [x], x.value.unbroadcasted(to: shape), file: file, line: line) { g, _ in
            [broadcast(g, toShape: x.shape)]
        }
    }
}
