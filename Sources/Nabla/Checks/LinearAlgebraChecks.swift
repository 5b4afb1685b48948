/// Shape rules of the LAPACK wrappers.
extension Misuse {
    /// Checks that `a` is a matrix and returns its size. `given` describes the operands.
    static func matrixShape<Scalar: TensorScalar>(
        _ op: String, _ a: Tensor<Scalar>, given: () -> String
    ) -> (rows: Int, columns: Int) {
        check(
            a.rank == 2, op, "\(given()): a has rank \(a.rank), expected a matrix (rank 2)")
        return (a.shape[0], a.shape[1])
    }

    /// Checks that `a` is a square matrix and returns its order.
    static func squareOrder<Scalar: TensorScalar>(
        _ op: String, _ a: Tensor<Scalar>, given: () -> String
    ) -> Int {
        let (rows, columns) = matrixShape(op, a, given: given)
        check(
            rows == columns, op, "\(given()): a is not square (\(rows) rows, \(columns) columns)")
        return rows
    }
}
