import Foundation
import Testing

@testable import Nabla

// Spec rows for the conveniences layers use: scalars on either side, tensors beside variables,
// exact division by a scalar, stack/unstack, squeeze/unsqueeze and masked fill.

extension OperationSpec {
    static let conveniences: [OperationSpec] = [
        .init(name: "1 - x", inputShapes: [[3, 4]], domain: .any,
              double: { 1 - $0[0] }, float: { 1 - $0[0] }, reference: elementwiseReference { 1 - $0 }),
        .init(name: "2 + x", inputShapes: [[3, 4]], domain: .any,
              double: { 2 + $0[0] }, float: { 2 + $0[0] }, reference: elementwiseReference { 2 + $0 }),
        .init(name: "3 / x", inputShapes: [[3, 4]], domain: .positive,
              double: { 3 / $0[0] }, float: { 3 / $0[0] }, reference: elementwiseReference { 3 / $0 }),
        .init(name: "x / 7 (divide(by:))", inputShapes: [[3, 4]], domain: .any,
              double: { $0[0] / 7 }, float: { $0[0] / 7 }, reference: elementwiseReference { $0 / 7 }),
        .init(name: "x * tensor - tensor / x", inputShapes: [[3, 4]], domain: .positive,
              double: { $0[0] * rowTensor() - rowTensor() / $0[0] },
              float: { $0[0] * converted(rowTensor()) - converted(rowTensor()) / $0[0] },
              reference: { x in naiveBroadcast(x[0], rowTensor()) { $0 * $1 - $1 / $0 } }),
        .init(name: "stack(alongAxis: 1)", inputShapes: [[2, 3], [2, 3], [2, 3]], domain: .any,
              double: { DOps.stack($0, alongAxis: 1) }, float: { FOps.stack($0, alongAxis: 1) },
              reference: { x in
                  Tensor(shape: [2, 3, 3], scalars: (0..<2).flatMap { i in (0..<3).flatMap { k in (0..<3).map { x[k][i, $0] } } })
              }),
        .init(name: "unstack(alongAxis: -1)[1]", inputShapes: [[2, 3]], domain: .any,
              double: { DOps.unstack($0[0], alongAxis: -1)[1] }, float: { FOps.unstack($0[0], alongAxis: -1)[1] },
              reference: { x in Tensor([x[0][0, 1], x[0][1, 1]]) }),
        .init(name: "squeeze(axes: [1])", inputShapes: [[3, 1, 2]], domain: .any,
              double: { DOps.squeeze($0[0], axes: [1]) }, float: { FOps.squeeze($0[0], axes: [1]) },
              reference: { Tensor(shape: [3, 2], scalars: $0[0].scalars) }),
        .init(name: "unsqueeze(axis: -1)", inputShapes: [[3, 2]], domain: .any,
              double: { DOps.unsqueeze($0[0], axis: -1) }, float: { FOps.unsqueeze($0[0], axis: -1) },
              reference: { Tensor(shape: [3, 2, 1], scalars: $0[0].scalars) }),
        .init(name: "softmax(maskedFill(causal, −∞))", inputShapes: [[2, 3, 3]], domain: .any,
              double: { DOps.softmax(DOps.maskedFill($0[0], where: causalMask(), with: -.infinity)) },
              float: { FOps.softmax(FOps.maskedFill($0[0], where: converted(causalMask()), with: -.infinity)) },
              reference: { x in
                  let masked = Tensor(shape: [2, 3, 3], scalars: x[0].scalars.enumerated().map { index, value in
                      causalMask().scalars[index % 9] != 0 ? -.infinity : value
                  })
                  return Tensor(shape: [2, 3, 3], scalars: naiveSoftmax(masked.reshaped(to: [6, 3]), axis: 1).scalars)
              }),
    ]
}

/// A `[4]` row of positive values.
func rowTensor() -> Tensor<Double> { Tensor([0.5, 1.5, -2, 3]) }

/// 1 above the diagonal of a 3 × 3 matrix: the future positions a causal mask hides.
func causalMask() -> Tensor<Double> {
    Tensor(shape: [3, 3], scalars: [0, 1, 1, 0, 0, 1, 0, 0, 0])
}

@Suite struct ConvenienceTests {
    /// Masked positions get exactly zero gradient, even when the upstream there is NaN or ∞.
    @Test func maskedFillGradientIsExactlyZeroWhereMasked() {
        let x = Ops.variable(randomTensor([3, 3], seed: 4), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { Ops.maskedFill(x, where: causalMask(), with: -.infinity) }
        let upstream = Tensor<Double>(shape: [3, 3], scalars: [1, .nan, .infinity, 2, 3, -.infinity, 4, 5, 6])
        let g = tape.gradient(of: y, withRespectTo: [x], seed: upstream)[0].value
        #expect(g.scalars == [1, 0, 0, 2, 3, 0, 4, 5, 6])
        #expect(maskedFill(x.value, where: causalMask(), with: 9).scalars.enumerated()
            .allSatisfy { causalMask().scalars[$0] != 0 ? $1 == 9 : $1 == x.value.scalars[$0] })
    }

    @Test func tensorStackAndUnstackAreInverse() {
        let parts: [Tensor<Float>] = (0..<3).map { randomTensor([2, 4], seed: UInt64($0)) }
        let stacked = Tensor(stacking: parts, alongAxis: 2)
        #expect(stacked.shape == [2, 4, 3])
        #expect(stacked[1, 3, 2] == parts[2][1, 3])
        #expect(stacked.unstacked(alongAxis: 2) == parts)
    }

    @Test func maskMustNotEnlargeTheInput() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.maskedFill(DOps.constant(.zeros(shape: [3])), where: .ones(shape: [2, 3]), with: 0)
        }
        #expect(standardError(result).contains("maskedFill: x [3] and mask [2, 3]: the mask must broadcast to x's shape"))
    }

    @Test func stackNeedsOneShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DOps.stack([DOps.constant(.zeros(shape: [2])), DOps.constant(.zeros(shape: [3]))])
        }
        #expect(standardError(result).contains("stack: shapes [[2], [3]] differ"))
    }
}
