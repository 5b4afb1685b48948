import Testing

@testable import Nabla

// The LSTM cell's backward step in C at every SIMD level this CPU runs against the portable
// Swift loop: the same bits for Float and Double, on hidden sizes with every tail, with NaN and
// ±∞ among the inputs.

@Suite("LSTM cell backward at every SIMD level")
struct RecurrentCellSIMDTests {
    static let shapes = [(batch: 1, h: 1), (1, 7), (3, 16), (2, 17), (3, 33), (2, 64)]

    /// dGates, dCell and dHidden after one backward step at `level`.
    static func run<S: TensorScalar>(_: S.Type, batch: Int, h: Int, level: SIMDLevel) -> [[S]] {
        var generator = SeededGenerator(seed: UInt64(batch * 100 + h))
        func values(_ count: Int, _ range: Range<Double>) -> [S] {
            (0..<count).map { _ in S(Double.random(in: range, using: &generator)) }
        }
        var gates = values(batch * 4 * h, 0..<1), saved = values(batch * h, -1..<1)
        let previousCell = values(batch * h, -3..<3)
        var dHidden = values(batch * h, -2..<2), dCell = values(batch * h, -2..<2)
        var dGates = [S](repeating: 0, count: batch * 4 * h)
        for (i, special) in [S.nan, .infinity, -.infinity].enumerated() where h > 8 {
            gates[(i * 7 + 3) % gates.count] = special
            saved[(i * 5 + 1) % saved.count] = special
            dHidden[(i * 3 + 2) % dHidden.count] = special
        }
        gates.withUnsafeBufferPointer { gates in
            saved.withUnsafeBufferPointer { saved in
                previousCell.withUnsafeBufferPointer { previousCell in
                    dHidden.withUnsafeMutableBufferPointer { dHidden in
                        dCell.withUnsafeMutableBufferPointer { dCell in
                            dGates.withUnsafeMutableBufferPointer { dGates in
                                LSTMCellKernels.backwardStep(
                                    RecurrentBackwardStep(
                                        gates: gates.baseAddress!, saved: saved.baseAddress!,
                                        previousHidden: previousCell.baseAddress!, previousCell: previousCell.baseAddress!,
                                        dHidden: dHidden.baseAddress!, dCell: dCell.baseAddress!,
                                        dFromInput: dGates.baseAddress!, dFromHidden: dGates.baseAddress!, level: level),
                                    batch: batch, hiddenSize: h)
                            }
                        }
                    }
                }
            }
        }
        return [dGates, dCell, dHidden]
    }

    @Test("The LSTM backward step at each level gives the portable bits", arguments: runnableSIMDLevels)
    func sameBits(level: SIMDLevel) {
        for (batch, h) in Self.shapes {
            #expect(
                AdamSIMDTests.same(
                    Self.run(Float.self, batch: batch, h: h, level: .portable),
                    Self.run(Float.self, batch: batch, h: h, level: level)),
                "Float, batch \(batch), h \(h), \(level)")
            #expect(
                AdamSIMDTests.same(
                    Self.run(Double.self, batch: batch, h: h, level: .portable),
                    Self.run(Double.self, batch: batch, h: h, level: level)),
                "Double, batch \(batch), h \(h), \(level)")
        }
        let result = Self.run(Float.self, batch: 2, h: 17, level: level)
        #expect(result[0].contains { $0.isNaN }, "a NaN input gives a NaN gradient")
        #expect(result[2].allSatisfy { $0 == 0 }, "∂L/∂h' is consumed")
    }
}
