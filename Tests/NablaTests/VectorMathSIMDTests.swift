import Testing

@testable import Nabla

// The C vector math (exp, tanh, sigmoid, erfc, GELU, GELU's derivative) at every SIMD level this
// CPU runs against the portable Swift lanes: the same bits over a sweep of all floats, at the
// edges, on every count with a tail, in place, on 1 and 2 threads, and through the LSTM and GRU
// cells and the tensor functions; the forced level is the one that runs.

@Suite("Vector math at every SIMD level")
struct VectorMathSIMDTests {
    enum Function: String, CaseIterable, Sendable {
        case exp, tanh, sigmoid, erfc, gelu, geluDerivative

        var lanes: any LaneFunction.Type {
            switch self {
            case .exp: VectorMath.Exp.self
            case .tanh: VectorMath.Tanh.self
            case .sigmoid: VectorMath.Sigmoid.self
            case .erfc: VectorMath.ERFC.self
            case .gelu: VectorMath.GELU.self
            case .geluDerivative: VectorMath.GELUDerivative.self
            }
        }

        /// The function over `values` at `level`: the Swift lanes 8 at a time (tail
        /// zero-padded) at `portable`, else the C kernel; in place when `inPlace`.
        func apply(_ values: [Float], at level: SIMDLevel, inPlace: Bool = false) -> [Float] {
            var output = inPlace ? values : [Float](repeating: .nan, count: values.count)
            let input = values
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    guard let y = y.baseAddress else { return }
                    let x = inPlace ? UnsafePointer(y) : x.baseAddress!
                    if level > .portable {
                        lanes.kernel(at: level)(x, y, Int64(values.count))
                        return
                    }
                    for start in stride(from: 0, to: values.count, by: 8) {
                        var v = SIMD8<Float>()
                        for i in start..<min(start + 8, values.count) { v[i - start] = x[i] }
                        let r = lanes.lanes(v)
                        for i in start..<min(start + 8, values.count) { y[i] = r[i - start] }
                    }
                }
            }
            return output
        }
    }

    /// Every 2039th float of either sign (2.1 million values, so every lane mix of the exp's
    /// one- and two-factor paths), then the edges: NaN, ±∞, ±0, subnormals, the ends of exp's
    /// ranges and their neighbours, tanh's switch point.
    static let sweep: [Float] = {
        var values: [Float] = []
        for bits in stride(from: UInt32(1), to: 0x7F80_0000, by: 2039) {
            let x = Float(bitPattern: bits)
            values += [x, -x]
        }
        let edges: [Float] = [
            .nan, -.nan, .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, -87.33, -103.97, -104, 88.3762,
            88.72283, 88.72284, 0.625, -0.625, 9, -9, 10.5, -10.5, 1e-30, -20, Float(bitPattern: 0x7FC0_1234),
        ]
        for edge in edges { values += [edge, edge.nextUp, edge.nextDown] }
        return values
    }()

    @Test("The C lanes give the portable bits over all floats", arguments: runnableSIMDLevels, Function.allCases)
    func sameBitsOverTheSweep(level: SIMDLevel, function: Function) {
        let portable = function.apply(Self.sweep, at: .portable)
        let simd = function.apply(Self.sweep, at: level)
        var differing = 0, first: (Float, Float, Float)?
        for (x, (p, s)) in zip(Self.sweep, zip(portable, simd)) where !Self.same(p, s) {
            differing += 1
            if first == nil { first = (x, p, s) }
        }
        #expect(differing == 0, "\(function) at \(level): \(differing) differ, first \(String(describing: first))")
        for (x, y) in zip(Self.sweep, simd) where x.isNaN { #expect(y.isNaN, "\(function)(NaN) at \(level)") }
    }

    static func same(_ a: Float, _ b: Float) -> Bool {
        (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
    }

    static let counts = [0, 1, 7, 8, 15, 16, 17, 31, 33, 100, 1000, 1 << 17]

    /// Every count's tail, in place and not, through the `ElementwiseKernels` entry points
    /// (which split counts from 2¹⁶ across threads), with NaN and ±∞ among the values.
    @Test("ElementwiseKernels at each level give the portable bits", arguments: runnableSIMDLevels, [1, 2])
    func entryPointsOnEveryTail(level: SIMDLevel, threads: Int) {
        typealias Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
        let kernels: [(String, Kernel)] = [
            ("exp", { ElementwiseKernels.exp($0, into: $1, count: $2) }),
            ("tanh", { ElementwiseKernels.tanh($0, into: $1, count: $2) }),
            ("sigmoid", { ElementwiseKernels.sigmoid($0, into: $1, count: $2) }),
            ("gelu", { ElementwiseKernels.gelu($0, into: $1, count: $2) }),
            ("geluDerivative", { ElementwiseKernels.geluDerivative($0, into: $1, count: $2) }),
        ]
        BLASThreadsForTests.with(threads) {
            for count in Self.counts {
                var generator = SeededGenerator(seed: UInt64(count))
                var values = (0..<count).map { _ in Float.random(in: -12..<12, using: &generator) }
                for (i, special) in [Float.nan, .infinity, -.infinity, -95, 88.5].enumerated() where count > 0 {
                    values[(i * 7 + count / 2) % count] = special
                }
                for (name, kernel) in kernels {
                    func run(inPlace: Bool) -> [Float] {
                        var output = inPlace ? values : [Float](repeating: 0, count: count)
                        values.withUnsafeBufferPointer { x in
                            output.withUnsafeMutableBufferPointer { y in
                                guard count > 0 else { return }
                                kernel(inPlace ? UnsafePointer(y.baseAddress!) : x.baseAddress!, y.baseAddress!, count)
                            }
                        }
                        return output
                    }
                    let portable = SIMDLevel.withLevel(.portable) { run(inPlace: false) }
                    for inPlace in [false, true] {
                        let simd = SIMDLevel.withLevel(level) { run(inPlace: inPlace) }
                        #expect(
                            zip(portable, simd).allSatisfy(Self.same),
                            "\(name), \(level), count \(count), in place \(inPlace), \(threads) threads")
                    }
                }
            }
        }
    }

    /// LSTM and GRU forward and backward (the gates' sigmoid and tanh) and the tensor functions.
    @Test("Recurrent cells and tensor functions give the portable bits", arguments: runnableSIMDLevels)
    func recurrentAndTensors(level: SIMDLevel) {
        for gru in [false, true] {
            func run() -> [Tensor<Float>] {
                var generator = SeededGenerator(seed: 11)
                let layer: Layer<Float> = gru
                    ? GRU(inputSize: 5, hiddenSize: 19, using: &generator)
                    : LSTM(inputSize: 5, hiddenSize: 19, using: &generator)
                let input = Tensor<Float>.randomNormal(shape: [6, 3, 5], using: &generator) * 3
                let output = layer.forward(input)
                _ = layer.backward(Tensor<Float>.randomNormal(shape: output.shape, using: &generator))
                return [output] + layer.parameters.map { $0.gradient! }
            }
            let portable = SIMDLevel.withLevel(.portable, run), simd = SIMDLevel.withLevel(level, run)
            // Where matrix products run on Nabla's packed GEMM instead of OpenBLAS (AVX-512), the
            // weight gradients' sums round in another order: those levels agree within rounding.
            let sameProducts = SIMDLevel.withLevel(level) { KernelFamily.matrixProducts.level } == .portable
            for (p, s) in zip(portable, simd) {
                let ok = sameProducts ? sameBits(p, s) : SIMDLevelTests().closeWithSameNonFinite(s, p)
                #expect(ok, "\(gru ? "GRU" : "LSTM"), \(level)")
            }
        }
        var generator = SeededGenerator(seed: 12)
        var x = Tensor<Float>.randomNormal(shape: [7, 37], using: &generator) * 6
        x.withUnsafeMutableBufferPointer { $0[3] = .nan; $0[40] = .infinity; $0[77] = -.infinity }
        let functions: [(Tensor<Float>) -> Tensor<Float>] = [
            { Nabla.exp($0) }, { Nabla.tanh($0) }, { Nabla.sigmoid($0) }, { Nabla.gelu($0) },
            { softmax($0, alongAxis: -1) },
        ]
        for (i, f) in functions.enumerated() {
            let portable = SIMDLevel.withLevel(.portable) { f(x) }, simd = SIMDLevel.withLevel(level) { f(x) }
            #expect(sameBits(portable, simd), "function \(i), \(level)")
        }
    }

    /// Row softmax: rows of every length up to 40 and longer ones (tails of every size, 8-lane
    /// sums over 16-lane blocks), rows with NaN, ±∞ and all −∞, on 1 and 2 threads (many rows
    /// split across threads).
    @Test("Row softmax at each level gives the portable bits", arguments: runnableSIMDLevels, [1, 2])
    func softmaxRows(level: SIMDLevel, threads: Int) {
        let inf = Float.infinity
        BLASThreadsForTests.with(threads) {
            for columns in Array(1...40) + [127, 130, 1000] {
                let rows = columns == 130 ? 600 : 9
                var generator = SeededGenerator(seed: UInt64(columns))
                var x = Tensor<Float>.randomNormal(shape: [rows, columns], using: &generator) * 5
                x.withUnsafeMutableBufferPointer { b in
                    b[columns / 2] = .nan  // row 0
                    b[columns + columns / 3] = inf  // row 1
                    for c in 0..<columns { b[2 * columns + c] = -inf }  // row 2 fully masked
                    b[3 * columns + columns - 1] = -inf
                    b[4 * columns] = 3e38
                }
                let portable = SIMDLevel.withLevel(.portable) { softmax(x, alongAxis: -1) }
                let simd = SIMDLevel.withLevel(level) { softmax(x, alongAxis: -1) }
                #expect(sameBits(portable, simd), "\(level), \(rows)×\(columns), \(threads) threads")
                #expect(simd.scalars[0..<columns].allSatisfy { $0.isNaN })
            }
        }
    }

    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevelRuns(level: SIMDLevel) {
        let x = Tensor<Float>(shape: [40], scalars: (0..<40).map { Float($0) / 7 - 3 })
        let (_, runs) = KernelLevelLog.recording { SIMDLevel.withLevel(level) { Nabla.tanh(x) } }
        #expect(runs.map(\.family) == [.vectorMath])
        #expect(runs.map(\.level) == [min(level, KernelFamily.vectorMath.highestLevel)])
    }

    /// Just above ln 2⁻¹⁵⁰ eˣ rounds up to the least subnormal, beside any neighbour (the exp's
    /// one-factor path once gave 0 there, so its 8 and 16 lanes could differ).
    @Test(arguments: [Float(-103.9715), -103.9719])
    func expJustAboveTheLastSubnormalIgnoresNeighbours(_ x: Float) {
        let alone = VectorMath.exp(SIMD8(repeating: x))
        for neighbour: Float in [0, -95, 88.5, -200] {
            var mixed = SIMD8<Float>(repeating: neighbour)
            mixed[3] = x
            #expect(VectorMath.exp(mixed)[3] == alone[0], "beside \(neighbour)")
        }
        #expect(alone[0] == .leastNonzeroMagnitude)
    }
}
