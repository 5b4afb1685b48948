import Foundation
import Testing

import Nabla

/// The README's example, compiled and checked, so the README cannot go stale.
@Test func readmeExample() throws {
    var generator = SeededGenerator(seed: 42)
    let a = Tensor<Double>.randomNormal(shape: [3, 3], using: &generator) + .identity(3) * 3
    let b = Tensor<Double>(shape: [3, 1], scalars: [1, 2, 3])

    let product = matmul(a, b, transposeLHS: true)
    let x = try LinearAlgebra.solve(a, b)
    #expect(matmul(a, x).isClose(to: b))
    #expect(product.isClose(to: matmul(a.transposed(), b)))

    let rowMeans = a.mean(alongAxes: [1], keepingDimensions: true)
    let centered = a - rowMeans
    #expect(rowMeans.shape == [3, 1])
    #expect(centered.sum(alongAxes: [1]).isClose(to: .zeros(shape: [3]), atol: 1e-12))

    typealias Ops = TensorOperations<Double>
    let w = Ops.variable(b, requiresGradient: true)
    let tape = GradientTape<Double>()
    let loss = tape.record { Ops.sum(Ops.tanh(Ops.matmul(Ops.constant(a), w))) }
    let dw = tape.gradient(of: loss, withRespectTo: [w])[0].value
    // d/dw sum(tanh(a·w)) = aᵀ·(1 − tanh²(a·w))
    let h = tanh(matmul(a, b))
    #expect(dw.isClose(to: matmul(a, 1 - h * h, transposeLHS: true), rtol: 1e-12))
}

/// The README's training example, as written (the file goes to a temporary folder).
@Test func readmeTrainingExample() throws {
    var g = SeededGenerator(seed: 0)
    let network = try NeuralNetwork<Float>(NeuralNetworkArchitecture(
        inputShape: [1, 28, 28],
        layers: [
            Flatten(), Dense(inputSize: 784, outputSize: 128, initialization: .he, using: &g), ReLU(),
            Dense(inputSize: 128, outputSize: 10, using: &g),
        ]))
    #expect(network.summary.contains("[N, 128]"))
    let train = try FashionMNIST.load(.train, limit: 2000)
    let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters))
    var shuffle: SeededGenerator? = SeededGenerator(seed: 1)
    for _ in 0..<3 { _ = trainer.trainEpoch(on: train, batchSize: 64, shuffling: &shuffle) }
    #expect(trainer.evaluate(on: try FashionMNIST.load(.test)).accuracy > 0.7)
    network.useAutodiff = true
    var weights = SafeTensors()
    network.body.saveState(into: &weights)
    #expect(weights.entries.keys.sorted() == ["1.bias", "1.weight", "3.bias", "3.weight"])
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("readme-mlp.safetensors").path
    try weights.write(to: path)
    try FileManager.default.removeItem(atPath: path)
}
