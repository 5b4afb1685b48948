/// Shape rules shared by tensor ops, each returning the result shape or stopping with a message
/// that names the op and every shape involved.
extension Misuse {
    /// The NumPy broadcast of two shapes: aligned from the right, each pair of dimensions must be
    /// equal or one of them 1.
    @inlinable
    static func broadcastShape(_ op: String, _ lhs: [Int], _ rhs: [Int]) -> [Int] {
        if lhs == rhs { return lhs }
        if let shape = broadcast(lhs, rhs) {
            check(
                ShapeSize.elementCount(shape, scalarByteCount: 8) != nil, op,
                "lhs \(lhs) and rhs \(rhs): the broadcast shape \(shape) is too large")
            return shape
        }
        let rank = max(lhs.count, rhs.count)
        let a = [Int](repeating: 1, count: rank - lhs.count) + lhs
        let b = [Int](repeating: 1, count: rank - rhs.count) + rhs
        let axis = (0..<rank).first { a[$0] != b[$0] && a[$0] != 1 && b[$0] != 1 }!
        fail(
            op,
            "lhs \(lhs) and rhs \(rhs): shapes do not broadcast (dimension \(axis): "
                + "\(a[axis]) ≠ \(b[axis]))")
    }

    /// The NumPy broadcast of two shapes, or `nil` if they do not broadcast.
    @inlinable
    static func broadcast(_ lhs: [Int], _ rhs: [Int]) -> [Int]? {
        let rank = max(lhs.count, rhs.count)
        var shape = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let a = axis - (rank - lhs.count) >= 0 ? lhs[axis - (rank - lhs.count)] : 1
            let b = axis - (rank - rhs.count) >= 0 ? rhs[axis - (rank - rhs.count)] : 1
            guard a == b || a == 1 || b == 1 else { return nil }
            shape[axis] = a == 1 ? b : a
        }
        return shape
    }

    /// The shapes of `matmul(lhs, rhs)`, as NumPy's `matmul` with transpose flags.
    ///
    /// The last two axes of an operand are the matrix (transposed if asked) and the axes before
    /// them batch axes, which broadcast. A vector lhs `[k]` is the row `[1, k]`, a vector rhs
    /// `[k]` the column `[k, 1]`; neither may be transposed, and the result loses its axis.
    static func matmulShape(_ lhs: [Int], _ rhs: [Int], transposeLHS: Bool, transposeRHS: Bool)
        -> MatrixProductShape
    {
        let op = "matmul"
        func shapes() -> String { "lhs \(lhs) and rhs \(rhs)" }  // built only for a message
        check(!lhs.isEmpty && !rhs.isEmpty, op, "\(shapes()): operands must have rank 1 or more")
        check(!(transposeLHS && lhs.count == 1), op, "\(shapes()): transposeLHS needs a matrix lhs")
        check(!(transposeRHS && rhs.count == 1), op, "\(shapes()): transposeRHS needs a matrix rhs")
        let lhsMatrix = lhs.count == 1 ? [1] + lhs : lhs
        let rhsMatrix = rhs.count == 1 ? rhs + [1] : rhs
        let lhsRows = lhsMatrix[lhsMatrix.count - 2], lhsColumns = lhsMatrix[lhsMatrix.count - 1]
        let rhsRows = rhsMatrix[rhsMatrix.count - 2], rhsColumns = rhsMatrix[rhsMatrix.count - 1]
        let (m, k) = transposeLHS ? (lhsColumns, lhsRows) : (lhsRows, lhsColumns)
        let (rhsK, n) = transposeRHS ? (rhsColumns, rhsRows) : (rhsRows, rhsColumns)
        check(
            k == rhsK, op,
            "\(shapes()): inner dimensions \(k) ≠ \(rhsK)"
                + (transposeLHS || transposeRHS
                    ? " (transposing lhs: \(transposeLHS), rhs: \(transposeRHS))" : ""))
        let lhsBatch = Array(lhsMatrix.dropLast(2)), rhsBatch = Array(rhsMatrix.dropLast(2))
        guard let batch = broadcast(lhsBatch, rhsBatch) else {
            fail(op, "\(shapes()): batch shapes \(lhsBatch) and \(rhsBatch) do not broadcast")
        }
        let result = batch + (lhs.count == 1 ? [] : [m]) + (rhs.count == 1 ? [] : [n])
        check(
            [[m, n], [m, k], [k, n]].allSatisfy { ShapeSize.elementCount(batch + $0, scalarByteCount: 8) != nil }, op,
            "\(shapes()): the product's shape \(result) is too large")
        return MatrixProductShape(
            lhs: lhsMatrix, rhs: rhsMatrix, batch: batch, m: m, n: n, k: k, result: result)
    }

    /// The sizes of `linear(input, weight:, bias:)`: rows (the input's leading axes), output and
    /// input features.
    static func linearShape(_ input: [Int], weight: [Int], bias: [Int]?) -> (rows: Int, out: Int, in: Int) {
        let op = "linear"
        func shapes() -> String { "input \(input), weight \(weight)" + (bias.map { " and bias \($0)" } ?? "") }
        check(input.count >= 1 && weight.count == 2, op, "\(shapes()): need input [..., in] and weight [out, in]")
        check(input.last == weight[1], op, "\(shapes()): input features \(input.last!) ≠ weight's \(weight[1])")
        if let bias { check(bias == [weight[0]], op, "\(shapes()): bias must be [\(weight[0])]") }
        return (input.dropLast().reduce(1, *), weight[0], weight[1])
    }

    /// The sizes `m`, `n`, `k` of `accumulator += op(lhs)·op(rhs)`, for matrices only.
    static func addMatrixProductShape(
        _ accumulator: [Int], _ lhs: [Int], _ rhs: [Int], transposeLHS: Bool, transposeRHS: Bool
    ) -> (m: Int, n: Int, k: Int) {
        let op = "addMatrixProduct"
        func shapes() -> String { "accumulator \(accumulator), lhs \(lhs) and rhs \(rhs)" }
        check(accumulator.count == 2 && lhs.count == 2 && rhs.count == 2, op, "\(shapes()): all must be matrices")
        let (m, k) = transposeLHS ? (lhs[1], lhs[0]) : (lhs[0], lhs[1])
        let (rhsK, n) = transposeRHS ? (rhs[1], rhs[0]) : (rhs[0], rhs[1])
        check(k == rhsK, op, "\(shapes()): inner dimensions \(k) ≠ \(rhsK)")
        check(accumulator == [m, n], op, "\(shapes()): the product is [\(m), \(n)]")
        return (m, n, k)
    }

    /// Checks that a mask broadcasts to `shape` without enlarging it.
    @inlinable
    static func checkMaskShape(_ mask: [Int], _ shape: [Int]) {
        check(
            broadcastShape("maskedFill", shape, mask) == shape, "maskedFill",
            "x \(shape) and mask \(mask): the mask must broadcast to x's shape")
    }

    /// Checks that two shapes are equal, for ops that do not broadcast.
    @inlinable
    static func checkSameShape(_ op: String, _ lhs: [Int], _ rhs: [Int]) {
        check(lhs == rhs, op, "lhs \(lhs) and rhs \(rhs): shapes differ")
    }

    /// Resolves a reshape target that may contain one `-1`, or stops.
    @inlinable
    static func reshapeTarget(_ shape: [Int], to target: [Int]) -> [Int] {
        let op = "reshape"
        let count = shape.reduce(1, *)
        // No arrays built unless a dimension is inferred: reshapes run once per op of every graph.
        let inferred = target.firstIndex(of: -1)
        check(target.lastIndex(of: -1) == inferred, op, "\(shape) to \(target): at most one dimension may be -1")
        for dimension in target where dimension < -1 {
            fail(op, "\(shape) to \(target): dimension \(dimension) is negative")
        }
        guard let known = ShapeSize.elementCount(inferred == nil ? target : target.filter { $0 != -1 }, scalarByteCount: 8)
        else {
            fail(op, "\(shape) to \(target): the target shape is too large")
        }
        var resolved = target
        if let axis = inferred {
            check(
                known > 0 && count % known == 0, op,
                "\(shape) to \(target): \(count) scalars do not divide into dimensions of \(known)")
            resolved[axis] = count / known
        }
        let resolvedCount = inferred == nil ? known : resolved.reduce(1, *)
        check(
            resolvedCount == count, op,
            "\(shape) to \(target): element counts \(count) ≠ \(resolvedCount)")
        return resolved
    }

    /// Checks that `permutation` is a permutation of `0..<shape.count`.
    @inlinable
    static func checkPermutation(_ op: String, _ permutation: [Int], shape: [Int]) {
        check(
            permutation.sorted() == Array(0..<shape.count), op,
            "permutation \(permutation) is not a permutation of the axes of \(shape)")
    }

    /// Checks the arguments of a row-major `gemm`: sizes, and that each matrix fits its buffer.
    @usableFromInline
    static func checkGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        lda: Int, aCount: Int, ldb: Int, bCount: Int, ldc: Int, cCount: Int
    ) {
        let op = "gemm"
        check(m >= 0 && n >= 0 && k >= 0, op, "sizes m \(m), n \(n), k \(k) must not be negative")
        checkMatrix(
            op, "a", rows: transposeA ? k : m, columns: transposeA ? m : k, leading: lda, count: aCount)
        checkMatrix(
            op, "b", rows: transposeB ? n : k, columns: transposeB ? k : n, leading: ldb, count: bCount)
        checkMatrix(op, "c", rows: m, columns: n, leading: ldc, count: cCount)
    }

    /// Checks that a `[rows, columns]` matrix with leading dimension `leading` fits in `count`.
    ///
    /// An empty matrix (no rows or no columns) is never read and never reaches BLAS, so any
    /// leading dimension that is not negative will do.
    @usableFromInline
    static func checkMatrix(
        _ op: String, _ name: String, rows: Int, columns: Int, leading: Int, count: Int
    ) {
        let isEmpty = rows == 0 || columns == 0
        Misuse.check(
            isEmpty ? leading >= 0 : leading >= columns, op,
            "\(name) is \(rows) × \(columns) but its leading dimension is \(leading)")
        let needed = isEmpty ? 0 : (rows - 1) * leading + columns
        Misuse.check(
            count >= needed, op,
            "\(name) is \(rows) × \(columns) with leading dimension \(leading), which needs "
                + "\(needed) elements, but its buffer has \(count)")
    }

    /// Checks the arguments of an out-of-place `[rows, columns]` transpose.
    @usableFromInline
    static func checkTranspose(rows: Int, columns: Int, source: Int, destination: Int) {
        let op = "transpose"
        check(rows >= 0 && columns >= 0, op, "sizes \(rows) × \(columns) are negative")
        check(
            source == rows * columns && destination == rows * columns, op,
            "source has \(source) and destination \(destination) elements for a \(rows) × "
                + "\(columns) matrix")
    }
}

/// The shapes of a matrix product `op(lhs) · op(rhs)`, resolved by `Misuse.matmulShape`.
struct MatrixProductShape {
    /// The operands' shapes as stacks of matrices: a vector lhs as `[1, k]`, a vector rhs as
    /// `[k, 1]`.
    var lhs: [Int], rhs: [Int]
    /// The broadcast of the operands' batch axes.
    var batch: [Int]
    /// `op(lhs)` is `[m, k]` and `op(rhs)` is `[k, n]` for every batch index.
    var m: Int, n: Int, k: Int
    /// The result shape: `batch + [m, n]`, without the axis of a vector operand.
    var result: [Int]

    var lhsBatch: [Int] { Array(lhs.dropLast(2)) }
    var rhsBatch: [Int] { Array(rhs.dropLast(2)) }
}
