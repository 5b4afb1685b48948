import ArgumentParser
import Foundation
import Nabla

/// `nabla wgan-gp`: a WGAN-GP (Gulrajani et al. 2017) on the paper's 2-D toy, a mixture of 8
/// Gaussians on a circle, with the gradient penalty really training the critic.
struct WGANGP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wgan-gp",
        abstract: "Train a WGAN-GP on 8 Gaussians on a circle and report the mode coverage.",
        discussion: """
            Critic loss D(fake) − D(real) + λ·GP, with GP = mean (‖∇D(x̂)‖₂ − 1)² at random \
            interpolates x̂ of real and generated samples; the paper's defaults: λ = 10, 5 critic \
            steps per generator step, Adam(1e-4, β₁ 0.5, β₂ 0.9).
            """)

    @Option(help: "Generator steps (each after --critic-steps critic steps).")
    var iterations = 2000

    @Option(help: "Samples per batch (real, generated and interpolates alike).")
    var batchSize = 256

    @Option(help: "The seed of the weights, the data, the latent codes and the interpolates.")
    var seed: UInt64 = 0

    @Flag(help: "Run the critic's layers on the autodiff backward (the Wasserstein terms); the penalty is graph-mode either way.")
    var autodiff = false

    @Option(help: "Write a scatter of real and generated samples and the training curves here (SVG).")
    var plot: String?

    @Option(help: "Critic steps per generator step.")
    var criticSteps = 5

    @Option(help: "λ, the weight of the gradient penalty.")
    var lambda: Float = 10

    @Option(help: "Adam's learning rate, for both networks.")
    var lr: Float = 1e-4

    @Option(help: "The learning rate over the run: constant, or cosine (from --lr down to 0 at the last generator step).")
    var schedule: WGANSchedule = .constant

    @Option(help: "Units in each of the three hidden layers of both networks.")
    var hidden = 256

    @Option(help: "OpenBLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's choice).")
    var threads: Int?

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard criticSteps >= 1 else { throw ValidationError("--critic-steps must be at least 1") }
        guard lambda >= 0, lambda.isFinite else { throw ValidationError("--lambda must be a finite number ≥ 0") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") }
        guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try OutputPath.check(plot, option: "--plot")
    }

    var settings: WGANSettings {
        WGANSettings(
            hidden: hidden, batchSize: batchSize, criticSteps: criticSteps, lambda: Double(lambda),
            learningRate: Double(lr), seed: seed, criticUsesAutodiff: autodiff)
    }

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        let settings = settings
        let trainer = WGANTrainer<Float>(settings)
        print("WGAN-GP on 8 Gaussians (radius \(EightGaussians.radius), σ \(EightGaussians.sigma)): "
            + "\(iterations) generator steps × \(criticSteps) critic steps, batch \(batchSize), λ \(lambda), "
            + "Adam lr \(lr) (\(schedule.rawValue)) β₁ \(settings.beta1) β₂ \(settings.beta2), hidden \(hidden), seed \(seed), "
            + "critic backward \(autodiff ? "autodiff" : "manual"), \(BLAS.threadCount) BLAS thread(s)")
        print("generator \(trainer.generator.layers.map(\.description).joined(separator: " → "))")
        print("critic    \(trainer.critic.layers.map(\.description).joined(separator: " → "))")
        let start = Date()
        let every = max(1, iterations / 20)
        var history: [WGANTrainer<Float>.CriticStep] = []
        let cosine = CosineAnnealing(initial: lr, period: iterations)
        for iteration in 1...iterations {
            if schedule == .cosine { trainer.learningRate = cosine.learningRate(atStep: iteration - 1) }
            let step = trainer.iterate()
            history.append(step)
            if iteration % every == 0 || iteration == iterations {
                let recent = history.suffix(every)
                func mean(_ value: (WGANTrainer<Float>.CriticStep) -> Double) -> Double {
                    recent.map(value).reduce(0, +) / Double(recent.count)
                }
                print(String(
                    format: "%6d/%d  critic loss %8.4f  penalty %7.4f  ‖∇D(x̂)‖ %6.3f  W estimate %7.4f  ",
                    iteration, iterations, mean(\.criticLoss), mean(\.penalty), mean(\.gradientNorm),
                    mean(\.wasserstein)) + format(seconds: Date().timeIntervalSince(start)))
                fflush(nil)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        var sampleGenerator = SeededGenerator(seed: seed &+ 7)
        let samples = trainer.generate(count: 1000, using: &sampleGenerator)
        let coverage = ModeCoverage(samples.scalars.map(Double.init))
        let lastNorms = history.suffix(max(1, min(100, iterations / 10))).map(\.gradientNorm)
        print()
        print(coverage.report)
        print(String(
            format: "final mean ‖∇D(x̂)‖ on interpolates: %.3f (mean over the last %d generator steps), time ",
            lastNorms.reduce(0, +) / Double(lastNorms.count), lastNorms.count) + format(seconds: seconds))
        if let plot {
            var realGenerator = SeededGenerator(seed: seed &+ 8)
            let real: Tensor<Float> = EightGaussians.sample(count: 1000, using: &realGenerator)
            func points(_ t: Tensor<Float>) -> [(x: Double, y: Double)] {
                let s = t.scalars
                return stride(from: 0, to: s.count, by: 2).map { (Double(s[$0]), Double(s[$0 + 1])) }
            }
            func curve(_ value: (WGANTrainer<Float>.CriticStep) -> Double) -> [(x: Double, y: Double)] {
                let window = max(1, iterations / 200)
                return stride(from: 0, to: history.count, by: window).map { start in
                    let slice = history[start..<min(start + window, history.count)]
                    return (Double(start + slice.count), slice.map(value).reduce(0, +) / Double(slice.count))
                }
            }
            try SVGPlot(panels: [
                .init(title: "Real and generated samples (1,000 each)", xLabel: "x₁", series: [
                    .init(name: "real", points: points(real), color: "#1f77b4", isScatter: true),
                    .init(name: "generated", points: points(samples), color: "#ff7f0e", isScatter: true),
                ], isSquare: true),
                .init(title: "Wasserstein estimate D(real) − D(fake)", xLabel: "generator step", series: [
                    .init(name: "W estimate", points: curve(\.wasserstein), color: "#2ca02c")]),
                .init(title: "Mean ‖∇D(x̂)‖₂ on interpolates", xLabel: "generator step", series: [
                    .init(name: "gradient norm", points: curve(\.gradientNorm), color: "#d62728"),
                    .init(name: "target 1", points: [(0, 1), (Double(iterations), 1)], color: "#888888"),
                ]),
            ]).write(to: plot)
            print("Wrote \(plot)")
        }
    }
}

/// How `nabla wgan-gp` moves the learning rate of both optimizers.
enum WGANSchedule: String, ExpressibleByArgument, CaseIterable {
    case constant, cosine
}

/// What a WGAN-GP run is made of.
struct WGANSettings {
    var latentSize = 2
    var hidden = 256
    var hiddenLayers = 3
    var batchSize = 256
    var criticSteps = 5
    var lambda = 10.0
    var learningRate = 1e-4
    var beta1 = 0.5
    var beta2 = 0.9
    var seed: UInt64 = 0
    var criticUsesAutodiff = false
}

/// The paper's toy data: 8 Gaussians of standard deviation σ around points on a circle.
enum EightGaussians {
    static let radius = 2.0
    static let sigma = 0.02
    static let centers: [(x: Double, y: Double)] = (0..<8).map { k in
        let angle = Double(k) * .pi / 4
        return (radius * cos(angle), radius * sin(angle))
    }

    /// `[count, 2]` samples, each from a mode picked uniformly.
    static func sample<Scalar: TensorScalar>(count: Int, using generator: inout SeededGenerator) -> Tensor<Scalar> {
        let noise = Tensor<Double>.randomNormal(shape: [count, 2], standardDeviation: sigma, using: &generator).scalars
        var scalars = [Scalar]()
        scalars.reserveCapacity(2 * count)
        for row in 0..<count {
            let center = centers[Int.random(in: 0..<8, using: &generator)]
            scalars.append(Scalar(center.x + noise[2 * row]))
            scalars.append(Scalar(center.y + noise[2 * row + 1]))
        }
        return Tensor(shape: [count, 2], scalars: scalars)
    }
}

/// Which mode each sample is nearest, and how many lie within 3σ of their mode.
struct ModeCoverage {
    /// Samples per mode, by nearest centre.
    var counts = [Int](repeating: 0, count: 8)
    /// Samples within 3σ of their nearest centre, per mode.
    var within3Sigma = [Int](repeating: 0, count: 8)
    /// Samples within 10σ of their nearest centre, per mode (a looser measure).
    var within10Sigma = [Int](repeating: 0, count: 8)
    var total = 0

    /// `xy` holds the samples' coordinates, x then y.
    init(_ xy: [Double]) {
        total = xy.count / 2
        for index in 0..<total {
            let (x, y) = (xy[2 * index], xy[2 * index + 1])
            let distances = EightGaussians.centers.map { ((x - $0.x) * (x - $0.x) + (y - $0.y) * (y - $0.y)).squareRoot() }
            let mode = distances.indices.min { distances[$0] < distances[$1] }!
            counts[mode] += 1
            if distances[mode] <= 3 * EightGaussians.sigma { within3Sigma[mode] += 1 }
            if distances[mode] <= 10 * EightGaussians.sigma { within10Sigma[mode] += 1 }
        }
    }

    var fractionWithin3Sigma: Double { Double(within3Sigma.reduce(0, +)) / Double(max(total, 1)) }
    var fractionWithin10Sigma: Double { Double(within10Sigma.reduce(0, +)) / Double(max(total, 1)) }
    /// Modes with at least 1% of the samples within 10σ.
    var modesCovered: Int { within10Sigma.filter { $0 * 100 >= total }.count }

    var report: String {
        let percent = { (count: Int) in String(format: "%5.1f%%", 100 * Double(count) / Double(max(self.total, 1))) }
        var lines = [
            "Mode coverage of \(total) generated samples (mode k at angle k·45°, radius \(EightGaussians.radius); "
                + "σ = \(EightGaussians.sigma), the data's):",
            "mode   angle   nearest   within 3σ   within 10σ",
        ]
        for mode in 0..<8 {
            lines.append(
                "\(mode)".leftPadded(to: 4) + "\(mode * 45)°".leftPadded(to: 8) + percent(counts[mode]).leftPadded(to: 10)
                    + percent(within3Sigma[mode]).leftPadded(to: 12) + percent(within10Sigma[mode]).leftPadded(to: 13))
        }
        lines.append(String(
            format: "within 3σ (%.2f) of some mode: %.1f%%; within 10σ (%.2f): %.1f%%; modes with ≥ 1%% of the samples within 10σ: %d/8",
            3 * EightGaussians.sigma, 100 * fractionWithin3Sigma, 10 * EightGaussians.sigma,
            100 * fractionWithin10Sigma, modesCovered))
        return lines.joined(separator: "\n")
    }
}

/// A generator and a critic (Dense + LeakyReLU(0.2), no normalization in the critic) trained as
/// a WGAN-GP on ``EightGaussians``.
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
    }

    let settings: WGANSettings
    let generator: Sequential<Scalar>
    let critic: Sequential<Scalar>
    let generatorOptimizer: Adam<Scalar>
    let criticOptimizer: Adam<Scalar>
    /// Draws the real samples, the latent codes and the interpolation weights.
    var random: SeededGenerator

    init(_ settings: WGANSettings) {
        self.settings = settings
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
        generator = network(settings.latentSize, 2)
        critic = network(2, 1)
        critic.useAutodiff = settings.criticUsesAutodiff
        generator.computesInputGradient = false
        let (lr, b1, b2) = (Scalar(settings.learningRate), Scalar(settings.beta1), Scalar(settings.beta2))
        generatorOptimizer = Adam(generator.parameters, learningRate: lr, beta1: b1, beta2: b2)
        criticOptimizer = Adam(critic.parameters, learningRate: lr, beta1: b1, beta2: b2)
        random = SeededGenerator(seed: settings.seed &+ 1)
    }

    /// Both optimizers' learning rate.
    var learningRate: Scalar {
        get { criticOptimizer.learningRate }
        set {
            criticOptimizer.learningRate = newValue
            generatorOptimizer.learningRate = newValue
        }
    }

    /// `count` generated samples, `[count, 2]`, without recording anything.
    func generate(count: Int, using generator: inout SeededGenerator) -> Tensor<Scalar> {
        let z = Tensor<Scalar>.randomNormal(shape: [count, settings.latentSize], using: &generator)
        return withoutRecording { self.generator(TensorOperations.constant(z)).value }
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
        let real: Tensor<Scalar> = EightGaussians.sample(count: settings.batchSize, using: &random)
        let fake = generate(count: settings.batchSize, using: &random)
        let interpolates = GradientPenalty.interpolates(real: real, fake: fake, using: &random).interpolates
        let step = criticGradients(real: real, fake: fake, interpolates: interpolates)
        criticOptimizer.step()
        return step
    }

    /// One generator update: descends `−D(G(z))`.
    func generatorStep() {
        let z = Tensor<Scalar>.randomNormal(shape: [settings.batchSize, settings.latentSize], using: &random)
        generator.zeroGradients()
        critic.computesInputGradient = true
        let fake = generator.forward(z)
        let scores = critic.forward(fake)
        let fakeGradient = critic.backward(Tensor(repeating: -1 / Scalar(settings.batchSize), shape: scores.shape))!
        generator.backward(fakeGradient)
        generatorOptimizer.step()
        critic.zeroGradients()  // the critic's gradients of this step are not used
    }

    /// `criticSteps` critic steps, then one generator step; returns the last critic step.
    @discardableResult
    func iterate() -> CriticStep {
        var last: CriticStep?
        for _ in 0..<settings.criticSteps { last = criticStep() }
        generatorStep()
        return last!
    }
}
