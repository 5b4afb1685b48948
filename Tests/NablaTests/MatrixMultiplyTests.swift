import Foundation
import Testing

@testable import Nabla

// MARK: - Zero-size products

/// A valid product with an empty operand or result: `[m, 0]·[0, n]` is zeros, and empty
/// results keep their shape.
struct ZeroSizeProduct: Sendable, CustomTestStringConvertible {
    var lhs: [Int], rhs: [Int]
    var transposeLHS = false, transposeRHS = false
    var result: [Int]

    var testDescription: String {
        "\(lhs)\(transposeLHS ? "ᵀ" : "")·\(rhs)\(transposeRHS ? "ᵀ" : "") → \(result)"
    }

    static let all: [ZeroSizeProduct] = [
        .init(lhs: [2, 0], rhs: [0, 3], result: [2, 3]),
        .init(lhs: [2, 3], rhs: [3, 0], result: [2, 0]),
        .init(lhs: [3, 0], rhs: [3, 2], transposeLHS: true, result: [0, 2]),
        .init(lhs: [2, 0], rhs: [3, 0], transposeRHS: true, result: [2, 3]),
        .init(lhs: [0, 2], rhs: [3, 0], transposeLHS: true, transposeRHS: true, result: [2, 3]),
    ]
}

@Suite struct ZeroSizeProductTests {
    @Test(arguments: ZeroSizeProduct.all)
    func productIsZerosOfTheRightShape(_ t: ZeroSizeProduct) {
        check(t, Float.self)
        check(t, Double.self)
    }

    func check<S: TensorScalar>(_ t: ZeroSizeProduct, _: S.Type) {
        let lhs: Tensor<S> = randomTensor(t.lhs, seed: 1), rhs: Tensor<S> = randomTensor(t.rhs, seed: 2)
        let product = matmul(lhs, rhs, transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
        #expect(product.shape == t.result)
        #expect(product.scalars == [S](repeating: 0, count: t.result.reduce(1, *)))
    }

    /// With an empty inner dimension the gradients are zeros; otherwise they are empty.
    @Test(arguments: ZeroSizeProduct.all)
    func gradientsAreZerosOfTheOperandShapes(_ t: ZeroSizeProduct) {
        let lhs = Ops.variable(randomTensor(t.lhs, seed: 1), requiresGradient: true)
        let rhs = Ops.variable(randomTensor(t.rhs, seed: 2), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record {
            Ops.matmul(lhs, rhs, transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
        }
        let seed: Tensor<Double> = randomTensor(t.result, seed: 3)
        let gradients = tape.gradient(of: y, withRespectTo: [lhs, rhs], seed: seed)
        #expect(gradients[0].value == .zeros(shape: t.lhs))
        #expect(gradients[1].value == .zeros(shape: t.rhs))
    }

    /// An empty inner dimension leaves `y ← beta · y`; `beta == 0` overwrites even NaN.
    @Test(arguments: [false, true])
    func gemvWithEmptyInnerDimensionScalesY(transposeA: Bool) {
        let (m, n) = transposeA ? (0, 3) : (3, 0)
        let empty: [Double] = []
        var y: [Double] = [1, 2, 3]
        var nan: [Double] = [.nan, .nan, .nan]
        empty.withUnsafeBufferPointer { a in
            y.withUnsafeMutableBufferPointer { y in
                BLAS.gemv(transposeA: transposeA, m: m, n: n, a: a, lda: 0, x: a, beta: 2, y: y)
            }
            nan.withUnsafeMutableBufferPointer { y in
                BLAS.gemv(transposeA: transposeA, m: m, n: n, a: a, lda: 0, x: a, beta: 0, y: y)
            }
        }
        #expect(y == [2, 4, 6])
        #expect(nan == [0, 0, 0])
    }

    /// An empty output leaves y alone.
    @Test(arguments: [false, true])
    func gemvWithEmptyOutputWritesNothing(transposeA: Bool) {
        let (m, n) = transposeA ? (3, 0) : (0, 3)
        let empty: [Float] = [], x: [Float] = [1, 2, 3]
        var y: [Float] = [7]
        empty.withUnsafeBufferPointer { a in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    BLAS.gemv(transposeA: transposeA, m: m, n: n, a: a, lda: 0, x: x, y: y)
                }
            }
        }
        #expect(y == [7])
    }

    @Test func conv2dWithEmptyBatch() {
        let input = Tensor<Double>(shape: [0, 2, 5, 5], scalars: [])
        let filter: Tensor<Double> = randomTensor([3, 2, 3, 3], seed: 4)
        let configuration = Convolution2DConfiguration(stride: 1, padding: 1)
        #expect(conv2d(input, filter: filter, configuration: configuration).shape == [0, 3, 5, 5])
        let upstream = Tensor<Double>(shape: [0, 3, 5, 5], scalars: [])
        #expect(
            conv2dBackwardInput(
                upstream, filter: filter, inputShape: input.shape, configuration: configuration
            ).shape == input.shape)
        #expect(
            conv2dBackwardFilter(
                upstream, input: input, filterShape: filter.shape, configuration: configuration)
                == .zeros(shape: filter.shape))
    }

    @Test func conv2dWithEmptyBatchOnATape() {
        let input = Ops.variable(Tensor(shape: [0, 2, 5, 5], scalars: []), requiresGradient: true)
        let filter = Ops.variable(randomTensor([3, 2, 3, 3], seed: 4), requiresGradient: true)
        let bias = Ops.variable(randomTensor([3], seed: 5), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record {
            Ops.sum(Ops.conv2d(input, filter: filter, bias: bias, configuration: .init(padding: 1)))
        }
        #expect(y.value.scalar == 0)
        let gradients = tape.gradient(of: y, withRespectTo: [input, filter, bias])
        #expect(gradients[0].value.shape == [0, 2, 5, 5])
        #expect(gradients[1].value == .zeros(shape: [3, 2, 3, 3]))
        #expect(gradients[2].value == .zeros(shape: [3]))
    }
}
