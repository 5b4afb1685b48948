import Foundation
import Testing

@testable import Nabla
@testable import NablaCommand

/// The WGAN-GP penalty reaches the critic's weights: its gradient matches finite differences,
/// training on it moves the weights and drives the input-gradient norm to 1, and a detached or
/// constant penalty is caught.
@Suite struct GradientPenaltyTests {
    typealias GP = GradientPenalty

    /// Gives every bias random values, so that no gradient is zero by accident of the
    /// initialization.
    static func randomizeBiases(_ critic: Layer<Double>, _ generator: inout SeededGenerator) {
        for parameter in critic.parameters where parameter.name == "bias" {
            parameter.value = .randomUniform(shape: parameter.value.shape, in: -0.5..<0.5, using: &generator)
        }
    }

    /// Dense(3 → 6), LeakyReLU(0.2), Dense(6 → 1).
    static func denseCritic(seed: UInt64) -> Sequential<Double> {
        var g = SeededGenerator(seed: seed)
        let critic = Sequential<Double>(
            Dense(inputSize: 3, outputSize: 6, using: &g), LeakyReLU(slope: 0.2),
            Dense(inputSize: 6, outputSize: 1, using: &g))
        randomizeBiases(critic, &g)
        return critic
    }

    /// Conv2D(1 → 2, 3×3, padding 1) on 4×4 images, LeakyReLU(0.2), Flatten, Dense(32 → 1).
    static func convolutionalCritic(seed: UInt64) -> Sequential<Double> {
        var g = SeededGenerator(seed: seed)
        let critic = Sequential<Double>(
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &g),
            LeakyReLU(slope: 0.2), Flatten(), Dense(inputSize: 32, outputSize: 1, using: &g))
        randomizeBiases(critic, &g)
        return critic
    }

    /// ∂GP/∂θ by central differences: each scalar of each parameter perturbed by ±h, the
    /// penalty recomputed at the same interpolates (the same ε).
    static func finiteDifferences(_ critic: Layer<Double>, at interpolates: Tensor<Double>, h: Double = 1e-6) -> [Tensor<Double>] {
        critic.parameters.map { parameter in
            let original = parameter.value
            var scalars = original.scalars
            var gradient = [Double](repeating: 0, count: scalars.count)
            for index in scalars.indices {
                let value = scalars[index]
                scalars[index] = value + h
                parameter.value = Tensor(shape: original.shape, scalars: scalars)
                let plus = GP.evaluate(critic, at: interpolates).value
                scalars[index] = value - h
                parameter.value = Tensor(shape: original.shape, scalars: scalars)
                let minus = GP.evaluate(critic, at: interpolates).value
                scalars[index] = value
                gradient[index] = (plus - minus) / (2 * h)
            }
            parameter.value = original
            return Tensor(shape: original.shape, scalars: gradient)
        }
    }

    /// The penalty's parameter gradients, from the caller's-tape pattern and from
    /// `accumulateGradients`, against central differences.
    func checkAgainstFiniteDifferences(_ critic: Sequential<Double>, sampleShape: [Int], seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let real = Tensor<Double>.randomUniform(shape: sampleShape, in: -1..<1, using: &g)
        let fake = Tensor<Double>.randomUniform(shape: sampleShape, in: -1..<1, using: &g)
        let (interpolates, epsilon) = GP.interpolates(real: real, fake: fake, using: &g)
        #expect(epsilon.shape == [sampleShape[0]] && epsilon.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        let perSample = epsilon.reshaped(to: [sampleShape[0]] + Array(repeating: 1, count: sampleShape.count - 1))
        expectClose(interpolates, perSample * real + (1 - perSample) * fake, rtol: 1e-15, atol: 1e-15)

        // The penalty on the caller's tape.
        let tape = GradientTape<Double>()
        let penalty = tape.record { GP.penalty(of: critic, at: interpolates) }
        let onTape = tape.gradient(
            of: penalty.penalty, withRespectTo: critic.parameters.map(\.variable), unconnected: .zero
        ).map(\.value)
        // The convenience, accumulating into fresh gradients.
        critic.zeroGradients()
        let (accumulated, added) = GP.accumulateGradients(of: critic, at: interpolates, weight: 1)
        #expect(accumulated.value == penalty.value)
        let expected = Self.finiteDifferences(critic, at: interpolates)
        for (index, parameter) in critic.parameters.enumerated() {
            let name = critic.namedParameters[index].name
            expectClose(onTape[index], expected[index], rtol: 1e-6, atol: 1e-8)
            expectClose(added[index], onTape[index], rtol: 1e-14, atol: 1e-15)
            #expect(parameter.gradient == added[index], "\(name)")
        }
        // The weights of the first layer shape the input gradient: theirs is far from zero.
        #expect(expected[0].scalars.map(Swift.abs).max()! > 1e-3)
        #expect(onTape[0].scalars.map(Swift.abs).max()! > 1e-3)
    }

    @Test func gradientMatchesFiniteDifferencesForLeakyReLUCritic() {
        checkAgainstFiniteDifferences(Self.denseCritic(seed: 1), sampleShape: [5, 3], seed: 2)
    }

    @Test func gradientMatchesFiniteDifferencesForConvolutionalCritic() {
        checkAgainstFiniteDifferences(Self.convolutionalCritic(seed: 3), sampleShape: [3, 1, 4, 4], seed: 4)
    }

    /// The penalty is ≥ 0, its norms are what the definition says, and a plain gradient step
    /// on it alone moves the weights and lowers it.
    @Test func penaltyMovesTheWeightsAndDecreases() {
        let critic = Self.denseCritic(seed: 5)
        var g = SeededGenerator(seed: 6)
        let real = Tensor<Double>.randomUniform(shape: [16, 3], in: -1..<1, using: &g)
        let fake = Tensor<Double>.randomUniform(shape: [16, 3], in: -1..<1, using: &g)
        let interpolates = GP.interpolates(real: real, fake: fake, using: &g).interpolates
        let before = GP.evaluate(critic, at: interpolates)
        // The definition, from the input gradient that an ordinary tape computes.
        let tape = GradientTape<Double>()
        let x = TensorOperations.variable(interpolates)
        tape.watch(x)
        let scores = tape.record { critic(x) }
        let inputGradient = tape.gradient(of: scores, withRespectTo: [x], seed: .ones(shape: scores.shape))[0].value
        let norms = (inputGradient * inputGradient).sum(alongAxes: [1]).map { ($0 + 1e-12).squareRoot() }
        expectClose(before.gradientNorms, norms, rtol: 1e-14)
        expectClose(Tensor(before.value), ((norms - 1) * (norms - 1)).mean(), rtol: 1e-14)
        #expect(before.value > 0.01)

        let weightsBefore = critic.parameters.map(\.value)
        let optimizer = SGD(critic.parameters, learningRate: 0.05)
        let (_, gradients) = GP.accumulateGradients(of: critic, at: interpolates, weight: 1)
        #expect(gradients.contains { $0.scalars.contains { Swift.abs($0) > 1e-3 } })
        optimizer.step()
        let moved = zip(weightsBefore, critic.parameters.map(\.value)).filter { $0 != $1 }.count
        #expect(moved >= 2, "the penalty moved \(moved) of \(weightsBefore.count) parameters")
        #expect(critic.parameters[0].value != weightsBefore[0])
        #expect(GP.evaluate(critic, at: interpolates).value < before.value)

        // Adam too: a few steps on the penalty alone lower it by a quarter or more.
        let adam = Adam(critic.parameters, learningRate: 0.01)
        for _ in 0..<20 {
            adam.zeroGradients()
            GP.accumulateGradients(of: critic, at: interpolates, weight: 1)
            adam.step()
        }
        #expect(GP.evaluate(critic, at: interpolates).value < 0.75 * before.value)
    }

    /// The critic loss with the penalty, and with a detached copy of it: the weight gradients
    /// differ by exactly λ·∂GP/∂θ; the detached copy alone has no gradient.
    @Test func detachedPenaltyChangesTheGradientAndHasNone() {
        let critic = Self.denseCritic(seed: 7)
        var g = SeededGenerator(seed: 8)
        let real = Tensor<Double>.randomUniform(shape: [8, 3], in: -1..<1, using: &g)
        let fake = Tensor<Double>.randomUniform(shape: [8, 3], in: -1..<1, using: &g)
        let interpolates = GP.interpolates(real: real, fake: fake, using: &g).interpolates
        let lambda = 10.0
        func criticLossGradients(detached: Bool) -> [Tensor<Double>] {
            let tape = GradientTape<Double>()
            let loss = tape.record {
                let wasserstein = TensorOperations.mean(critic(TensorOperations.constant(fake))) - TensorOperations.mean(critic(TensorOperations.constant(real)))
                let penalty = GP.penalty(of: critic, at: interpolates).penalty
                return wasserstein + lambda * (detached ? TensorOperations.stopGradient(penalty) : penalty)
            }
            // Every parameter reaches the Wasserstein terms: the default `.error` holds.
            return tape.gradient(of: loss, withRespectTo: critic.parameters.map(\.variable)).map(\.value)
        }
        let withPenalty = criticLossGradients(detached: false)
        let detached = criticLossGradients(detached: true)
        critic.zeroGradients()
        let penaltyGradients = GP.accumulateGradients(of: critic, at: interpolates, weight: lambda).gradients
        let largest = zip(withPenalty, detached).map { ($0 - $1).scalars.map(Swift.abs).max()! }.max()!
        #expect(largest > 1e-3, "the penalty changed the weight gradients by at most \(largest)")
        for index in withPenalty.indices {
            expectClose(withPenalty[index] - detached[index], penaltyGradients[index], rtol: 1e-10, atol: 1e-12)
        }

        // The detached copy alone: zeros where meant…
        let tape = GradientTape<Double>()
        let constant = tape.record { TensorOperations.stopGradient(GP.penalty(of: critic, at: interpolates).penalty) }
        let zeros = tape.gradient(of: constant, withRespectTo: critic.parameters.map(\.variable), unconnected: .zero)
        #expect(zeros.allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } })
    }

    /// …and by default, an error rather than zeros.
    @Test func detachedPenaltyIsAnErrorByDefault() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let critic = GradientPenaltyTests.denseCritic(seed: 7)
            var g = SeededGenerator(seed: 8)
            let x = Tensor<Double>.randomUniform(shape: [4, 3], in: -1..<1, using: &g)
            let tape = GradientTape<Double>()
            let constant = tape.record { TensorOperations.stopGradient(GradientPenalty.penalty(of: critic, at: x).penalty) }
            _ = tape.gradient(of: constant, withRespectTo: critic.parameters.map(\.variable))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("was not computed by an op recorded on this tape"), "\(message)")
    }

    /// A penalty built outside `record { }` would be a constant: it stops with a message.
    @Test func penaltyOutsideRecordIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let critic = GradientPenaltyTests.denseCritic(seed: 9)
            _ = GradientPenalty.penalty(of: critic, at: Tensor<Double>.ones(shape: [4, 3]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("GradientPenalty: no tape is recording"), "\(message)")
    }

    /// A critic whose input gradient depends on no tracked parameter (here a fixed function)
    /// gives a penalty that could not train anything: it stops with a message.
    @Test func penaltyThatReachesNoParameterIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let tape = GradientTape<Double>()
            _ = tape.record {
                GradientPenalty.penalty(
                    of: { TensorOperations.sum(TensorOperations.square($0), alongAxes: [1]) },
                    at: Tensor<Double>.ones(shape: [4, 3]))
            }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("the penalty was not recorded on the recording tape"), "\(message)")
    }

    static func smallSettings(autodiff: Bool, seed: UInt64 = 11) -> WGANSettings {
        WGANSettings(
            hidden: 32, hiddenLayers: 3, batchSize: 64, criticSteps: 5, lambda: 10, learningRate: 1e-3,
            seed: seed, criticUsesAutodiff: autodiff)
    }

    /// A short WGAN-GP run on 8 Gaussians: the mean input-gradient norm on fresh interpolates
    /// starts far from 1 and ends within 0.2 of it.
    @Test func shortTrainingDrivesTheGradientNormToOne() {
        let trainer = WGANTrainer<Float>(Self.smallSettings(autodiff: false))
        var g = SeededGenerator(seed: 12)
        func meanNorm() -> Float {
            let real: Tensor<Float> = EightGaussians.sample(count: 512, using: &g)
            let fake = trainer.generate(count: 512, using: &g)
            let interpolates = GP.interpolates(real: real, fake: fake, using: &g).interpolates
            return GP.evaluate(trainer.critic, at: interpolates).meanGradientNorm
        }
        let initial = meanNorm()
        #expect(Swift.abs(initial - 1) > 0.5, "initial norm \(initial)")
        for _ in 0..<40 { trainer.iterate() }
        let final = meanNorm()
        #expect(Swift.abs(final - 1) < 0.2, "mean ‖∇D(x̂)‖ after training: \(final)")
    }

    /// The Wasserstein terms on the manual and on the autodiff backward give the same critic
    /// gradients (the penalty is graph-mode on both), and the same training.
    @Test func manualAndAutodiffCriticBackwardsAgree() {
        let manual = WGANTrainer<Double>(Self.smallSettings(autodiff: false))
        let autodiff = WGANTrainer<Double>(Self.smallSettings(autodiff: true))
        #expect(autodiff.critic.layers.allSatisfy(\.useAutodiff) && !manual.critic.layers.contains { $0.useAutodiff })
        var g = SeededGenerator(seed: 13)
        let real: Tensor<Double> = EightGaussians.sample(count: 32, using: &g)
        let fake = manual.generate(count: 32, using: &g)
        let interpolates = GP.interpolates(real: real, fake: fake, using: &g).interpolates
        let a = manual.criticGradients(real: real, fake: fake, interpolates: interpolates)
        let b = autodiff.criticGradients(real: real, fake: fake, interpolates: interpolates)
        #expect(Swift.abs(a.criticLoss - b.criticLoss) <= 1e-12 * Swift.max(1, Swift.abs(a.criticLoss)))
        #expect(a.penalty > 0 && Swift.abs(a.penalty - b.penalty) <= 1e-14)
        for (p, q) in zip(manual.critic.parameters, autodiff.critic.parameters) {
            expectClose(p.gradient!, q.gradient!, rtol: 1e-10, atol: 1e-12)
        }
        for _ in 0..<3 {
            manual.iterate()
            autodiff.iterate()
        }
        for (p, q) in zip(manual.critic.parameters + manual.generator.parameters,
                          autodiff.critic.parameters + autodiff.generator.parameters) {
            expectClose(p.value, q.value, rtol: 1e-9, atol: 1e-11)
        }
    }

    /// Mode coverage counts nearest modes and the samples within 3σ and 10σ.
    @Test func modeCoverageCounts() {
        let c = EightGaussians.centers
        let coverage = ModeCoverage([c[0].x, c[0].y, c[2].x + 0.05, c[2].y, c[2].x + 0.1, c[2].y, 0, 0.9])
        #expect(coverage.counts == [1, 0, 3, 0, 0, 0, 0, 0])
        #expect(coverage.within3Sigma == [1, 0, 1, 0, 0, 0, 0, 0])
        #expect(coverage.within10Sigma == [1, 0, 2, 0, 0, 0, 0, 0])
        #expect(coverage.fractionWithin3Sigma == 0.5)
    }

    @Test func commandRunsAndPlots() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-wgan-test.svg").path
        let command = try WGANGP.parse(["--iterations", "2", "--hidden", "8", "--batch-size", "16", "--plot", path])
        try command.run()
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.contains("<circle") && svg.contains("Wasserstein estimate") && svg.contains("<polyline"))
    }

    @Test func commandRejectsBadArguments() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["wgan-gp", "--iterations", "0"])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.split(separator: "\n").first == "Error: --iterations must be at least 1", "\(message)")
    }
}
