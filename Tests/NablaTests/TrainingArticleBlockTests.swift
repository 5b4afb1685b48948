import Testing

import Nabla

/// The Training article's blocks, as written (ArticleCodeBlockTests checks that every Swift
/// block of the article is here), on a small classifier: the loss and its gradient, then the
/// loop with AdamW, warm-up and cosine schedule, and clipping. TrainingArticleExampleTests
/// trains the same loop to a falling loss.
@Test func trainingArticleBlocks() {
    var generator = SeededGenerator(seed: 7)
    let network = Sequential<Float>(
        Dense(inputSize: 4, outputSize: 8, using: &generator), ReLU(),
        Dense(inputSize: 8, outputSize: 3, using: &generator))
    let images = Tensor<Float>.randomNormal(shape: [16, 4], using: &generator)
    let labels = (0..<16).map { $0 % 3 }

    let loss = CrossEntropyLoss<Float>(labelSmoothing: 0.1)
    let (value, gradient) = loss.valueAndGradient(network.forward(images), target: labels)
    network.backward(gradient)

    #expect(value.isFinite && value > 0 && gradient.shape == [16, 3])
    #expect(network.parameters.allSatisfy { $0.gradient != nil })
    network.zeroGradients()
    let batches = (0..<20).map { _ in (images, labels) }
    let before = network.parameters.map(\.value)

    let optimizer = AdamW(
        network.parameters, names: network.namedParameters.map(\.name), learningRate: 3e-4)
    let schedule = LinearWarmup(steps: 500, then: CosineAnnealing<Float>(initial: 3e-4, period: 9_500))
    for (x, y) in batches {
        optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount)
        let (_, gradient) = loss.valueAndGradient(network.forward(x), target: y)
        network.backward(gradient)
        let norm = optimizer.clipGradients(maxNorm: 1)
        if norm.isFinite { optimizer.step() }
        optimizer.zeroGradients()
    }

    #expect(optimizer.stepCount == 20)
    #expect(optimizer.learningRate == schedule.learningRate(atStep: 19))
    #expect(optimizer.learningRate < 3e-4 / 2)  // still warming up
    #expect(zip(before, network.parameters).allSatisfy { $0 != $1.value })
    #expect(network.parameters.allSatisfy { $0.gradient == nil })
}
