import Testing

@testable import Nabla

/// The backward walk gathers the gradients of a variable's slices and pads them once. Checked
/// against central differences in `Double` (first and second order) for every way slices can
/// sit, and for its cost: T slices of a sequence must not pad T gradients to the whole sequence.
struct SliceGradientTests {
    typealias Ops = TensorOperations<Double>

    /// Functions of one `[4, 3, 5]` input that use slices of it in different arrangements; each
    /// slice goes through a nonlinearity so that second derivatives are not zero.
    static var arrangements: [(String, GradientCheck.Function<Double>)] { [
        ("every step, unstacked", { x in
            Ops.stack(Ops.unstack(x[0], alongAxis: 0).enumerated().map { t, s in Ops.tanh(s) * Double(t + 1) }, alongAxis: 0)
        }),
        ("a split along the last axis, pieces used unevenly", { x in
            let parts = Ops.split(x[0], sizes: [2, 1, 2], alongAxis: 2)
            return Ops.concatenate([Ops.sin(parts[2]), parts[0] * parts[0]], alongAxis: 2)
        }),
        ("gaps: only some slices used", { x in
            Ops.tanh(Ops.slice(x[0], alongAxis: 1, 1..<2)) + Ops.tanh(Ops.slice(x[0], alongAxis: 0, 3..<4))
        }),
        ("the same slice twice", { x in
            let a = Ops.slice(x[0], alongAxis: 0, 1..<3), b = Ops.slice(x[0], alongAxis: 0, 1..<3)
            return Ops.exp(a) * b
        }),
        ("overlapping slices", { x in
            Ops.tanh(Ops.slice(x[0], alongAxis: 0, 0..<3)) * Ops.slice(x[0], alongAxis: 0, 1..<4)
        }),
        ("slices along two axes, and a dense use", { x in
            Ops.slice(x[0], alongAxis: 2, 0..<1) * Ops.tanh(Ops.slice(x[0], alongAxis: 1, 2..<3)) + Ops.sin(x[0])
        }),
        ("an empty slice beside a whole one", { x in
            Ops.concatenate([Ops.slice(x[0], alongAxis: 0, 2..<2), Ops.tanh(Ops.slice(x[0], alongAxis: 0, 0..<4))], alongAxis: 0)
        }),
    ] }

    @Test(arguments: 0..<7)
    func firstOrderMatchesCentralDifferences(_ index: Int) {
        let (name, f) = Self.arrangements[index]
        var g = SeededGenerator(seed: UInt64(index))
        let report = GradientCheck.check(f, at: [.randomNormal(shape: [4, 3, 5], using: &g)])
        #expect(report.passed, "\(name): \(report)")
    }

    @Test(arguments: 0..<7)
    func secondOrderMatchesCentralDifferences(_ index: Int) {
        let (name, f) = Self.arrangements[index]
        var g = SeededGenerator(seed: UInt64(index) + 100)
        let report = GradientCheck.checkSecondOrder(f, at: [.randomNormal(shape: [4, 3, 5], using: &g)])
        #expect(report.passed, "\(name): \(report)")
    }

    /// The gradient of T unstacked steps, recorded with `createGraph`, is one concatenation,
    /// not T pads and T − 1 whole-size sums (which made an LSTM's autodiff step 3× its manual one).
    @Test func unstackedStepsAreGatheredByOneConcatenation() {
        let steps = 50
        let x = Ops.variable(.ones(shape: [steps, 2, 3]), requiresGradient: true)
        let tape = GradientTape<Double>(persistent: true)
        let y = tape.record { Ops.sum(Ops.stack(Ops.unstack(x, alongAxis: 0).map { $0 * $0 }, alongAxis: 0)) }
        let before = tape.recordedNodes.count
        let dx = tape.gradient(of: y, withRespectTo: [x], createGraph: true)[0]
        let backward = tape.recordedNodes.dropFirst(before)
        #expect(dx.value.isClose(to: .init(repeating: 2, shape: [steps, 2, 3])))
        #expect(backward.filter { $0.name == "concatenate" }.count == 1)
        #expect(!backward.contains { $0.name == "add" && $0.outputShape == [steps, 2, 3] })
    }
}
