// Shape operations and their backward rules: each is undone by its inverse.

extension TensorOperations {
    /// `x` with a new shape of the same element count (one dimension may be `-1`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func reshape(
        _ x: Variable<Scalar>, to shape: [Int], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        record("reshape", [x], x.value.reshaped(to: shape), file: file, line: line) { g, _ in
            [reshape(g, to: x.shape)]
        }
    }

    /// `x` with its axes permuted: axis `i` of the result is axis `permutation[i]`. Without a
    /// permutation, the axes are reversed (the matrix transpose for rank 2).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func transpose(
        _ x: Variable<Scalar>, permutation: [Int]? = nil,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let permutation = permutation ?? Array(x.shape.indices.reversed())
        let value = x.value.transposed(permutation: permutation)
        return record("transpose", [x], value, file: file, line: line) { g, _ in
            var inverse = permutation
            for (index, axis) in permutation.enumerated() { inverse[axis] = index }
            return [transpose(g, permutation: inverse)]
        }
    }

    /// `tensors` joined along `axis`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func concatenate(
        _ tensors: [Variable<Scalar>], alongAxis axis: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Tensor(concatenating: tensors.map(\.value), alongAxis: axis)
        let axis = Misuse.resolveAxis("concatenate", axis, shape: value.shape)
        return record("concatenate", tensors, value, file: file, line: line) { g, needs in
            let pieces = split(g, sizes: tensors.map { $0.shape[axis] }, alongAxis: axis)
            return zip(pieces, needs).map { $1 ? $0 : nil }
        }
    }

    /// `rows` of each of `tensors`, concatenated along axis 0: as
    /// `concatenate(tensors.map { slice($0, alongAxis: 0, rows) })`, in one op that copies each
    /// part once (a recurrent layer's output: the `h` of every step's `[h, c]`).
    ///
    /// - Parameters:
    ///   - rows: The rows of each tensor, within its first axis.
    ///   - tensors: One or more tensors of one shape `[n, …]`.
    /// - Returns: `[tensors.count · rows.count, …]`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func concatenate(
        rows: Range<Int>, of tensors: [Variable<Scalar>], file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Tensor(concatenatingRows: rows, of: tensors.map(\.value))
        let gradientRows = tensors.indices.map { $0 * rows.count..<($0 + 1) * rows.count }
        return record(
            "concatenate(rows:of:)", tensors, value, file: file, line: line,
            inputRegions: Array(repeating: SliceRegion(axis: 0, range: rows), count: tensors.count),
            tensorBackward: { g, needs in zip(gradientRows, needs).map { $1 ? .tensor(g.slice(alongAxis: 0, $0)) : nil } }
        ) { g, needs in
            zip(gradientRows, needs).map { $1 ? slice(g, alongAxis: 0, $0) : nil }
        }
    }

    /// `x` cut along `axis` into pieces of `sizes`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func split(
        _ x: Variable<Scalar>, sizes: [Int], alongAxis axis: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> [Variable<Scalar>] {
        let axis = Misuse.resolveAxis("split", axis, shape: x.shape)
        Misuse.check(
            sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == x.shape[axis], "split",
            "sizes \(sizes) do not add up to \(x.shape[axis]), axis \(axis) of shape \(x.shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(x, alongAxis: axis, start..<(start + size), file: file, line: line)
        }
    }

    /// The part of `x` in `range` along `axis`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func slice(
        _ x: Variable<Scalar>, alongAxis axis: Int, _ range: Range<Int>,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = x.value.slice(alongAxis: axis, range)
        let axis = Misuse.resolveAxis("slice", axis, shape: x.shape)
        let region = SliceRegion(axis: axis, range: range)
        // The adjoint pads the gradient with zeros back to x's shape. (The backward walk gathers
        // the slices of x and pads them at once where they do not overlap; see TapeNode.slice.)
        return record(
            "slice", [x], value, file: file, line: line, slice: region, rule: GradientTape.padRule(x.shape, region))
    }

    /// `x` without the size-1 axes in `axes` (all size-1 axes if `nil`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func squeeze(
        _ x: Variable<Scalar>, axes: [Int]? = nil, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        reshape(x, to: x.value.squeezed(axes: axes).shape, file: file, line: line)
    }

    /// `x` with a new axis of size 1 at `axis` (`-1` appends it last).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func unsqueeze(
        _ x: Variable<Scalar>, axis: Int, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let axis = Misuse.resolveAxis("unsqueeze", axis, shape: x.shape, allowingEnd: true)
        var shape = x.shape
        shape.insert(1, at: axis)
        return reshape(x, to: shape, file: file, line: line)
    }

    /// `variables`, all of one shape, joined along a new axis at `axis`, as
    /// ``Tensor/init(stacking:alongAxis:)``. Its backward unstacks.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func stack(
        _ variables: [Variable<Scalar>], alongAxis axis: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "stack"
        guard let first = variables.first else { Misuse.fail(op, "no variables to stack") }
        Misuse.check(
            variables.allSatisfy { $0.shape == first.shape }, op,
            "shapes \(variables.map(\.shape)) differ; stacked variables must have one shape")
        let axis = Misuse.resolveAxis(op, axis, shape: first.shape, allowingEnd: true)
        return concatenate(
            variables.map { unsqueeze($0, axis: axis, file: file, line: line) }, alongAxis: axis,
            file: file, line: line)
    }

    /// The slices of `x` along `axis`, each without that axis: the inverse of
    /// ``stack(_:alongAxis:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func unstack(
        _ x: Variable<Scalar>, alongAxis axis: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> [Variable<Scalar>] {
        let axis = Misuse.resolveAxis("unstack", axis, shape: x.shape)
        return split(x, sizes: Array(repeating: 1, count: x.shape[axis]), alongAxis: axis, file: file, line: line)
            .map { squeeze($0, axes: [axis], file: file, line: line) }
    }
}
