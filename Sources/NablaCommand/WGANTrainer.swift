import Foundation
import Nabla

/// The recipe of a WGAN-GP run (Gulrajani et al. 2017), whatever the data.
struct WGANSettings {
    /// The latent code's length.
    var latentSize = 2
    /// The Gaussians' networks: units per hidden layer, and hidden layers.
    var hidden = 256
    var hiddenLayers = 3
    var batchSize = 256
    var criticSteps = 5
    var lambda = 10.0
    var learningRate = 1e-4
    var beta1 = 0.5
    var beta2 = 0.9
    var seed: UInt64 = 0
    /// Both networks' layers on the autodiff backward (the penalty is graph-mode either way).
    var criticUsesAutodiff = false
}

/// A generator and a critic trained as a WGAN-GP: `criticSteps` critic steps on
/// `D(fake) − D(real) + λ·GP`, then one generator step on `−D(G(z))`, both with Adam.
final class WGANTrainer<Scalar: TensorScalar> {
    /// What one critic step measured.
    struct CriticStep {
        /// `D(fake) − D(real) + λ·GP`.
        var criticLoss: Double
        /// GP.
        var penalty: Double
        /// The mean input-gradient norm on the interpolates.
        var gradientNorm: Double
        /// `D(real) − D(fake)`.
        var wasserstein: Double
        /// `−D(G(z))`, the generator step's loss after these critic steps (set by ``iterate()``).
        var generatorLoss = Double.nan
    }

    let settings: WGANSettings
    let generator: Sequential<Scalar>
    let critic: Sequential<Scalar>
    let generatorOptimizer: Adam<Scalar>
    let criticOptimizer: Adam<Scalar>
    /// A batch of `count` real samples, drawn with the generator given.
    let realBatch: (Int, inout SeededGenerator) -> Tensor<Scalar>
    /// Draws the real samples, the latent codes and the interpolation weights.
    var random: SeededGenerator

    /// A trainer of the given networks: the generator maps `[N, latentSize]` codes to samples of
    /// the real batches' shape, the critic maps those to `[N, 1]` scores.
    init(
        generator: Sequential<Scalar>, critic: Sequential<Scalar>, settings: WGANSettings,
        realBatch: @escaping (Int, inout SeededGenerator) -> Tensor<Scalar>
    ) {
        (self.generator, self.critic, self.settings, self.realBatch) = (generator, critic, settings, realBatch)
        critic.useAutodiff = settings.criticUsesAutodiff
        generator.useAutodiff = settings.criticUsesAutodiff
        generator.computesInputGradient = false
        let (lr, b1, b2) = (Scalar(settings.learningRate), Scalar(settings.beta1), Scalar(settings.beta2))
        generatorOptimizer = Adam(generator.parameters, learningRate: lr, beta1: b1, beta2: b2)
        criticOptimizer = Adam(critic.parameters, learningRate: lr, beta1: b1, beta2: b2)
        random = SeededGenerator(seed: settings.seed &+ 1)
    }

    /// The paper's toy: Dense + LeakyReLU(0.2) networks (no normalization in the critic) on
    /// ``EightGaussians``.
    convenience init(_ settings: WGANSettings) {
        var weights = SeededGenerator(seed: settings.seed)
        func network(_ input: Int, _ output: Int) -> Sequential<Scalar> {
            var layers: [Layer<Scalar>] = []
            var size = input
            for _ in 0..<settings.hiddenLayers {
                layers += [
                    Dense(inputSize: size, outputSize: settings.hidden, initialization: .pyTorchDefault, using: &weights),
                    LeakyReLU(slope: 0.2),
                ]
                size = settings.hidden
            }
            return Sequential(layers + [Dense(inputSize: size, outputSize: output, initialization: .pyTorchDefault, using: &weights)])
        }
        let generator = network(settings.latentSize, 2)
        let critic = network(2, 1)
        self.init(generator: generator, critic: critic, settings: settings) { EightGaussians.sample(count: $0, using: &$1) }
    }

    /// Both optimizers' learning rate.
    var learningRate: Scalar {
        get { criticOptimizer.learningRate }
        set {
            criticOptimizer.learningRate = newValue
            generatorOptimizer.learningRate = newValue
        }
    }

    /// Latent codes `[count, latentSize]`, standard normal.
    func latentCodes(count: Int, using generator: inout SeededGenerator) -> Tensor<Scalar> {
        Tensor<Scalar>.randomNormal(shape: [count, settings.latentSize], using: &generator)
    }

    /// The generator's samples for the codes `z`, without recording anything, in the current
    /// ``LearningPhase`` (training: BatchNorm normalizes by the batch, as PyTorch's `netG(z)` in
    /// `train()` mode).
    func generate(from z: Tensor<Scalar>) -> Tensor<Scalar> {
        withoutRecording { self.generator(TensorOperations.constant(z)).value }
    }

    /// `count` generated samples from fresh codes.
    func generate(count: Int, using generator: inout SeededGenerator) -> Tensor<Scalar> {
        generate(from: latentCodes(count: count, using: &generator))
    }

    /// Sets the critic's parameter gradients to those of `D(fake) − D(real) + λ·GP` at the
    /// given samples and interpolates: the Wasserstein terms through the layers' backward
    /// (manual or autodiff), the penalty through nested tapes.
    func criticGradients(real: Tensor<Scalar>, fake: Tensor<Scalar>, interpolates: Tensor<Scalar>) -> CriticStep {
        critic.zeroGradients()
        critic.computesInputGradient = false
        let count = real.shape[0]
        let realScores = critic.forward(real)
        critic.backward(Tensor(repeating: -1 / Scalar(count), shape: realScores.shape))
        let fakeScores = critic.forward(fake)
        critic.backward(Tensor(repeating: 1 / Scalar(fake.shape[0]), shape: fakeScores.shape))
        let penalty = GradientPenalty.accumulateGradients(
            of: critic, at: interpolates, weight: Scalar(settings.lambda)).penalty
        let wasserstein = Double(realScores.mean().scalar) - Double(fakeScores.mean().scalar)
        return CriticStep(
            criticLoss: -wasserstein + settings.lambda * Double(penalty.value), penalty: Double(penalty.value),
            gradientNorm: Double(penalty.meanGradientNorm), wasserstein: wasserstein)
    }

    /// One critic update on a fresh batch.
    func criticStep() -> CriticStep {
        let real = realBatch(settings.batchSize, &random)
        let fake = generate(count: settings.batchSize, using: &random)
        let interpolates = GradientPenalty.interpolates(real: real, fake: fake, using: &random).interpolates
        let step = criticGradients(real: real, fake: fake, interpolates: interpolates)
        criticOptimizer.step()
        return step
    }

    /// One generator update: descends `−D(G(z))`; returns that loss before the step.
    @discardableResult
    func generatorStep() -> Double {
        let z = latentCodes(count: settings.batchSize, using: &random)
        generator.zeroGradients()
        critic.computesInputGradient = true
        let fake = generator.forward(z)
        let scores = critic.forward(fake)
        let fakeGradient = critic.backward(Tensor(repeating: -1 / Scalar(settings.batchSize), shape: scores.shape))!
        generator.backward(fakeGradient)
        generatorOptimizer.step()
        critic.zeroGradients()  // the critic's gradients of this step are not used
        return -Double(scores.mean().scalar)
    }

    /// `criticSteps` critic steps, then one generator step; returns the last critic step.
    @discardableResult
    func iterate() -> CriticStep {
        var last: CriticStep?
        for _ in 0..<settings.criticSteps { last = criticStep() }
        last!.generatorLoss = generatorStep()
        return last!
    }
}
