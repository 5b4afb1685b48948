import Testing

@testable import Nabla

/// The max-pooling kernel against its documented rule, computed by loops: the maximum over the
/// window's in-bounds taps, ties to the first in row-major window order, and a NaN wins (the
/// first NaN, if several).
@Suite struct MaxPoolKernelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let shape: [Int]
        let configuration: Pooling2DConfiguration
        var testDescription: String { "\(shape) \(configuration)" }
    }

    static let cases: [Case] = [
        .init(shape: [2, 3, 6, 6], configuration: .init(kernelSize: 2)),
        .init(shape: [1, 2, 7, 5], configuration: .init(kernelSize: 2)),  // odd sizes drop the last row/column
        .init(shape: [1, 2, 4, 20], configuration: .init(kernelSize: 2)),  // eight windows at once, then two
        .init(shape: [2, 1, 5, 35], configuration: .init(kernelSize: 2)),  // two blocks of eight, then one
        .init(shape: [1, 1, 5, 5], configuration: .init(kernelSize: 3, stride: 1)),
        .init(shape: [2, 1, 7, 7], configuration: .init(kernelSize: 3, stride: 2)),
        .init(shape: [1, 2, 4, 7], configuration: .init(
            kernelHeight: 2, kernelWidth: 3, strideHeight: 1, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)),
        .init(shape: [1, 2, 5, 5], configuration: .init(kernelSize: 3, stride: 2, padding: 1)),
        .init(shape: [0, 2, 4, 4], configuration: .init(kernelSize: 2)),
    ]

    /// Values from a small set, so ties are common, with NaNs sprinkled in.
    static func input(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        var generator = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<count).map { _ in
            let k = Int.random(in: 0..<12, using: &generator)
            return k == 0 ? .nan : Double(k % 4)
        })
    }

    static func reference(_ x: Tensor<Double>, _ c: Pooling2DConfiguration) -> (values: [Double], indices: [Int]) {
        let s = x.shape
        let oh = (s[2] + 2 * c.paddingHeight - c.kernelHeight) / c.strideHeight + 1
        let ow = (s[3] + 2 * c.paddingWidth - c.kernelWidth) / c.strideWidth + 1
        var values: [Double] = [], indices: [Int] = []
        for plane in 0..<(s[0] * s[1]) { for oy in 0..<oh { for ox in 0..<ow {
            var best: (value: Double, index: Int)?
            for i in 0..<c.kernelHeight { for j in 0..<c.kernelWidth {
                let y = oy * c.strideHeight - c.paddingHeight + i, xx = ox * c.strideWidth - c.paddingWidth + j
                guard y >= 0, y < s[2], xx >= 0, xx < s[3] else { continue }
                let index = (plane * s[2] + y) * s[3] + xx, v = x.scalars[index]
                if let b = best, !(v > b.value || (v.isNaN && !b.value.isNaN)) { continue }
                best = (v, index)
            } }
            values.append(best!.value)
            indices.append(best!.index)
        } } }
        return (values, indices)
    }

    @Test("max pooling keeps the first maximum and lets NaN win", arguments: cases, [Float.self, Double.self] as [any TensorScalar.Type])
    func matchesRule(_ t: Case, _ type: any TensorScalar.Type) {
        for seed in 1...3 as ClosedRange<UInt64> {
            let x = Self.input(t.shape, seed: seed)
            let expected = Self.reference(x, t.configuration)
            func check<S: TensorScalar>(_: S.Type) {
                let (values, indices) = maxPool2dWithIndices(converted(x, to: S.self), configuration: t.configuration)
                #expect(indices == expected.indices)
                #expect(zip(values.scalars, expected.values).allSatisfy { a, b in
                    b.isNaN ? a.isNaN : Double(a) == b
                })
            }
            check(type)
        }
    }
}
