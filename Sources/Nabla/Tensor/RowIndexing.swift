// Whole rows of a table by index: an embedding's lookup and the adjoint that adds gradients back.

/// The rows of `table` at `rows`, in order (PyTorch's `index_select` along axis 0).
///
/// - Parameters:
///   - table: `[count, …]`; a row is everything after the first axis.
///   - rows: indices in `0..<count`; they may repeat.
/// - Returns: `[rows.count, …]`.
@inlinable
public func gatherRows<S: TensorScalar>(_ table: Tensor<S>, _ rows: [Int]) -> Tensor<S> {
    let rowSize = Misuse.checkRows("gatherRows", rows, table: table.shape)
    return table.withUnsafeBufferPointer { source in
        Tensor(unsafeUninitializedShape: [rows.count] + table.shape.dropFirst()) { output in
            for (position, row) in rows.enumerated() {
                (output.baseAddress! + position * rowSize).initialize(from: source.baseAddress! + row * rowSize, count: rowSize)
            }
        }
    }
}

extension Tensor {
    /// Adds row `i` of `values` to row `rows[i]` of this tensor in place, except to `excludedRow`
    /// (PyTorch's `index_add_` along axis 0): the adjoint of ``gatherRows(_:_:)``. Repeated rows
    /// add up; the storage is copied first only if it is shared.
    ///
    /// - Parameters:
    ///   - values: `rows.count` rows of this tensor's row size, in any shape.
    ///   - rows: indices in `0..<shape[0]`.
    ///   - excludedRow: a row that gets nothing (an embedding's padding row), or `nil`.
    @inlinable
    public mutating func addRows(_ values: Tensor, at rows: [Int], excludingRow excludedRow: Int? = nil) {
        let rowSize = Misuse.checkRows("addRows", rows, table: shape)
        Misuse.check(
            values.scalarCount == rows.count * rowSize, "addRows",
            "values \(values.shape) for \(rows.count) rows of \(rowSize) scalars into \(shape)")
        values.withUnsafeBufferPointer { values in
            withUnsafeMutableBufferPointer { table in
                for (position, row) in rows.enumerated() where row != excludedRow {
                    for column in 0..<rowSize { table[row * rowSize + column] += values[position * rowSize + column] }
                }
            }
        }
    }
}
