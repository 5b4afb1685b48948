import Testing

import Nabla

/// The Writing a custom layer article's code, as written (ArticleCodeBlockTests checks that
/// every Swift block of the article is here): the gate's accumulated gradient equals the tape's,
/// and the layer passes its gradient check.
@Test func customLayersArticleExample() {
    typealias Ops = TensorOperations<Double>
    var generator = SeededGenerator(seed: 0)

    // y = x ⊙ sigmoid(x ⊙ gate), a learned gate per feature.
    let gate = Parameter<Double>(name: "gate", value: .randomNormal(shape: [64], using: &generator))
    let swishGate = CustomLayer("SwishGate", parameters: [gate]) { x, p in
        x * Ops.sigmoid(x * p[0])
    }

    let network = Sequential<Double>(
        Dense(inputSize: 32, outputSize: 64, using: &generator), swishGate,
        Dense(inputSize: 64, outputSize: 10, using: &generator))

    let batch = Tensor<Double>.randomNormal(shape: [8, 32], using: &generator)
    let output = network.forward(batch)
    let upstream = Tensor<Double>.ones(shape: output.shape)
    network.backward(upstream)
    print(gate.gradient!)   // ∂⟨output, upstream⟩/∂gate, accumulated

    let tape = GradientTape<Double>()
    let y = tape.record { network(Ops.constant(batch)) }
    let expected = tape.gradient(of: y, withRespectTo: [gate.variable], seed: upstream)[0].value
    #expect(output.shape == [8, 10])
    #expect(gate.gradient!.isClose(to: expected, rtol: 1e-10, atol: 1e-12))

    let report = LayerGradientCheck.check(swishGate, input: .randomNormal(shape: [4, 64], using: &generator))
    print(report)

    #expect(!report.hasTwoPaths)
    #expect(report.autodiffVersusFiniteDifferences <= 1e-7, "\(report)")
    #expect((report.secondOrder ?? .infinity) <= 1e-7, "\(report)")
}
