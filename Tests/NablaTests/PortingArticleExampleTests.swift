import Foundation
import Testing

import Nabla

/// The Porting a PyTorch model article's code, as written (ArticleCodeBlockTests checks that
/// every Swift block of the article is here): PyTorch's own CNN, its state dict written by
/// `safetensors.torch.save_file` (Tests/NablaTests/Fixtures/pytorch-layers.safetensors, by
/// Tests/Fixtures/make_pytorch_fixture.py), loaded and run to PyTorch's outputs, then trained.
@Suite struct PortingArticleExampleTests {
    let path = Bundle.module.url(
        forResource: "pytorch-layers", withExtension: "safetensors", subdirectory: "Fixtures")!.path

    @Test func portedModelMatchesPyTorch() throws {
        func layers(using generator: inout SeededGenerator) -> [Layer<Float>] {
            [
                Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, padding: 1, using: &generator),
                BatchNorm(featureCount: 4), ReLU(), MaxPool2D(kernelSize: 2),
                Conv2D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, using: &generator),
                ReLU(), MaxPool2D(kernelSize: 2), Flatten(),
                Dense(inputSize: 6 * 2 * 2, outputSize: 5, using: &generator), GELU(),
                Dense(inputSize: 5, outputSize: 3, using: &generator),
            ]
        }
        var generator = SeededGenerator(seed: 0)
        let cnn = Sequential(layers(using: &generator))
        let network = try NeuralNetwork(NeuralNetworkArchitecture(
            inputShape: [1, 8, 8], layers: layers(using: &generator)))
        #expect(network.outputShapes.last == [1, 3])

        let names = cnn.state.map(\.name)
        // 0.weight, 0.bias, 1.weight, 1.bias, 4.weight, 4.bias, 8.weight, 8.bias, 10.weight,
        // 10.bias, then the buffers 1.running_mean, 1.running_var, 1.num_batches_tracked
        #expect(names == [
            "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "8.weight", "8.bias",
            "10.weight", "10.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
        ])
        #expect(network.body.state.map(\.name) == names)

        let file = try SafeTensors(contentsOf: path)
        try cnn.loadState(from: file, prefix: "cnn.")
        try network.body.loadState(from: file, prefix: "cnn.")
        // The state dict's keys are the layers' names, no more and no fewer.
        #expect(Set(file.entries.keys.filter { $0.hasPrefix("cnn.") }.map { String($0.dropFirst(4)) }) == Set(names))
        #expect(cnn.layers[0].state[0].value.shape == [4, 1, 3, 3] && cnn.layers[8].state[0].value.shape == [5, 24])

        let x = file.tensor("input.cnn", as: Float.self)!        // [2, 1, 8, 8]
        let y = LearningPhase.inference { cnn.forward(x) }       // model.eval(); model(x)
        let same = network.predict(x)                            // inference, no tape
        let expected = file.tensor("output.cnn", as: Float.self)!
        #expect(y.isClose(to: expected, rtol: 1e-4, atol: 1e-5), "\(y) vs PyTorch's \(expected)")
        #expect(same.isClose(to: expected, rtol: 1e-4, atol: 1e-5))
        // In training the batch's statistics normalize: a different output.
        #expect(!LearningPhase.training { cnn.forward(x) }.isClose(to: expected, rtol: 1e-3, atol: 1e-3))

        let labels = [0, 2]
        let loss = CrossEntropyLoss<Float>()
        let optimizer = SGD(cnn.parameters, learningRate: 0.05, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<10 {
            optimizer.zeroGradients()                                   // optimizer.zero_grad()
            let (value, gradient) = loss.valueAndGradient(cnn.forward(x), target: labels)
            cnn.backward(gradient)                                      // loss.backward()
            optimizer.step()                                            // optimizer.step()
            losses.append(value)
        }
        #expect(losses.last! < losses.first! / 2, "\(losses)")

        // The same loss on a tape, as autograd records it: the same gradients as the layers'.
        let tape = GradientTape<Float>()
        let value = tape.record { loss(cnn(TensorOperations.constant(x)), target: labels) }
        let gradients = tape.gradient(of: value, withRespectTo: cnn.parameters.map(\.variable))

        cnn.zeroGradients()
        cnn.backward(loss.valueAndGradient(cnn.forward(x), target: labels).gradient)
        #expect(value.value.scalar.isFinite)
        for (fromTape, parameter) in zip(gradients, cnn.parameters) {
            #expect(fromTape.value.isClose(to: parameter.gradient!, rtol: 1e-3, atol: 1e-5))
        }

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-cnn-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var state = SafeTensors()
        cnn.saveState(into: &state)
        try state.write(to: output)
        let reloaded = try SafeTensors(contentsOf: output)
        #expect(Set(reloaded.entries.keys) == Set(names))
        #expect(reloaded.tensor("8.weight", as: Float.self) == cnn.layers[8].state[0].value)
    }
}
