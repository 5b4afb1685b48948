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

// MARK: - Batched, broadcast and vector products

/// NumPy's `matmul` with transpose flags, by index arithmetic: promote vectors, broadcast the
/// batch axes, run a triple loop per batch index, drop the vector axes.
func naiveMatmul(
    _ lhs: Tensor<Double>, _ rhs: Tensor<Double>, transposeLHS: Bool = false,
    transposeRHS: Bool = false
) -> Tensor<Double> {
    let a = lhs.rank == 1 ? [1] + lhs.shape : lhs.shape
    let b = rhs.rank == 1 ? rhs.shape + [1] : rhs.shape
    let (aRows, aColumns) = (a[a.count - 2], a[a.count - 1])
    let (bRows, bColumns) = (b[b.count - 2], b[b.count - 1])
    let (m, k) = transposeLHS ? (aColumns, aRows) : (aRows, aColumns)
    let n = transposeRHS ? bRows : bColumns
    let rank = max(a.count, b.count) - 2
    let aBatch = [Int](repeating: 1, count: rank - (a.count - 2)) + a.dropLast(2)
    let bBatch = [Int](repeating: 1, count: rank - (b.count - 2)) + b.dropLast(2)
    let batch = zip(aBatch, bBatch).map { $0 == 1 ? $1 : $0 }
    let av = lhs.scalars, bv = rhs.scalars
    var out: [Double] = []
    for flat in 0..<batch.reduce(1, *) {
        // The batch index, and each operand's matrix number (index 0 along its axes of 1).
        var rest = flat, aMatrix = 0, bMatrix = 0, aStride = 1, bStride = 1
        for axis in batch.indices.reversed() {
            let index = rest % batch[axis]
            rest /= batch[axis]
            aMatrix += (aBatch[axis] == 1 ? 0 : index) * aStride
            bMatrix += (bBatch[axis] == 1 ? 0 : index) * bStride
            aStride *= aBatch[axis]
            bStride *= bBatch[axis]
        }
        let aBase = aMatrix * aRows * aColumns, bBase = bMatrix * bRows * bColumns
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let left = av[aBase + (transposeLHS ? p * aColumns + i : i * aColumns + p)]
                    let right = bv[bBase + (transposeRHS ? j * bColumns + p : p * bColumns + j)]
                    sum += left * right
                }
                out.append(sum)
            }
        }
    }
    let shape = batch + (lhs.rank == 1 ? [] : [m]) + (rhs.rank == 1 ? [] : [n])
    return Tensor(shape: shape, scalars: out)
}

/// One product: stored operand shapes, the transpose flags, and the result shape by hand.
struct ProductCase: Sendable, CustomTestStringConvertible {
    var lhs: [Int], rhs: [Int]
    var transposeLHS = false, transposeRHS = false
    var result: [Int]

    var testDescription: String {
        "\(lhs)\(transposeLHS ? "ᵀ" : "")·\(rhs)\(transposeRHS ? "ᵀ" : "") → \(result)"
    }

    /// `op(lhs)` `[.., m, k]` and `op(rhs)` `[.., k, n]` stored as the flags say.
    static func matrices(
        _ lhsBatch: [Int], _ m: Int, _ k: Int, _ rhsBatch: [Int], _ n: Int,
        transposeLHS: Bool, transposeRHS: Bool, result: [Int]
    ) -> ProductCase {
        ProductCase(
            lhs: lhsBatch + (transposeLHS ? [k, m] : [m, k]),
            rhs: rhsBatch + (transposeRHS ? [n, k] : [k, n]),
            transposeLHS: transposeLHS, transposeRHS: transposeRHS, result: result)
    }

    /// `(lhs batch, m, k, rhs batch, n, result)`, run with every combination of the flags.
    static let matrixShapes: [([Int], Int, Int, [Int], Int, [Int])] = [
        // 2-D; 4-D with both batches (attention heads); broadcast axes of 1 and ranks that
        // differ; a shared 2-D rhs; a shared 2-D lhs; rhs batch axes all 1; a batch of 1.
        ([], 4, 5, [], 3, [4, 3]),
        ([2, 3], 4, 5, [2, 3], 2, [2, 3, 4, 2]),
        ([2, 1], 4, 5, [3], 2, [2, 3, 4, 2]),
        ([1, 3], 2, 3, [2, 1], 4, [2, 3, 2, 4]),
        ([3], 4, 5, [2, 1], 6, [2, 3, 4, 6]),
        ([2, 3], 4, 5, [], 2, [2, 3, 4, 2]),
        ([], 4, 5, [2, 3], 2, [2, 3, 4, 2]),
        ([2, 3], 4, 5, [1, 1], 2, [2, 3, 4, 2]),
        ([1], 4, 5, [], 3, [1, 4, 3]),
        // Zero-size batches, a batch axis of 1 against 0, and empty k, m, n in a batch.
        ([0], 4, 5, [], 2, [0, 4, 2]),
        ([2, 0], 4, 5, [1], 3, [2, 0, 4, 3]),
        ([1], 4, 5, [0], 2, [0, 4, 2]),
        ([3], 4, 0, [3], 2, [3, 4, 2]),
        ([2, 1], 0, 5, [3], 2, [2, 3, 0, 2]),
        ([2], 4, 5, [], 0, [2, 4, 0]),
    ]

    /// Vectors: matrix·vector, vector·matrix, vector·vector, batched on either side.
    static let vectors: [ProductCase] = [
        .init(lhs: [4, 5], rhs: [5], result: [4]),
        .init(lhs: [5, 4], rhs: [5], transposeLHS: true, result: [4]),
        .init(lhs: [5], rhs: [5, 3], result: [3]),
        .init(lhs: [5], rhs: [3, 5], transposeRHS: true, result: [3]),
        .init(lhs: [5], rhs: [5], result: []),
        .init(lhs: [2, 3, 4, 5], rhs: [5], result: [2, 3, 4]),
        .init(lhs: [2, 5, 4], rhs: [5], transposeLHS: true, result: [2, 4]),
        .init(lhs: [5], rhs: [2, 5, 3], result: [2, 3]),
        .init(lhs: [5], rhs: [2, 3, 5], transposeRHS: true, result: [2, 3]),
        .init(lhs: [0, 4, 5], rhs: [5], result: [0, 4]),
        .init(lhs: [0], rhs: [0, 3], result: [3]),
        .init(lhs: [0], rhs: [0], result: []),
    ]

    static let all: [ProductCase] = {
        var cases: [ProductCase] = []
        for transposeLHS in [false, true] {
            for transposeRHS in [false, true] {
                for (lhsBatch, m, k, rhsBatch, n, result) in matrixShapes {
                    cases.append(
                        matrices(
                            lhsBatch, m, k, rhsBatch, n, transposeLHS: transposeLHS,
                            transposeRHS: transposeRHS, result: result))
                }
            }
        }
        return cases + vectors
    }()
}

@Suite struct BatchedMatrixMultiplyTests {
    @Test(arguments: ProductCase.all)
    func forwardMatchesNaiveLoops(_ t: ProductCase) {
        let lhs: Tensor<Double> = randomTensor(t.lhs, seed: 11)
        let rhs: Tensor<Double> = randomTensor(t.rhs, seed: 12)
        let expected = naiveMatmul(lhs, rhs, transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
        #expect(expected.shape == t.result, "the naive reference disagrees with the table")
        let double = matmul(lhs, rhs, transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
        expectClose(double, expected, rtol: 1e-12, atol: 1e-13)
        let float = matmul(
            converted(lhs, to: Float.self), converted(rhs, to: Float.self),
            transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
        expectClose(float, converted(expected, to: Float.self), rtol: 1e-5, atol: 1e-5)
    }

    @Test(arguments: ProductCase.all)
    func gradientsMatchFiniteDifferences(_ t: ProductCase) {
        let report = GradientCheck.check(
            { DOps.matmul($0[0], $0[1], transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS) },
            at: [randomTensor(t.lhs, seed: 13), randomTensor(t.rhs, seed: 14)])
        #expect(report.passed, "\(report)")
    }
}

// MARK: - Misuse

/// A product that must stop, and the message it must print.
struct MatmulMisuse: Codable, Sendable, CustomTestStringConvertible {
    var lhs: [Int], rhs: [Int]
    var transposeLHS = false, transposeRHS = false
    /// Whether to call `TensorOperations.matmul` rather than the tensor-level `matmul`.
    var differentiable = false
    var message: String

    var testDescription: String { message }

    static let all: [MatmulMisuse] = [
        .init(lhs: [2, 3, 4], rhs: [5, 4, 2],
              message: "matmul: lhs [2, 3, 4] and rhs [5, 4, 2]: batch shapes [2] and [5] do not broadcast"),
        .init(lhs: [2, 3, 3, 4], rhs: [2, 4, 2], differentiable: true,
              message: "matmul: lhs [2, 3, 3, 4] and rhs [2, 4, 2]: batch shapes [2, 3] and [2] do not broadcast"),
        .init(lhs: [3], rhs: [3, 2], transposeLHS: true,
              message: "matmul: lhs [3] and rhs [3, 2]: transposeLHS needs a matrix lhs"),
        .init(lhs: [2, 3], rhs: [3], transposeRHS: true,
              message: "matmul: lhs [2, 3] and rhs [3]: transposeRHS needs a matrix rhs"),
        .init(lhs: [], rhs: [3], message: "matmul: lhs [] and rhs [3]: operands must have rank 1 or more"),
        .init(lhs: [2, 3], rhs: [4], message: "matmul: lhs [2, 3] and rhs [4]: inner dimensions 3 ≠ 4"),
        .init(lhs: [2, 3, 4, 5], rhs: [3, 5, 6], transposeLHS: true,
              message: "matmul: lhs [2, 3, 4, 5] and rhs [3, 5, 6]: inner dimensions 4 ≠ 5 "
                  + "(transposing lhs: true, rhs: false)"),
    ]
}

@Suite struct MatmulMisuseTests {
    @Test(arguments: MatmulMisuse.all)
    func stopsWithMessage(_ t: MatmulMisuse) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [t] in
            let lhs = Tensor<Float>.zeros(shape: t.lhs), rhs = Tensor<Float>.zeros(shape: t.rhs)
            if t.differentiable {
                _ = FOps.matmul(
                    FOps.constant(lhs), FOps.constant(rhs), transposeLHS: t.transposeLHS,
                    transposeRHS: t.transposeRHS)
            } else {
                _ = matmul(lhs, rhs, transposeLHS: t.transposeLHS, transposeRHS: t.transposeRHS)
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains(t.message), "stderr: \(message)")
    }
}

// MARK: - linear and addMatrixProduct

/// `linear` (x·Wᵀ + b) and the accumulating `addMatrixProduct`, against the triple loop.
@Suite struct LinearAndAccumulatingProductTests {
    @Test(arguments: [[2, 3, 4], [5, 4], [0, 4], [1, 4]], [true, false])
    func linearMatchesLoops(_ inputShape: [Int], _ withBias: Bool) {
        let x = randomTensor(inputShape, seed: 1) as Tensor<Double>
        let w = randomTensor([6, 4], seed: 2) as Tensor<Double>
        let b = withBias ? randomTensor([6], seed: 3) as Tensor<Double> : nil
        let rows = inputShape.dropLast().reduce(1, *)
        var expected = naiveMatmul(x.reshaped(to: [rows, 4]), w, transposeRHS: true).scalars
        if let b { for index in expected.indices { expected[index] += b.scalars[index % 6] } }
        expectClose(linear(x, weight: w, bias: b), Tensor(shape: inputShape.dropLast() + [6], scalars: expected), rtol: 1e-12, atol: 1e-12)
    }

    /// A NaN in the bias reaches its column: the bias is the GEMM's starting value, not skipped.
    @Test func linearKeepsANaNBias() {
        let y = linear(Tensor<Float>.ones(shape: [2, 3]), weight: .ones(shape: [2, 3]), bias: Tensor([.nan, 1]))
        #expect(y[0, 0].isNaN && y[1, 0].isNaN && y[0, 1] == 4 && y[1, 1] == 4)
    }

    @Test(arguments: [false, true], [false, true])
    func addMatrixProductAccumulates(_ transposeLHS: Bool, _ transposeRHS: Bool) {
        let lhs = randomTensor(transposeLHS ? [5, 3] : [3, 5], seed: 4) as Tensor<Double>
        let rhs = randomTensor(transposeRHS ? [4, 5] : [5, 4], seed: 5) as Tensor<Double>
        let start = randomTensor([3, 4], seed: 6) as Tensor<Double>
        var accumulator = start
        let shared = accumulator  // copy-on-write: the other copy keeps its values
        accumulator.addMatrixProduct(lhs, rhs, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
        let product = naiveMatmul(lhs, rhs, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
        expectClose(accumulator, start + product, rtol: 1e-12, atol: 1e-12)
        #expect(shared == start)
    }

    @Test func parameterAccumulatesFromNothingAndOnTop() {
        let parameter = Parameter(name: "weight", value: Tensor<Double>.zeros(shape: [3, 4]))
        let g = randomTensor([7, 3], seed: 7) as Tensor<Double>, x = randomTensor([7, 4], seed: 8) as Tensor<Double>
        let product = naiveMatmul(g, x, transposeLHS: true)
        parameter.accumulateGradient { $0.addMatrixProduct(g, x, transposeLHS: true) }
        expectClose(parameter.gradient!, product, rtol: 1e-12, atol: 1e-12)
        parameter.accumulateGradient { $0.addMatrixProduct(g, x, transposeLHS: true) }
        expectClose(parameter.gradient!, product * 2, rtol: 1e-12, atol: 1e-12)
    }

    @Test func misuseNamesTheShapes() async {
        let linearResult = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = linear(Tensor<Float>.zeros(shape: [2, 3]), weight: .zeros(shape: [4, 5]), bias: nil)
        }
        #expect(standardError(linearResult).contains("linear: input [2, 3], weight [4, 5]: input features 3 ≠ weight's 5"))
        let productResult = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var accumulator = Tensor<Float>.zeros(shape: [2, 2])
            accumulator.addMatrixProduct(.zeros(shape: [2, 3]), .zeros(shape: [3, 4]))
        }
        #expect(standardError(productResult).contains(
            "addMatrixProduct: accumulator [2, 2], lhs [2, 3] and rhs [3, 4]: the product is [2, 4]"))
    }
}
