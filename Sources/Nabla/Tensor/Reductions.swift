// Reductions along axes. Each reduces the listed axes one at a time, viewing the tensor as
// [outer, extent, inner] around the axis, so no reduction needs a transposed copy.

extension Tensor {
    /// The shape after reducing `axes` (sorted, resolved), keeping them as 1 or dropping them.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func reducedShape(_ axes: [Int], keepingDimensions: Bool) -> [Int] {
        keepingDimensions
            ? shape.indices.map { axes.contains($0) ? 1 : shape[$0] }
            : shape.indices.filter { !axes.contains($0) }.map { shape[$0] }
    }

    /// Reduces `axes` with `reduceAxis`, which reduces one `[outer, extent, inner]` view.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func reduce(
        _ op: String, alongAxes axes: [Int], keepingDimensions: Bool, allowingEmpty: Bool = false,
        _ reduceAxis: (UnsafeBufferPointer<Scalar>, Int, Int, Int, UnsafeMutableBufferPointer<Scalar>) -> Void
    ) -> Tensor {
        let resolved = Misuse.resolveAxes(op, axes, shape: shape)
        var result = self
        var currentShape = shape
        for axis in resolved.reversed() {
            let extent = currentShape[axis]
            Misuse.check(
                extent > 0 || allowingEmpty, op,
                "axis \(axis) of shape \(shape) is empty: there is nothing to reduce")
            let outer = currentShape[..<axis].reduce(1, *)
            let inner = currentShape[(axis + 1)...].reduce(1, *)
            currentShape[axis] = 1
            result = result.withUnsafeBufferPointer { x in
                Tensor(unsafeUninitializedShape: currentShape) { y in
                    reduceAxis(x, outer, extent, inner, y)
                }
            }
        }
        return result.reshaped(to: reducedShape(resolved, keepingDimensions: keepingDimensions))
    }

    /// The sum of all scalars, as a rank-0 tensor.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func sum() -> Tensor {
        Tensor(withUnsafeBufferPointer { ReductionKernels.sum($0) })
    }

    /// The sum along `axes`. The result drops those axes, or keeps them with size 1.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        // An empty sum is 0.
        reduce("sum", alongAxes: axes, keepingDimensions: keepingDimensions, allowingEmpty: true) {
            ReductionKernels.sum($0, outer: $1, extent: $2, inner: $3, into: $4)
        }
    }

    /// The mean of all scalars, as a rank-0 tensor.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func mean() -> Tensor {
        Misuse.check(scalarCount > 0, "mean", "shape \(shape) is empty")
        return sum() / Scalar(scalarCount)
    }

    /// The mean along `axes`.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let resolved = Misuse.resolveAxes("mean", axes, shape: shape)
        let count = resolved.map { shape[$0] }.reduce(1, *)
        Misuse.check(count > 0, "mean", "axes \(axes) of shape \(shape) are empty")
        return sum(alongAxes: resolved, keepingDimensions: keepingDimensions) / Scalar(count)
    }

    /// The largest scalar (NaN if any is NaN), as a rank-0 tensor.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func max() -> Tensor { max(alongAxes: Array(shape.indices)) }

    /// The largest scalar along `axes`; NaN wherever a reduced line holds a NaN.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func max(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        reduce("max", alongAxes: axes, keepingDimensions: keepingDimensions) {
            ReductionKernels.reduce(
                $0, outer: $1, extent: $2, inner: $3, into: $4, Scalar.maximumPropagatingNaN)
        }
    }

    /// The smallest scalar (NaN if any is NaN), as a rank-0 tensor.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func min() -> Tensor { min(alongAxes: Array(shape.indices)) }

    /// The smallest scalar along `axes`; NaN wherever a reduced line holds a NaN.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func min(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        reduce("min", alongAxes: axes, keepingDimensions: keepingDimensions) {
            ReductionKernels.reduce(
                $0, outer: $1, extent: $2, inner: $3, into: $4, Scalar.minimumPropagatingNaN)
        }
    }

    /// The index of the largest scalar along `axis`, for each position of the other axes, in
    /// row-major order. Ties go to the first; a NaN counts as the largest.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func argmax(alongAxis axis: Int) -> [Int] {
        argExtreme("argmax", alongAxis: axis, largest: true)
    }

    /// The index of the smallest scalar along `axis`; ties go to the first, a NaN wins.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func argmin(alongAxis axis: Int) -> [Int] {
        argExtreme("argmin", alongAxis: axis, largest: false)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    func argExtreme(_ op: String, alongAxis axis: Int, largest: Bool) -> [Int] {
        let axis = Misuse.resolveAxis(op, axis, shape: shape)
        let extent = shape[axis]
        Misuse.check(extent > 0, op, "axis \(axis) of shape \(shape) is empty")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        return withUnsafeBufferPointer { x in
            [Int](unsafeUninitializedCapacity: outer * inner) { indices, count in
                ReductionKernels.argExtreme(
                    x, outer: outer, extent: extent, inner: inner, largest: largest,
                    into: indices)
                count = outer * inner
            }
        }
    }

    /// The variance along `axes`: the mean squared deviation, divided by `count − correction`
    /// (0 gives the population variance, 1 the unbiased sample variance).
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func variance(
        alongAxes axes: [Int], keepingDimensions: Bool = false, correction: Int = 0
    ) -> Tensor {
        let resolved = Misuse.resolveAxes("variance", axes, shape: shape)
        let count = resolved.map { shape[$0] }.reduce(1, *)
        Misuse.check(
            count - correction > 0, "variance",
            "axes \(axes) of shape \(shape) hold \(count) values, too few for correction \(correction)")
        let shifted = self - pivot(alongAxes: resolved)
        let deviation = shifted - shifted.mean(alongAxes: resolved, keepingDimensions: true)
        return square(deviation).sum(alongAxes: resolved, keepingDimensions: keepingDimensions)
            / Scalar(count - correction)
    }

    /// The first element along `axes` (resolved), kept at rank: a value of each group that
    /// statistics subtract before averaging, so that a constant group, whatever its magnitude,
    /// has a mean deviation of exactly 0 (the shifted-data algorithm for the variance).
    @inlinable
    func pivot(alongAxes axes: [Int]) -> Tensor {
        axes.reduce(self) { partial, axis in partial.slice(alongAxis: axis, 0..<1) }
    }

    /// The variance of all scalars, as a rank-0 tensor.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func variance(correction: Int = 0) -> Tensor {
        variance(alongAxes: Array(shape.indices), correction: correction)
    }

    /// Sums a broadcast result back to `target`, the shape of the operand it was broadcast from.
    ///
    /// This is the adjoint of broadcasting: a gradient of the broadcast shape becomes a gradient
    /// of the operand's shape.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func unbroadcasted(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let broadcast = Misuse.broadcastShape("unbroadcast", target, shape)
        Misuse.check(
            broadcast == shape, "unbroadcast",
            "shape \(shape) is not a broadcast of target \(target)")
        let leading = shape.count - target.count
        var axes = Array(0..<leading)
        for (index, dimension) in target.enumerated() where dimension == 1 && shape[index + leading] != 1 {
            axes.append(index + leading)
        }
        return sum(alongAxes: axes).reshaped(to: target)
    }
}

// MARK: Accumulating in Double, across tensors (gradient clipping's global norm)

extension Tensor {
    /// Adds `Σ (x / scale)²` over the scalars, in `Double` and in row-major order, to `sum`: a
    /// norm accumulated across several tensors keeps one running sum.
    @inlinable
    func accumulateSquares(into sum: inout Double, dividedBy scale: Double = 1) {
        withUnsafeBufferPointer { x in
            for value in x {
                let scaled = Double(value) / scale
                sum += scaled * scaled
            }
        }
    }

    /// The largest magnitude among the scalars, in `Double` (0 for none), and whether any is NaN.
    @inlinable
    func largestMagnitude() -> (largest: Double, hasNaN: Bool) {
        withUnsafeBufferPointer { x in
            var largest = 0.0, hasNaN = false
            for value in x {
                if value.isNaN { hasNaN = true }
                largest = Swift.max(largest, Double(Swift.abs(value)))
            }
            return (largest, hasNaN)
        }
    }

    /// Replaces each scalar `x` by `x / divisor · coefficient`, computed in `Double`, in place.
    @inlinable
    mutating func scaleInDouble(dividingBy divisor: Double, multiplyingBy coefficient: Double) {
        withUnsafeMutableBufferPointer { x in
            for i in x.indices { x[i] = Scalar(Double(x[i]) / divisor * coefficient) }
        }
    }
}
