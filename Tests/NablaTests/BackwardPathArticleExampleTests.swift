import Testing

import Nabla

/// The Choosing the backward path article's code, as written (ArticleCodeBlockTests checks that
/// every Swift block of the article is here).
@Suite struct BackwardPathArticleExampleTests {
    /// Both paths, picked for a whole network and for one layer, give the same gradients.
    @Test func bothPathsGiveTheSameGradients() throws {
        var generator = SeededGenerator(seed: 0)
        let network = try NeuralNetwork<Double>(NeuralNetworkArchitecture(
            inputShape: [1, 6, 6],
            layers: [
                Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, padding: 1, using: &generator),
                ReLU(), Flatten(), Dense(inputSize: 4 * 6 * 6, outputSize: 3, using: &generator),
            ],
            useAutodiff: true))
        network.layers[3].useAutodiff = false   // this Dense runs its hand-written backward
        #expect(network.layers.map(\.useAutodiff) == [true, true, true, false])

        let batch = Tensor<Double>.randomNormal(shape: [2, 1, 6, 6], using: &generator)
        let upstream = Tensor<Double>.randomNormal(shape: [2, 3], using: &generator)
        func gradients() -> [Tensor<Double>] {
            network.zeroGradients()
            _ = network.forward(batch)
            network.backward(upstream)
            return network.parameters.map { $0.gradient! }
        }
        network.useAutodiff = true
        let autodiff = gradients()
        network.useAutodiff = false
        let manual = gradients()

        #expect(autodiff.count == 4)
        for (a, m) in zip(autodiff, manual) {
            #expect(a.isClose(to: m, rtol: 1e-10, atol: 1e-12))
        }
    }

    /// The gradient penalty's weight gradients are second derivatives, taken through the
    /// graph-mode forward whatever `useAutodiff` says; central differences agree.
    @Test func gradientPenaltyNeedsTheGraphModeForward() {
        var generator = SeededGenerator(seed: 1)
        let critic = Sequential<Double>(
            Dense(inputSize: 2, outputSize: 8, using: &generator), Tanh(),
            Dense(inputSize: 8, outputSize: 1, using: &generator))
        let points = Tensor<Double>.randomNormal(shape: [4, 2], using: &generator)
        let (penalty, gradients) = GradientPenalty.accumulateGradients(of: critic, at: points, weight: 10)
        let firstWeight = critic.parameters[0]
        // ∂(10·GP)/∂θ, what the penalty adds to the first weight's gradient: ∂GP/∂θ is
        // a second derivative of the critic.

        #expect(penalty.value > 0 && !critic.useAutodiff)
        #expect(firstWeight.gradient == gradients[0])
        let original = firstWeight.value
        let epsilon = 1e-6
        var scalars = original.scalars
        scalars[0] += epsilon
        firstWeight.value = Tensor(shape: original.shape, scalars: scalars)
        let plus = GradientPenalty.evaluate(critic, at: points).value
        scalars[0] -= 2 * epsilon
        firstWeight.value = Tensor(shape: original.shape, scalars: scalars)
        let minus = GradientPenalty.evaluate(critic, at: points).value
        firstWeight.value = original
        let numeric = 10 * (plus - minus) / (2 * epsilon)
        #expect(abs(gradients[0].scalars[0] - numeric) <= 1e-6 * max(1, abs(numeric)), "\(gradients[0].scalars[0]) vs \(numeric)")
    }

    /// The check of a layer, as the article shows it.
    @Test func layerGradientCheck() {
        var generator = SeededGenerator(seed: 2)
        let layer = Conv2D<Double>(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &generator)
        let report = LayerGradientCheck.check(layer, input: .randomNormal(shape: [2, 2, 5, 5], using: &generator))
        print(report)
        // manual vs autodiff 0.0 (the same kernels), manual vs finite differences ~1e-9,
        // autodiff vs finite differences ~1e-9, second order ~1e-10

        #expect(report.hasTwoPaths)
        #expect(report.manualVersusAutodiff <= 1e-10, "\(report)")
        #expect(report.manualVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect(report.autodiffVersusFiniteDifferences <= 1e-7, "\(report)")
        #expect((report.secondOrder ?? .infinity) <= 1e-7, "\(report)")
    }
}
