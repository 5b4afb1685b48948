/// Shape rules of the LAPACK wrappers.
extension Misuse {
    /// Checks that `shape` is a matrix's and returns its size. `given` describes the operands.
    static func matrixShape(
        _ op: String, _ shape: [Int], given: () -> String
    ) -> (rows: Int, columns: Int) {
        check(
            shape.count == 2, op, "\(given()): a has rank \(shape.count), expected a matrix (rank 2)")
        return (shape[0], shape[1])
    }

    /// Checks that `shape` is a square matrix's and returns its order.
    static func squareOrder(_ op: String, _ shape: [Int], given: () -> String) -> Int {
        let (rows, columns) = matrixShape(op, shape, given: given)
        check(
            rows == columns, op, "\(given()): a is not square (\(rows) rows, \(columns) columns)")
        return rows
    }
}
