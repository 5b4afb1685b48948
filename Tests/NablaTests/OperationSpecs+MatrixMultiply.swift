import Testing

@testable import Nabla

// Spec rows for matmul over batch axes, broadcast batch axes and vectors, against the naive
// loops of `naiveMatmul` (MatrixMultiplyTests.swift).

extension OperationSpec {
    static let batchedProducts: [OperationSpec] = [
        .init(name: "matmul(attention heads, transposeRHS)", inputShapes: [[2, 2, 3, 4], [2, 2, 5, 4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeRHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeRHS: true) },
              reference: { naiveMatmul($0[0], $0[1], transposeRHS: true) }),
        .init(name: "matmul(broadcast batch axes)", inputShapes: [[2, 1, 3, 4], [3, 4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatmul($0[0], $0[1]) }),
        .init(name: "matmul(shared lhs, transposeLHS)", inputShapes: [[4, 3], [2, 4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeLHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeLHS: true) },
              reference: { naiveMatmul($0[0], $0[1], transposeLHS: true) }),
        .init(name: "matmul(4-D × shared, transposeLHS, transposeRHS)", inputShapes: [[2, 2, 4, 3], [2, 4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeLHS: true, transposeRHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeLHS: true, transposeRHS: true) },
              reference: { naiveMatmul($0[0], $0[1], transposeLHS: true, transposeRHS: true) }),
        .init(name: "matmul(batched × rhs with a batch axis of 1)", inputShapes: [[2, 3, 4], [1, 4, 2]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatmul($0[0], $0[1]) }),
        .init(name: "matmul(matrix · vector)", inputShapes: [[3, 4], [4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatmul($0[0], $0[1]) }),
        .init(name: "matmul(vector · matrix)", inputShapes: [[4], [4, 3]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatmul($0[0], $0[1]) }),
        .init(name: "matmul(batched · vector)", inputShapes: [[2, 3, 4], [4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1]) }, float: { FOps.matmul($0[0], $0[1]) },
              reference: { naiveMatmul($0[0], $0[1]) }),
        .init(name: "matmul(vector · batched, transposeRHS)", inputShapes: [[4], [2, 3, 4]], domain: .any,
              double: { DOps.matmul($0[0], $0[1], transposeRHS: true) },
              float: { FOps.matmul($0[0], $0[1], transposeRHS: true) },
              reference: { naiveMatmul($0[0], $0[1], transposeRHS: true) }),
    ]
}
