import Testing

@testable import Nabla

typealias Ops = TensorOperations<Double>

@Suite struct GradientTapeTests {
    @Test func expGradientMatchesClosedForm() {
        let x = Ops.variable(Tensor([0.5, -1, 2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { Ops.sum(Ops.exp(x)) }
        let g = tape.gradient(of: y, withRespectTo: [x])[0]
        expectClose(g.value, exp(x.value), rtol: 1e-15)
    }

    @Test func smokeGradientCheck() {
        let report = GradientCheck.check({ v in
            Ops.tanh(Ops.matrixMultiply(v[0], v[1])) * Ops.sigmoid(v[2])
        }, at: [randomTensor([3, 4], seed: 1), randomTensor([4, 2], seed: 2), randomTensor([2], seed: 3)])
        #expect(report.passed, "\(report)")
        let second = GradientCheck.checkSecondOrder({ v in
            Ops.tanh(Ops.matrixMultiply(v[0], v[1])) * Ops.sigmoid(v[2])
        }, at: [randomTensor([3, 4], seed: 1), randomTensor([4, 2], seed: 2), randomTensor([2], seed: 3)])
        #expect(second.passed, "\(second)")
    }
}
