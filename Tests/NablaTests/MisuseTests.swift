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

    @Test func broadcastMismatch() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor<Double>.zeros(shape: [2, 3]) + Tensor<Double>.zeros(shape: [4, 3])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("add: lhs [2, 3] and rhs [4, 3]: shapes do not broadcast"))
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
