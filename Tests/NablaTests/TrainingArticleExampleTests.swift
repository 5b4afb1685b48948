import Testing

import Nabla

/// The Training article's loop, compiled and run on a small classification problem: the loss
/// falls and the state round-trips by name.
@Test func trainingArticleExample() throws {
    var generator = SeededGenerator(seed: 5)
    let network = Sequential<Float>(
        Dense(inputSize: 4, outputSize: 16, initialization: .he, using: &generator), ReLU(),
        Dense(inputSize: 16, outputSize: 3, using: &generator))
    let teacher = Tensor<Float>.randomNormal(shape: [4, 3], using: &generator)
    let batches = (0..<60).map { _ in
        let x = Tensor<Float>.randomNormal(shape: [32, 4], using: &generator)
        return (x, matmul(x, teacher).argmax(alongAxis: 1))
    }

    let loss = CrossEntropyLoss<Float>(labelSmoothing: 0.1)
    let optimizer = AdamW(network.parameters, names: network.namedParameters.map(\.name), learningRate: 3e-2)
    let schedule = LinearWarmup(steps: 10, then: CosineAnnealing<Float>(initial: 3e-2, period: 50))
    var losses: [Float] = []
    for (x, y) in batches {
        optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
        let (value, gradient) = loss.valueAndGradient(network.forward(x), target: y)
        network.backward(gradient)
        let norm = optimizer.clipGradients(maxNorm: 1)
        if norm.isFinite { optimizer.step() }
        optimizer.zeroGradients()
        losses.append(value)
    }
    let (early, late) = (losses.prefix(5).reduce(0, +) / 5, losses.suffix(5).reduce(0, +) / 5)
    #expect(late < early / 2, "loss \(early) → \(late)")

    let state = optimizer.saveState()
    #expect(state.stepCount == 60)
    #expect(state.tensors["0.weight.exp_avg"]?.shape == [16, 4] && state.tensors["2.bias.step"]?.scalar == 60)
    try optimizer.loadState(state)
}
