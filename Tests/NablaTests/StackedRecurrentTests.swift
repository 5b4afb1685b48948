import Testing

@testable import Nabla

/// Stacked and bidirectional LSTM and GRU against one-layer, one-direction layers composed by hand:
/// a stack is its layers in sequence, and the second direction is the first on the reversed sequence.
@Suite struct StackedRecurrentTests {
    private static func make(
        gru: Bool, inputSize: Int, numLayers: Int = 1, bidirectional: Bool = false, seed: UInt64 = 3
    ) -> RecurrentLayer<Double> {
        var generator = SeededGenerator(seed: seed)
        return gru
            ? GRU(inputSize: inputSize, hiddenSize: 3, numLayers: numLayers, bidirectional: bidirectional, using: &generator)
            : LSTM(inputSize: inputSize, hiddenSize: 3, numLayers: numLayers, bidirectional: bidirectional, using: &generator)
    }

    /// A one-layer, one-direction layer with the weights of `source`'s layer and direction `k`.
    private static func single(_ source: RecurrentLayer<Double>, _ k: Int, gru: Bool) -> RecurrentLayer<Double> {
        let w = source.weights[k]
        let layer = make(gru: gru, inputSize: w.weightIH.value.shape[1], seed: 99)
        for (target, parameter) in zip(layer.parameters, w.parameters) { target.value = parameter.value }
        return layer
    }

    private static func reversedInTime(_ x: Tensor<Double>) -> Tensor<Double> {
        Tensor(stacking: x.unstacked(alongAxis: 0).reversed(), alongAxis: 0)
    }

    @Test(arguments: [false, true], [false, true])
    func stackIsItsLayersInSequence(gru: Bool, autodiff: Bool) {
        let stack = Self.make(gru: gru, inputSize: 2, numLayers: 2)
        stack.useAutodiff = autodiff
        let (first, second) = (Self.single(stack, 0, gru: gru), Self.single(stack, 1, gru: gru))
        let x: Tensor<Double> = randomTensor([5, 2, 2], seed: 1)
        let y = stack.forward(x)
        expectClose(y, second.forward(first.forward(x)), rtol: 1e-13, atol: 1e-14)
        let g: Tensor<Double> = randomTensor(y.shape, seed: 2)
        let inputGradient = stack.backward(g)!
        expectClose(inputGradient, first.backward(second.backward(g)!)!, rtol: 1e-12, atol: 1e-14)
        for (parameter, reference) in zip(stack.parameters, first.parameters + second.parameters) {
            expectClose(parameter.gradient!, reference.gradient!, rtol: 1e-12, atol: 1e-14)
        }
    }

    @Test(arguments: [false, true], [false, true])
    func secondDirectionRunsOnTheReversedSequence(gru: Bool, autodiff: Bool) {
        let layer = Self.make(gru: gru, inputSize: 2, bidirectional: true)
        layer.useAutodiff = autodiff
        let (forward, backward) = (Self.single(layer, 0, gru: gru), Self.single(layer, 1, gru: gru))
        let x: Tensor<Double> = randomTensor([5, 2, 2], seed: 1)
        let y = layer.forward(x)
        #expect(y.shape == [5, 2, 6])
        let reversedOutput = Self.reversedInTime(backward.forward(Self.reversedInTime(x)))
        expectClose(y, Tensor(concatenating: [forward.forward(x), reversedOutput], alongAxis: 2), rtol: 1e-13, atol: 1e-14)
        let g: Tensor<Double> = randomTensor(y.shape, seed: 2)
        let inputGradient = layer.backward(g)!
        _ = forward.forward(x)
        let forwardGradient = forward.backward(g.slice(alongAxis: 2, 0..<3))!
        _ = backward.forward(Self.reversedInTime(x))
        let backwardGradient = Self.reversedInTime(backward.backward(Self.reversedInTime(g.slice(alongAxis: 2, 3..<6)))!)
        expectClose(inputGradient, forwardGradient + backwardGradient, rtol: 1e-12, atol: 1e-14)
        for (parameter, reference) in zip(layer.parameters, forward.parameters + backward.parameters) {
            expectClose(parameter.gradient!, reference.gradient!, rtol: 1e-12, atol: 1e-14)
        }
    }

    /// The final states are PyTorch's `h_n` (and `c_n`): `[numLayers·2, batch, hidden]`, the
    /// reverse direction's taken after it reaches the first step.
    @Test(arguments: [false, true])
    func finalStatesFollowPyTorchsLayout(autodiff: Bool) {
        var generator = SeededGenerator(seed: 4)
        let lstm = LSTM<Double>(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, using: &generator)
        lstm.useAutodiff = autodiff
        let x: Tensor<Double> = randomTensor([5, 2, 2], seed: 1)
        let (output, final) = lstm.forward(x, initialState: nil)
        #expect(final.hidden.shape == [4, 2, 3] && final.cell.shape == [4, 2, 3])
        // The top layer: forward at the last step, reverse at the first.
        expectClose(final.hidden.unstacked()[2], output.unstacked()[4].slice(alongAxis: 1, 0..<3), rtol: 0, atol: 0)
        expectClose(final.hidden.unstacked()[3], output.unstacked()[0].slice(alongAxis: 1, 3..<6), rtol: 0, atol: 0)
    }

    @Test func namesFollowPyTorchsStateDict() {
        var generator = SeededGenerator(seed: 0)
        let lstm = LSTM<Float>(inputSize: 5, hiddenSize: 4, numLayers: 2, bidirectional: true, using: &generator)
        let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        let expected = ["_l0", "_l0_reverse", "_l1", "_l1_reverse"].flatMap { suffix in names.map { $0 + suffix } }
        #expect(lstm.namedParameters.map(\.name) == expected)
        #expect(lstm.weights.map(\.weightIH.value.shape) == [[16, 5], [16, 5], [16, 8], [16, 8]])
        #expect(lstm.weights.map(\.weightHH.value.shape) == Array(repeating: [16, 4], count: 4))
        #expect(lstm.description == "LSTM(5 → 4, numLayers: 2, bidirectional, batchFirst: false, returnsSequence: true)")
    }

    /// Dropout acts between layers in training only: in inference the stack is its layers in
    /// sequence; in training the two paths draw the same masks from the same random states.
    @Test func dropoutActsBetweenLayersInTrainingOnly() {
        var generator = SeededGenerator(seed: 5)
        let layer = GRU<Double>(inputSize: 2, hiddenSize: 3, numLayers: 2, dropout: 0.5, using: &generator)
        let (first, second) = (Self.single(layer, 0, gru: true), Self.single(layer, 1, gru: true))
        let x: Tensor<Double> = randomTensor([4, 2, 2], seed: 1)
        LearningPhase.inference {
            expectClose(layer.forward(x), second.forward(first.forward(x)), rtol: 1e-13, atol: 1e-14)
        }
        let states = layer.randomStates
        let manual = layer.forward(x)
        #expect(!manual.isClose(to: second.forward(first.forward(x)), rtol: 1e-6, atol: 1e-6))
        layer.useAutodiff = true
        layer.randomStates = states
        expectClose(layer.forward(x), manual, rtol: 1e-13, atol: 1e-14)
    }

    @Test func stackedStateShapeIsChecked() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            let lstm = LSTM<Float>(inputSize: 3, hiddenSize: 4, numLayers: 2, using: &generator)
            _ = lstm.forward(
                .zeros(shape: [5, 2, 3]), initialState: LSTMState(hidden: .zeros(shape: [2, 4]), cell: .zeros(shape: [2, 2, 4])))
        }
        #expect(standardError(result).contains(
            "LSTM(3 → 4, numLayers: 2, batchFirst: false, returnsSequence: true): initial hidden state [2, 4] "
                + "for input [5, 2, 3]: expected [2, 2, 4]"))
    }

    @Test func zeroLayersIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = GRU<Float>(inputSize: 3, hiddenSize: 4, numLayers: 0, using: &generator)
        }
        #expect(standardError(result).contains("GRU: numLayers 0 must be positive"))
    }

    /// An empty batch runs through a bidirectional stack on both paths: empty outputs, states and
    /// input gradients, zero parameter gradients.
    @Test(arguments: [false, true], [false, true])
    func emptyBatch(gru: Bool, autodiff: Bool) {
        let layer = Self.make(gru: gru, inputSize: 2, numLayers: 2, bidirectional: true)
        layer.useAutodiff = autodiff
        let (output, final) = layer.forward(.zeros(shape: [4, 0, 2]), initialStates: nil)
        #expect(output.shape == [4, 0, 6] && final.allSatisfy { $0.shape == [4, 0, 3] })
        let gradients = layer.backward(.zeros(shape: [4, 0, 6]), finalStateGradients: nil)
        #expect(gradients.input?.shape == [4, 0, 2])
        #expect(layer.parameters.allSatisfy { $0.gradient!.scalars.allSatisfy { $0 == 0 } })
    }
}
