import Foundation
import Testing

@testable import Nabla
@testable import NablaCommand

/// The image WGAN-GP's networks: the penalty's gradient through convolutions and a transposed
/// convolution, and the generator's gradient through ConvTranspose2D and BatchNorm, against
/// central differences in Double.
@Suite struct ImageWGANTests {
    /// The command's critic at width 1 (150 weights; 346 with LayerNorm), on two 28 × 28 images.
    @Test(arguments: [false, true])
    func imageCriticPenaltyGradientMatchesCentralDifferences(layerNorm: Bool) {
        var g = SeededGenerator(seed: 21)
        let critic: Sequential<Double> = ImageWGAN.critic(width: 1, layerNorm: layerNorm, using: &g)
        GradientPenaltyTests.randomizeBiases(critic, &g)
        GradientPenaltyTests().checkAgainstFiniteDifferences(critic, sampleShape: [2, 1, 28, 28], seed: 22)
    }

    /// A critic that upsamples again: the penalty's second derivative runs through the backward
    /// of ConvTranspose2D's backward.
    @Test func penaltyGradientThroughATransposedConvolutionMatchesCentralDifferences() {
        var g = SeededGenerator(seed: 23)
        let critic = Sequential<Double>(
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1, using: &g), LeakyReLU(slope: 0.2),
            ConvTranspose2D(inputChannels: 2, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1, using: &g), LeakyReLU(slope: 0.2),
            Flatten(), Dense(inputSize: 128, outputSize: 1, using: &g))
        GradientPenaltyTests.randomizeBiases(critic, &g)
        GradientPenaltyTests().checkAgainstFiniteDifferences(critic, sampleShape: [3, 1, 8, 8], seed: 24)
    }

    /// `Σᵢ wᵢ·D(G(zᵢ))` with random `w`, differentiated with respect to the generator's weights
    /// by the layers' backward (the critic passing its input gradient to the generator), against
    /// central differences of the graph-mode forward. BatchNorm normalizes by the batch.
    @Test(arguments: [false, true])
    func generatorGradientMatchesCentralDifferences(autodiff: Bool) {
        var g = SeededGenerator(seed: 25)
        let generator: Sequential<Double> = ImageWGAN.generator(latentSize: 3, width: 1, using: &g)
        let critic: Sequential<Double> = ImageWGAN.critic(width: 1, layerNorm: false, using: &g)
        ImageWGAN.initializeAsDCGAN(generator, using: &g)
        for parameter in generator.parameters { parameter.value = parameter.value * 20 }  // away from the flat start
        // Nonzero biases: with zero ones, dead ReLUs give exact zeros that meet LeakyReLU's kink
        // in the critic, where central differences average the two slopes.
        GradientPenaltyTests.randomizeBiases(generator, &g)
        GradientPenaltyTests.randomizeBiases(critic, &g)
        generator.useAutodiff = autodiff
        critic.useAutodiff = autodiff
        let z = Tensor<Double>.randomNormal(shape: [3, 3], using: &g)
        let weights = Tensor<Double>.randomNormal(shape: [3, 1], using: &g)

        generator.zeroGradients()
        critic.computesInputGradient = true
        let scores = critic.forward(generator.forward(z))
        generator.backward(critic.backward(weights)!)
        critic.zeroGradients()

        func loss() -> Double {
            withoutRecording { (critic(generator(TensorOperations.constant(z))).value * weights).sum().scalar }
        }
        #expect(Swift.abs((scores * weights).sum().scalar - loss()) < 1e-12)
        let h = 1e-6
        for (named, parameter) in zip(generator.namedParameters, generator.parameters) {
            let original = parameter.value
            var scalars = original.scalars
            var expected = [Double](repeating: 0, count: scalars.count)
            for index in scalars.indices {
                let value = scalars[index]
                scalars[index] = value + h
                parameter.value = Tensor(shape: original.shape, scalars: scalars)
                let plus = loss()
                scalars[index] = value - h
                parameter.value = Tensor(shape: original.shape, scalars: scalars)
                let minus = loss()
                scalars[index] = value
                expected[index] = (plus - minus) / (2 * h)
            }
            parameter.value = original
            #expect(expected.map(Swift.abs).max()! > 1e-6, "\(named.name): a zero gradient proves nothing")
            let closeness = parameter.gradient!.closeness(to: Tensor(shape: original.shape, scalars: expected), rtol: 1e-5, atol: 1e-8)
            #expect(closeness.isClose, "\(named.name): \(closeness)")
        }
    }

    /// Shapes, PyTorch's parameter names, and DCGAN's N(0, 0.02²) weights and N(1, 0.02²) scales.
    @Test func networksHaveTheirShapesNamesAndInitialization() {
        var g = SeededGenerator(seed: 26)
        let generator: Sequential<Float> = ImageWGAN.generator(latentSize: 128, width: 64, using: &g)
        let critic: Sequential<Float> = ImageWGAN.critic(width: 64, layerNorm: true, using: &g)
        ImageWGAN.initializeAsDCGAN(generator, using: &g)
        ImageWGAN.initializeAsDCGAN(critic, using: &g)
        let images = withoutRecording { generator(TensorOperations.constant(Tensor<Float>.randomNormal(shape: [5, 128], using: &g))).value }
        #expect(images.shape == [5, 1, 28, 28] && images.scalars.allSatisfy { Swift.abs($0) <= 1 })
        #expect(critic.forward(images).shape == [5, 1])
        #expect(generator.namedParameters.map(\.name) == [
            "0.weight", "2.weight", "2.bias", "4.weight", "5.weight", "5.bias", "7.weight", "7.bias",
        ])
        #expect(critic.namedParameters.map(\.name) == [
            "0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias", "6.weight", "6.bias",
        ])
        func deviation(_ t: Tensor<Float>, around mean: Float) -> Float {
            (t.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(t.scalarCount)).squareRoot()
        }
        let weights = generator.namedParameters.filter { $0.name.hasSuffix("weight") }.map(\.parameter.value)
        #expect(Swift.abs(deviation(weights[0], around: 0) - 0.02) < 0.001)  // Dense
        #expect(Swift.abs(deviation(weights[1], around: 1) - 0.02) < 0.005)  // BatchNorm scale, 128 values
        #expect(Swift.abs(deviation(weights[2], around: 0) - 0.02) < 0.001)  // ConvTranspose2D
        #expect(critic.namedParameters.filter { $0.name.hasSuffix("bias") && $0.name != "3.bias" }.allSatisfy {
            $0.parameter.value.scalars.allSatisfy { $0 == 0 }
        })
        // LayerNorm keeps its ones.
        #expect(critic.namedParameters.first { $0.name == "3.weight" }!.parameter.value.scalars.allSatisfy { $0 == 1 })
    }

    /// The critic's gradients of a whole critic step agree on the two backward paths.
    @Test func manualAndAutodiffImageCriticStepsAgree() {
        func trainer(autodiff: Bool) -> WGANTrainer<Double> {
            var g = SeededGenerator(seed: 27)
            let generator: Sequential<Double> = ImageWGAN.generator(latentSize: 4, width: 2, using: &g)
            let critic: Sequential<Double> = ImageWGAN.critic(width: 2, layerNorm: true, using: &g)
            ImageWGAN.initializeAsDCGAN(generator, using: &g)
            ImageWGAN.initializeAsDCGAN(critic, using: &g)
            let real = Tensor<Double>.randomUniform(shape: [16, 1, 28, 28], in: -1..<1, using: &g)
            let stream = ShuffledImages(real)
            let settings = WGANSettings(latentSize: 4, batchSize: 4, criticSteps: 2, learningRate: 1e-3, beta1: 0, seed: 5, criticUsesAutodiff: autodiff)
            return WGANTrainer(generator: generator, critic: critic, settings: settings) { stream.next($0, using: &$1) }
        }
        let (manual, autodiff) = (trainer(autodiff: false), trainer(autodiff: true))
        for _ in 0..<2 {
            let (a, b) = (manual.iterate(), autodiff.iterate())
            #expect(Swift.abs(a.criticLoss - b.criticLoss) <= 1e-10 * Swift.max(1, Swift.abs(a.criticLoss)))
        }
        for (p, q) in zip(manual.critic.parameters + manual.generator.parameters, autodiff.critic.parameters + autodiff.generator.parameters) {
            expectClose(p.value, q.value, rtol: 1e-9, atol: 1e-11)
        }
    }

    /// Image options on the toy data are refused before any work, with one line.
    @Test func imageOptionsAreRefusedOnGaussians() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["wgan-gp", "--grids", "/tmp"])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.split(separator: "\n").first == "Error: --save, --grids, --score and --layer-norm are for --data fashion-mnist", "\(message)")
    }
}
