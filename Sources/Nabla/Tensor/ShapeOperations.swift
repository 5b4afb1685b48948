// Reshape, transpose, concatenate, split, slice, squeeze and unsqueeze.

extension Tensor {
    /// The same scalars with another shape; one dimension may be `-1` to be inferred.
    /// Shares storage: no copy.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func reshaped(to newShape: [Int]) -> Tensor {
        Tensor(shape: Misuse.reshapeTarget(shape, to: newShape), storage: storage)
    }

    /// The tensor flattened to rank 1.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func flattened() -> Tensor { reshaped(to: [scalarCount]) }

    /// The tensor with axes of size 1 removed: those in `axes`, or all of them if `axes` is nil.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func squeezed(axes: [Int]? = nil) -> Tensor {
        guard let axes else { return reshaped(to: shape.filter { $0 != 1 }) }
        let resolved = Misuse.resolveAxes("squeeze", axes, shape: shape)
        for axis in resolved where shape[axis] != 1 {
            Misuse.fail("squeeze", "axis \(axis) of shape \(shape) has size \(shape[axis]), not 1")
        }
        return reshaped(to: shape.indices.filter { !resolved.contains($0) }.map { shape[$0] })
    }

    /// The tensor with a new axis of size 1 inserted at `axis` (`-1` appends at the end).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func unsqueezed(axis: Int) -> Tensor {
        let axis = Misuse.resolveAxis("unsqueeze", axis, shape: shape, allowingEnd: true)
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(to: newShape)
    }

    /// The tensor with its axes reordered: axis `i` of the result is axis `permutation[i]`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func transposed(permutation: [Int]) -> Tensor {
        Misuse.checkPermutation("transpose", permutation, shape: shape)
        if permutation == Array(shape.indices) { return self }
        if rank == 2 { return transposed() }
        let newShape = permutation.map { shape[$0] }
        return withUnsafeBufferPointer { x in
            Tensor(unsafeUninitializedShape: newShape) { y in
                ElementwiseKernels.permute(x, shape: shape, permutation: permutation, into: y)
            }
        }
    }

    /// The tensor with its axes reversed; for a matrix, the usual transpose (through BLAS).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func transposed() -> Tensor {
        guard rank == 2 else { return transposed(permutation: Array(shape.indices.reversed())) }
        return withUnsafeBufferPointer { x in
            Tensor(unsafeUninitializedShape: [shape[1], shape[0]]) { y in
                BLAS.transpose(rows: shape[0], columns: shape[1], source: x, destination: y)
            }
        }
    }

    /// `tensor` repeated along its size-1 axes to `newShape` (NumPy broadcasting rules).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func broadcasted(to newShape: [Int]) -> Tensor {
        let shape = Misuse.broadcastShape("broadcast", self.shape, newShape)
        Misuse.check(
            shape == newShape, "broadcast", "shape \(self.shape) does not broadcast to \(newShape)")
        if shape == self.shape { return self }
        return withUnsafeBufferPointer { x in
            Tensor(unsafeUninitializedShape: newShape) { y in
                ElementwiseKernels.broadcast(
                    x, shape: self.shape, x, shape: self.shape, into: y, shape: newShape) { a, _ in a }
            }
        }
    }

    /// Joins `tensors` along `axis`. All other dimensions must match.
    ///
    /// - Precondition: `tensors` is not empty.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public init(concatenating tensors: [Tensor], alongAxis axis: Int = 0) {
        let op = "concatenate"
        guard let first = tensors.first else { Misuse.fail(op, "no tensors to concatenate") }
        let axis = Misuse.resolveAxis(op, axis, shape: first.shape)
        for tensor in tensors {
            Misuse.check(
                Self.shape(tensor.shape, matches: first.shape, outside: axis), op,
                "shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
        }
        var shape = first.shape
        shape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let outputRow = shape[axis] * inner
        if outer == 1 {  // one block per tensor, one after another
            self = withExtendedLifetime(tensors) {
                Tensor(shape: shape, joining: tensors.map { ($0.unsafeScalars.baseAddress!, $0.scalarCount) })
            }
            return
        }
        self.init(unsafeUninitializedShape: shape) { output in
            var column = 0
            for tensor in tensors {
                let row = tensor.shape[axis] * inner
                tensor.withUnsafeBufferPointer { x in
                    for o in 0..<outer where row > 0 {
                        (output.baseAddress! + o * outputRow + column)
                            .initialize(from: x.baseAddress! + o * row, count: row)
                    }
                }
                column += row
            }
        }
    }

    /// Whether `shape` has `reference`'s rank and sizes, except along `axis`; allocates nothing.
    static func shape(_ shape: [Int], matches reference: [Int], outside axis: Int) -> Bool {
        shape.count == reference.count && shape.indices.allSatisfy { $0 == axis || shape[$0] == reference[$0] }
    }

    /// `rows` of each of `tensors`, joined along axis 0: `[tensors.count · rows.count, …]`.
    ///
    /// - Precondition: `tensors` is not empty, its tensors have one shape `[n, …]`, and `rows`
    ///   lies within `0..<n`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    init(concatenatingRows rows: Range<Int>, of tensors: [Tensor]) {
        let shape = tensors.first?.shape ?? []
        Misuse.check(
            !shape.isEmpty && tensors.allSatisfy({ $0.shape == shape }) && rows.lowerBound >= 0
                && rows.upperBound <= shape[0], "concatenate(rows:of:)",
            "rows \(rows) of \(tensors.map(\.shape)): expected one or more tensors of one shape [n, …] and rows "
                + "within 0..<n")
        let inner = shape.dropFirst().reduce(1, *)
        self = withExtendedLifetime(tensors) {
            Tensor(
                shape: [tensors.count * rows.count] + shape.dropFirst(),
                joining: tensors.map { ($0.unsafeScalars.baseAddress! + rows.lowerBound * inner, rows.count * inner) })
        }
    }

    /// A tensor of `shape` whose scalars are `blocks` (a start and a count each, adding up to the
    /// shape's count) one after another. Above 256 KiB the copy splits over the threads, each part
    /// copying its range of the result. The blocks must stay valid for the call.
    private init(shape: [Int], joining blocks: [(start: UnsafePointer<Scalar>, count: Int)]) {
        self.init(unsafeUninitializedShape: shape) { output in
            let total = output.count
            let starts = blocks.indices.map { blocks[..<$0].reduce(0) { $0 + $1.count } }
            let parts = Self.copyParts(count: total)
            WorkerPool.run(parts: parts) { part in
                let (low, high) = (total * part / parts, total * (part + 1) / parts)
                for (block, start) in zip(blocks, starts) {
                    let (from, to) = (Swift.max(low, start), Swift.min(high, start + block.count))
                    guard from < to else { continue }
                    (output.baseAddress! + from).initialize(from: block.start + (from - start), count: to - from)
                }
            }
        }
    }

    /// The threads a copy of `count` scalars takes: at least 256 KiB each (far longer to copy
    /// than a part takes to start, well under a microsecond), at most ``BLAS/threadCount`` and
    /// the online cores.
    static func copyParts(count: Int) -> Int {
        Swift.max(1, Swift.min(BLAS.threadCount, BLAS.onlineCores, (count * MemoryLayout<Scalar>.stride) >> 18))
    }

    /// Joins `tensors`, all of one shape, along a new axis at `axis` (`-1` appends it last).
    ///
    /// - Precondition: `tensors` is not empty. The result has shape `shape` with
    ///   `tensors.count` inserted at `axis`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public init(stacking tensors: [Tensor], alongAxis axis: Int = 0) {
        let op = "stack"
        guard let first = tensors.first else { Misuse.fail(op, "no tensors to stack") }
        Misuse.check(
            tensors.allSatisfy { $0.shape == first.shape }, op,
            "shapes \(tensors.map(\.shape)) differ; stacked tensors must have one shape")
        let axis = Misuse.resolveAxis(op, axis, shape: first.shape, allowingEnd: true)
        self.init(concatenating: tensors.map { $0.unsqueezed(axis: axis) }, alongAxis: axis)
    }

    /// The slices of the tensor along `axis`, each without that axis: the inverse of
    /// ``init(stacking:alongAxis:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func unstacked(alongAxis axis: Int = 0) -> [Tensor] {
        let axis = Misuse.resolveAxis("unstack", axis, shape: shape)
        return split(sizes: Array(repeating: 1, count: shape[axis]), alongAxis: axis)
            .map { $0.squeezed(axes: [axis]) }
    }

    /// The part of the tensor in `range` along `axis`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func slice(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = Misuse.resolveAxis("slice", axis, shape: shape)
        Misuse.check(
            range.lowerBound >= 0 && range.upperBound <= shape[axis], "slice",
            "range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        var newShape = shape
        newShape[axis] = range.count
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let row = range.count * inner, sourceRow = shape[axis] * inner
        return withUnsafeBufferPointer { x in
            Tensor(unsafeUninitializedShape: newShape) { y in
                for o in 0..<outer where row > 0 {
                    (y.baseAddress! + o * row).initialize(
                        from: x.baseAddress! + o * sourceRow + range.lowerBound * inner,
                        count: row)
                }
            }
        }
    }

    /// Adds `part` to the slice `range` along `axis` in place: the adjoint of
    /// ``slice(alongAxis:_:)``, without padding `part` to the whole shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    mutating func addToSlice(_ part: Tensor, alongAxis axis: Int, _ range: Range<Int>) {
        Misuse.check(
            shape.indices.contains(axis) && range.lowerBound >= 0 && range.upperBound <= shape[axis]
                && Self.shape(part.shape, matches: shape, outside: axis) && part.shape[axis] == range.count, "addToSlice",
            "part \(part.shape) for range \(range) along axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let row = range.count * inner, targetRow = shape[axis] * inner
        guard row > 0 else { return }
        part.withUnsafeBufferPointer { x in
            withUnsafeMutableBufferPointer { y in
                for o in 0..<outer {
                    let target = y.baseAddress! + o * targetRow + range.lowerBound * inner, source = x.baseAddress! + o * row
                    for k in 0..<row { target[k] += source[k] }
                }
            }
        }
    }

    /// The part of the tensor from `lowerBounds` up to, not including, `upperBounds`, per axis.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func slice(lowerBounds: [Int], upperBounds: [Int]) -> Tensor {
        Misuse.check(
            lowerBounds.count == rank && upperBounds.count == rank, "slice",
            "bounds \(lowerBounds)..<\(upperBounds) do not match the rank of shape \(shape)")
        var result = self
        for axis in shape.indices where lowerBounds[axis] != 0 || upperBounds[axis] != shape[axis] {
            Misuse.check(
                lowerBounds[axis] <= upperBounds[axis], "slice",
                "bounds \(lowerBounds)..<\(upperBounds) are reversed on axis \(axis)")
            result = result.slice(alongAxis: axis, lowerBounds[axis]..<upperBounds[axis])
        }
        return result
    }

    /// Splits the tensor along `axis` into pieces of the given `sizes`, which must add up to
    /// that axis's size.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func split(sizes: [Int], alongAxis axis: Int = 0) -> [Tensor] {
        let axis = Misuse.resolveAxis("split", axis, shape: shape)
        Misuse.check(
            sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[axis], "split",
            "sizes \(sizes) do not add up to \(shape[axis]), axis \(axis) of shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(alongAxis: axis, start..<(start + size))
        }
    }

    /// Splits the tensor along `axis` into `count` equal pieces.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public func split(count: Int, alongAxis axis: Int = 0) -> [Tensor] {
        let resolved = Misuse.resolveAxis("split", axis, shape: shape)
        Misuse.check(
            count > 0 && shape[resolved] % count == 0, "split",
            "axis \(resolved) of shape \(shape) does not split into \(count) equal pieces")
        return split(
            sizes: Array(repeating: shape[resolved] / count, count: count), alongAxis: resolved)
    }
}
