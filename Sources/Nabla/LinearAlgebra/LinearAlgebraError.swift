/// Why a ``LinearAlgebra`` operation could not produce a result for the data it was given.
///
/// These are data errors, thrown; misuse such as a non-square matrix where a square one is needed
/// traps instead. `operation` names the ``LinearAlgebra`` function, e.g. `"solve"`.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// The matrix is exactly singular: the LU factorization found `U[pivot, pivot] == 0`
    /// (`pivot` counts from 0).
    case singular(operation: String, pivot: Int)

    /// The matrix is not positive definite: its leading minor of order `minor` (from 1) is not
    /// positive.
    case notPositiveDefinite(operation: String, minor: Int)

    /// The iterative algorithm (SVD or eigensolver) did not converge; `info` is LAPACK's code.
    case noConvergence(operation: String, info: Int)

    /// An input contains NaN or infinity. LAPACK's results are undefined for such input.
    case nonFinite(operation: String)

    /// The inputs were finite but the result overflowed to infinity or NaN: the matrix is
    /// singular to working precision.
    case overflow(operation: String)

    public var description: String {
        switch self {
        case .singular(let operation, let pivot):
            "\(operation): the matrix is singular: U[\(pivot), \(pivot)] of its LU factorization is 0"
        case .notPositiveDefinite(let operation, let minor):
            "\(operation): the matrix is not positive definite: "
                + "its leading minor of order \(minor) is not positive"
        case .noConvergence(let operation, let info):
            "\(operation): LAPACK did not converge (info \(info))"
        case .nonFinite(let operation):
            "\(operation): the input contains NaN or infinity"
        case .overflow(let operation):
            "\(operation): the result overflowed: the matrix is singular to working precision"
        }
    }
}
