import Foundation
import Testing

@testable import Nabla

/// API misuse stops the process with one message naming the op and the shapes.
@Suite struct MisuseTests {
    @Test func matmulInnerDimensionMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor<Float>.zeros(shape: [2, 3]), Tensor<Float>.zeros(shape: [4, 5]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("matmul: lhs [2, 3] and rhs [4, 5]: inner dimensions 3 ≠ 4"))
    }

    @Test func recurrentStepRowsOutsideTheProjection() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let projection = TensorOperations.variable(Tensor<Float>.zeros(shape: [6, 8]))
            let state = TensorOperations.variable(Tensor<Float>.zeros(shape: [2, 3, 2]))
            let weight = TensorOperations.variable(Tensor<Float>.zeros(shape: [8, 2]))
            _ = TensorOperations.lstmStep(
                fromInput: projection, rows: 4..<7, state: state, weightHH: weight, weightHHTransposed: weight.value.transposed())
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("lstmStep: fromInput [6, 8] rows 4..<7, state [2, 3, 2]"))
    }

    @Test func concatenatedRowsOfDifferentShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            typealias Ops = TensorOperations<Float>
            _ = Ops.concatenate(rows: 0..<1, of: [Ops.variable(.zeros(shape: [2, 3])), Ops.variable(.zeros(shape: [2, 4]))])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("concatenate(rows:of:): rows 0..<1 of [[2, 3], [2, 4]]"))
    }

    /// A gradient read in a region adds into that region; a product's factors cannot.
    @Test func productGradientForARegionInput() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            differentiateTimesTwo(rows: 1..<3) { g, _ in
                [.product(MatrixProductFactors(g, .zeros(shape: [2, 2]), transposeLHS: false, transposeRHS: false))]
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("timesTwo backward: input 0 is read in a region; its gradient must be a tensor"))
    }

    /// A kernel backward's gradient must have its input's shape: the whole input's, or the
    /// region's for an input read in a region.
    @Test func kernelBackwardGradientOfTheWholeInputForARegion() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            differentiateTimesTwo(rows: 1..<3) { _, _ in [.tensor(.zeros(shape: [4, 2]))] }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("timesTwo backward: gradient [4, 2] for input 0 of shape [2, 2]"))
    }

    @Test func kernelBackwardProductOfAnotherShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            differentiateTimesTwo(rows: nil) { g, _ in
                [.product(MatrixProductFactors(g, .zeros(shape: [4, 2]), transposeLHS: true, transposeRHS: false))]
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("timesTwo backward: gradient [2, 2] for input 0 of shape [4, 2]"))
    }

    @Test func broadcastMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Double>.zeros(shape: [2, 3]) + Tensor<Double>.zeros(shape: [4, 3])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("add: lhs [2, 3] and rhs [4, 3]: shapes do not broadcast"))
    }

    @Test func reshapeInferringTwoDimensions() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>.zeros(shape: [2, 3]).reshaped(to: [-1, 3, -1])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("reshape: [2, 3] to [-1, 3, -1]: at most one dimension may be -1"))
    }

    @Test func reshapeToDifferentCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>.zeros(shape: [2, 3]).reshaped(to: [4, 2])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("reshape: [2, 3] to [4, 2]: element counts 6 ≠ 8"))
    }

    @Test func axisOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Float>.zeros(shape: [2, 3]).sum(alongAxes: [2])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("sum: axis 2 is out of range for shape [2, 3]"))
    }

    @Test func scalarCountMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("shape [2, 2] holds 4 scalars, but 3 were given"))
    }

    @Test func gemmLeadingDimensionTooSmall() async {
        await #expect(processExitsWith: .failure) {
            let a = [Float](repeating: 1, count: 6), b = [Float](repeating: 1, count: 6)
            var c = [Float](repeating: 0, count: 4)
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.gemm(m: 2, n: 2, k: 3, a: a, lda: 2, b: b, ldb: 2, c: c, ldc: 2)
                    }
                }
            }
        }
    }
}

/// Differentiates `2·x[rows]` (all of a `[4, 2]` x if `rows` is `nil`), recorded with
/// `tensorBackward` as its kernel backward, on a walk no tape records (which runs that backward).
private func differentiateTimesTwo(rows: Range<Int>?, tensorBackward: @escaping TensorBackward<Double>) {
    typealias Ops = TensorOperations<Double>
    let x = Ops.variable(Tensor.zeros(shape: [4, 2]), requiresGradient: true)
    let value = (rows.map { x.value.slice(alongAxis: 0, $0) } ?? x.value) * 2
    let tape = GradientTape<Double>()
    let y = tape.record {
        Ops.record(
            "timesTwo", [x], value, file: #fileID, line: #line,
            inputRegions: [rows.map { SliceRegion(axis: 0, range: $0) }], tensorBackward: tensorBackward
        ) { g, _ in [g * 2] }
    }
    _ = tape.gradient(of: y, withRespectTo: [x], seed: .zeros(shape: value.shape))
}
