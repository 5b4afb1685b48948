import Testing

@testable import Nabla

// Adam's update in C at every SIMD level this CPU runs against the portable Swift loop: the same
// bits for Float and Double on counts with every tail, with NaN and ±∞ gradients, over several
// steps; the forced level is the one that runs; every run on 1 and 2 threads agrees.

@Suite("Adam at every SIMD level")
struct AdamSIMDTests {
    static let counts = [0, 1, 7, 8, 15, 16, 17, 33, 1000, 1027]

    /// Parameters and both moments after `steps` updates of `count` parameters at `level`.
    static func run<S: TensorScalar>(_: S.Type, count: Int, steps: Int = 3, level: SIMDLevel) -> [[S]] {
        var generator = SeededGenerator(seed: UInt64(count) + 1)
        var p = (0..<count).map { _ in S(Double.random(in: -1..<1, using: &generator)) }
        var m = [S](repeating: 0, count: count), v = [S](repeating: 0, count: count)
        for step in 1...steps {
            var g = (0..<count).map { _ in S(Double.random(in: -2..<2, using: &generator)) }
            for (i, special) in [S.nan, .infinity, -.infinity, 0].enumerated() where count > 8 {
                g[(i * 5 + step) % count] = special
            }
            SIMDLevel.withLevel(level) {
                p.withUnsafeMutableBufferPointer { p in
                    g.withUnsafeBufferPointer { g in
                        m.withUnsafeMutableBufferPointer { m in
                            v.withUnsafeMutableBufferPointer { v in
                                OptimizerKernels.adam(
                                    p, gradient: g, firstMoment: m, secondMoment: v, maximumSecondMoment: nil,
                                    step: step, learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
                                    weightDecay: 0, decoupled: false)
                            }
                        }
                    }
                }
            }
        }
        return [p, m, v]
    }

    static func same<S: TensorScalar>(_ a: [[S]], _ b: [[S]]) -> Bool {
        zip(a, b).allSatisfy { x, y in
            x.count == y.count && zip(x, y).allSatisfy { ($0.isNaN && $1.isNaN) || ($0 == $1 && $0.sign == $1.sign) }
        }
    }

    @Test("Adam at each level gives the portable bits", arguments: runnableSIMDLevels)
    func sameBits(level: SIMDLevel) {
        for count in Self.counts {
            #expect(Self.same(Self.run(Float.self, count: count, level: .portable), Self.run(Float.self, count: count, level: level)), "Float, \(count), \(level)")
            #expect(Self.same(Self.run(Double.self, count: count, level: .portable), Self.run(Double.self, count: count, level: level)), "Double, \(count), \(level)")
        }
        let nanLanes = Self.run(Float.self, count: 33, steps: 1, level: level)[0]
        #expect(nanLanes.contains { $0.isNaN }, "a NaN gradient gives a NaN parameter")
    }

    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevelRuns(level: SIMDLevel) {
        let (_, runs) = KernelLevelLog.recording { Self.run(Float.self, count: 20, steps: 1, level: level) }
        #expect(runs.map(\.family) == [.optimizerUpdate])
        #expect(runs.map(\.level) == [min(level, KernelFamily.optimizerUpdate.highestLevel)])
    }

    @Test("Every run gives the same bits, at 1 and 2 threads", arguments: [1, 2])
    func deterministic(threads: Int) {
        BLASThreadsForTests.with(threads) {
            for level in [SIMDLevel.portable] + runnableSIMDLevels {
                #expect(Self.same(Self.run(Float.self, count: 5000, level: level), Self.run(Float.self, count: 5000, level: level)))
            }
        }
    }
}
