import Foundation
import Testing

@testable import Nabla

/// The eight-lane `Float` exp, tanh, sigmoid, erfc and GELU against libm's `Double` functions, rounded to
/// `Float`: the ulp error over a sweep of the whole range, and the edges one by one.
struct VectorMathTests {
    enum Function: String, CaseIterable, Sendable {
        case tanh, sigmoid, exp, erfc, gelu, geluDerivative

        func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
            switch self {
            case .tanh: VectorMath.tanh(x)
            case .sigmoid: VectorMath.sigmoid(x)
            case .exp: VectorMath.exp(x)
            case .erfc: VectorMath.erfc(x)
            case .gelu: VectorMath.gelu(x)
            case .geluDerivative: VectorMath.geluDerivative(x)
            }
        }

        /// The correctly rounded value, through `Double`.
        func reference(_ x: Float) -> Float {
            let x = Double(x)
            return switch self {
            case .tanh: Float(Foundation.tanh(x))
            case .sigmoid: Float(x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)))
            case .exp: Float(Foundation.exp(x))
            case .erfc: Float(Foundation.erfc(x))
            case .gelu: x == -.infinity ? 0 : Float(x * (Foundation.erfc(-x / 2.0.squareRoot()) / 2))
            case .geluDerivative:
                x.isInfinite ? (x > 0 ? 1 : 0)
                    : Float(Foundation.erfc(-x / 2.0.squareRoot()) / 2 + x * Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot())
            }
        }

        /// The bound each meets over the sweep at `x`, in ulps or else in absolute error. GELU's
        /// argument to erfc, `−x/√2`, is rounded to `Float` first (as with libm's `erfcf`), and
        /// erfc's relative condition number there is about x², so below x = −4 (|GELU| < 10⁻⁴)
        /// it may be 2x² ulp off; its derivative crosses zero.
        func bound(at x: Float) -> (ulps: Int, absolute: Float) {
            switch self {
            case .tanh, .sigmoid, .exp: (2, 0)
            case .erfc: (8, 0)
            case .gelu: (max(8, Int(min(2 * x * x, 1e6))), 0)
            case .geluDerivative: (0, 3e-7)
            }
        }

        func apply(_ values: [Float]) -> [Float] {
            var output = [Float](repeating: .nan, count: values.count)
            values.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    guard let x = x.baseAddress, let y = y.baseAddress else { return }
                    switch self {
                    case .tanh: ElementwiseKernels.tanh(x, into: y, count: values.count)
                    case .sigmoid: ElementwiseKernels.sigmoid(x, into: y, count: values.count)
                    case .gelu: ElementwiseKernels.gelu(x, into: y, count: values.count)
                    case .geluDerivative: ElementwiseKernels.geluDerivative(x, into: y, count: values.count)
                    case .exp: ElementwiseKernels.exp(x, into: y, count: values.count)
                    case .erfc:
                        for start in stride(from: 0, to: values.count, by: 8) {
                            var v = SIMD8<Float>()
                            for i in start..<min(start + 8, values.count) { v[i - start] = x[i] }
                            let r = lanes(v)
                            for i in start..<min(start + 8, values.count) { y[i] = r[i - start] }
                        }
                    }
                }
            }
            return output
        }
    }

    /// The distance in representable floats between two finite values of the same sign or zero.
    static func ulps(_ a: Float, _ b: Float) -> Int {
        func ordered(_ x: Float) -> Int { x.sign == .minus ? -Int(x.magnitude.bitPattern) : Int(x.bitPattern) }
        return abs(ordered(a) - ordered(b))
    }

    /// Every 2039th float of either sign, from the smallest subnormal to the largest finite
    /// value: 2.1 million arguments, each within the function's bound.
    @Test(arguments: Function.allCases)
    func meetsItsBoundOverTheWholeRange(_ function: Function) {
        var arguments: [Float] = []
        for bits in stride(from: UInt32(1), to: 0x7F80_0000, by: 2039) {
            let x = Float(bitPattern: bits)
            if function == .exp, x > 88.72283 { continue }
            arguments += [x, -x]
        }
        let results = function.apply(arguments)
        var failures = 0, worst = (ulps: 0, absolute: Float.zero, at: Float.zero)
        for (x, y) in zip(arguments, results) {
            let reference = function.reference(x)
            let d = Self.ulps(y, reference), e = abs(y - reference)
            let bound = function.bound(at: x)
            guard !(d <= bound.ulps || e <= bound.absolute) else { continue }
            failures += 1
            if d > worst.ulps { worst = (d, e, x) }
        }
        #expect(failures == 0, "\(function): \(failures) values beyond the bound, the worst \(worst.ulps) ulp (\(worst.absolute)) at \(worst.at)")
    }

    /// Hand-picked edges: NaN, ±∞, signed zeros, the ends of the ranges, subnormal results
    /// (e⁻¹⁰⁰ ≈ 3.7200760e-44 rounds to the subnormal 27·2⁻¹⁴⁹, written by its bits).
    @Test(arguments: [
        (Function.tanh, Float.nan, Float.nan), (.tanh, .infinity, 1), (.tanh, -.infinity, -1),
        (.tanh, 0, 0), (.tanh, -0.0, -0.0), (.tanh, 1e-30, 1e-30), (.tanh, -20, -1), (.tanh, 0.625, 0.5545997),
        (.sigmoid, .nan, .nan), (.sigmoid, .infinity, 1), (.sigmoid, -.infinity, 0), (.sigmoid, 0, 0.5),
        (.sigmoid, -0.0, 0.5), (.sigmoid, -100, Float(bitPattern: 27)), (.sigmoid, -120, 0), (.sigmoid, 40, 1),
        (.exp, .nan, .nan), (.exp, .infinity, .infinity), (.exp, -.infinity, 0), (.exp, 0, 1),
        (.exp, 88.72, 3.3931806e38), (.exp, 88.72283, 3.4027985e38), (.exp, 88.72284, .infinity), (.exp, -100, Float(bitPattern: 27)), (.exp, -104, 0),
        (.erfc, .nan, .nan), (.erfc, .infinity, 0), (.erfc, -.infinity, 2), (.erfc, 0, 1), (.erfc, 9, 4.1370317e-37),
        (.gelu, .nan, .nan), (.gelu, .infinity, .infinity), (.gelu, -.infinity, 0), (.gelu, -0.0, -0.0),
        (.gelu, 1, 0.8413447), (.gelu, -5, -1.4332578e-6), (.gelu, 3e38, 3e38),
        (.geluDerivative, .nan, .nan), (.geluDerivative, .infinity, 1), (.geluDerivative, -.infinity, 0),
        (.geluDerivative, 0, 0.5), (.geluDerivative, 1, 1.0833155),
    ] as [(Function, Float, Float)])
    func edges(_ function: Function, _ x: Float, _ expected: Float) {
        let y = function.apply([x])[0]
        if expected.isNaN {
            #expect(y.isNaN, "\(function)(\(x)) = \(y)")
        } else {
            #expect(y.sign == expected.sign && Self.ulps(y, expected) <= 1, "\(function)(\(x)) = \(y), not \(expected)")
        }
    }

    /// A value's result is the same wherever it sits, in the eight-wide body or in the tail, and
    /// in place as into another buffer.
    @Test(arguments: [Function.tanh, .sigmoid, .gelu, .geluDerivative])
    func resultsDoNotDependOnPosition(_ function: Function) {
        let value: Float = 0.7310
        let alone = function.apply([value])[0]
        for count in 1...19 {
            var values = (0..<count).map { Float($0) * 0.37 - 3 }
            values[count - 1] = value
            #expect(function.apply(values)[count - 1] == alone, "count \(count)")
            values.withUnsafeMutableBufferPointer { buffer in
                let p = buffer.baseAddress!
                switch function {
                case .tanh: ElementwiseKernels.tanh(p, into: p, count: count)
                case .sigmoid: ElementwiseKernels.sigmoid(p, into: p, count: count)
                case .gelu: ElementwiseKernels.gelu(p, into: p, count: count)
                default: ElementwiseKernels.geluDerivative(p, into: p, count: count)
                }
            }
            #expect(values[count - 1] == alone, "in place, count \(count)")
        }
    }

    /// exp takes its two-factor path when a lane's result is subnormal or needs 2¹²⁸; the other
    /// lanes come out the same either way.
    @Test(arguments: [Float(-95), 88.5, -87.5])
    func expLanesDoNotDependOnTheirNeighbours(_ neighbour: Float) {
        let values: [Float] = [-87, -20, -1, 0, 0.5, 30, 88, -.infinity]
        let alone = Function.exp.apply(values)
        for lane in values.indices {
            var mixed = values
            mixed[lane] = neighbour
            let result = Function.exp.apply(mixed)
            for i in values.indices where i != lane { #expect(result[i] == alone[i], "lane \(i) beside \(neighbour)") }
            #expect(Self.ulps(result[lane], Function.exp.reference(neighbour)) <= 2)
        }
    }

    /// `Double` keeps libm, bit for bit, and the tensor functions use these kernels.
    @Test func doubleKeepsLibmAndTensorsUseTheKernels() {
        let x: [Double] = [-30, -2.5, -0.3, 0, 1e-9, 0.7, 19, .nan]
        let t = Nabla.tanh(Tensor(x)).scalars, s = Nabla.sigmoid(Tensor(x)).scalars, e = Nabla.exp(Tensor(x)).scalars
        let g = Nabla.gelu(Tensor(x)).scalars
        for (i, v) in x.enumerated() where !v.isNaN {
            #expect(t[i] == Foundation.tanh(v))
            #expect(s[i] == Double.sigmoid(v))
            #expect(e[i] == Foundation.exp(v))
            #expect(g[i] == Double.gelu(v, .none))
        }
        #expect(t.last!.isNaN && s.last!.isNaN && e.last!.isNaN && g.last!.isNaN)
        let f: [Float] = (0..<21).map { Float($0) * 0.9 - 9 }
        #expect(Nabla.tanh(Tensor(f)).scalars == Function.tanh.apply(f))
        #expect(Nabla.sigmoid(Tensor(f)).scalars == Function.sigmoid.apply(f))
        #expect(Nabla.exp(Tensor(f)).scalars == Function.exp.apply(f))
        #expect(Nabla.gelu(Tensor(f)).scalars == Function.gelu.apply(f))
        #expect(Nabla.tanh(Tensor<Float>.zeros(shape: [0, 3])).shape == [0, 3])
    }
}

/// The one-pass row softmax against the tensor-op composition it replaced (reached through the
/// first axis of the transpose) and against `Double`; edges; the same bits on 1, 2 and 3 threads.
struct SoftmaxRowsTests {
    /// Rows of every length up to 19 (tails of every size) and one long enough to thread.
    @Test(arguments: [(3, 1), (5, 7), (4, 8), (6, 9), (2, 16), (3, 19), (40, 128), (600, 130)])
    func matchesTheCompositionAndDouble(_ rows: Int, _ columns: Int) {
        var g = SeededGenerator(seed: UInt64(rows * 131 + columns))
        let x = Tensor<Float>.randomNormal(shape: [rows, columns], using: &g) * 4
        let fused = softmax(x, alongAxis: 1)
        let composed = softmax(x.transposed(permutation: [1, 0]), alongAxis: 0).transposed(permutation: [1, 0])
        let exact = softmax(Tensor<Double>(shape: x.shape, scalars: x.scalars.map(Double.init)), alongAxis: 1)
        #expect(fused.isClose(to: composed, rtol: 1e-6, atol: 1e-7))
        // x − max rounds to Float first: |x − max| ≲ 30 here costs up to 30 · 2⁻²⁴ ≈ 2·10⁻⁶ relative.
        for (f, d) in zip(fused.scalars, exact.scalars) {
            #expect(abs(Double(f) - d) <= 2e-6 * d + 1e-12, "\(f) vs \(d)")
        }
    }

    /// An all −∞ row (fully masked) and rows holding NaN or +∞ are NaN throughout, as
    /// `exp(x − max)` makes them; huge finite values do not overflow; other rows are untouched.
    @Test func edgesGiveWhatTheCompositionGives() {
        let inf = Float.infinity
        let rows: [[Float]] = [
            [-inf, -inf, -inf], [1, .nan, 2], [inf, 0, 1], [3e38, -3e38, 3e38], [-inf, 0, -inf], [0, 0, 0],
        ]
        let x = Tensor(shape: [rows.count, 3], scalars: rows.flatMap { $0 })
        let fused = softmax(x, alongAxis: -1).scalars
        let composed = softmax(x.transposed(permutation: [1, 0]), alongAxis: 0).transposed(permutation: [1, 0]).scalars
        for (f, c) in zip(fused, composed) {
            #expect(f == c || (f.isNaN && c.isNaN), "\(f) vs \(c)")
        }
        #expect(fused[0..<9].allSatisfy { $0.isNaN })
        let expected: [Float] = [0.5, 0, 0.5, 0, 1, 0, 1 / 3, 1 / 3, 1 / 3]
        #expect(Array(fused[9...]) == expected)
    }

    @Test func sameBitsOnAnyThreadCount() {
        var g = SeededGenerator(seed: 7)
        let x = Tensor<Float>.randomNormal(shape: [700, 128], using: &g)
        let results = [1, 2, 3].map { threads in
            BLASThreadsForTests.with(threads) { (softmax(x, alongAxis: -1).scalars, Nabla.gelu(x).scalars) }
        }
        #expect(results[1] == results[0] && results[2] == results[0])
    }
}
