import Foundation
import Testing

@testable import Nabla

// Rows for erf, the elementwise maximum and minimum, the min reduction and the smooth
// elementwise functions that layers and losses use.

extension OperationSpec {
    static let moreElementwise: [OperationSpec] = [
        .init(name: "erf", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.erf($0[0]) }, float: { FOps.erf($0[0]) }, reference: elementwiseReference(Foundation.erf)),
        .init(name: "softplus", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.softplus($0[0]) }, float: { FOps.softplus($0[0]) },
              reference: elementwiseReference { Foundation.log(1 + Foundation.exp($0)) }),
        .init(name: "log1p", inputShapes: [[3, 4]], domain: .positive,
              double: { DOps.log1p($0[0]) }, float: { FOps.log1p($0[0]) }, reference: elementwiseReference(Foundation.log1p)),
        .init(name: "expm1", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.expm1($0[0]) }, float: { FOps.expm1($0[0]) }, reference: elementwiseReference(Foundation.expm1)),
        .init(name: "sin", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.sin($0[0]) }, float: { FOps.sin($0[0]) }, reference: elementwiseReference(Foundation.sin)),
        .init(name: "cos", inputShapes: [[3, 4]], domain: .any,
              double: { DOps.cos($0[0]) }, float: { FOps.cos($0[0]) }, reference: elementwiseReference(Foundation.cos)),
        .init(name: "maximum", inputShapes: [[3, 4], [4]], domain: .separated,
              double: { DOps.maximum($0[0], $0[1]) }, float: { FOps.maximum($0[0], $0[1]) },
              reference: binaryReference { $0 > $1 ? $0 : $1 }),
        .init(name: "minimum", inputShapes: [[3, 1], [1, 4]], domain: .separated,
              double: { DOps.minimum($0[0], $0[1]) }, float: { FOps.minimum($0[0], $0[1]) },
              reference: binaryReference { $0 < $1 ? $0 : $1 }),
        .init(name: "min(axes: [1])", inputShapes: [[3, 4]], domain: .distinct,
              double: { DOps.min($0[0], alongAxes: [1]) }, float: { FOps.min($0[0], alongAxes: [1]) },
              reference: { x in Tensor((0..<3).map { i in (0..<4).map { x[0][i, $0] }.min()! }) }),
        .init(name: "min(axes: [0, 2], keepingDimensions)", inputShapes: [[2, 3, 2]], domain: .distinct,
              double: { DOps.min($0[0], alongAxes: [0, 2], keepingDimensions: true) },
              float: { FOps.min($0[0], alongAxes: [0, 2], keepingDimensions: true) },
              reference: { x in
                  Tensor(shape: [1, 3, 1], scalars: (0..<3).map { j in
                      [x[0][0, j, 0], x[0][0, j, 1], x[0][1, j, 0], x[0][1, j, 1]].min()!
                  })
              }),
    ]
}
