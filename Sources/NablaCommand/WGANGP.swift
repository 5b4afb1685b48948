import ArgumentParser
import Foundation
import Nabla

/// `nabla wgan-gp`: a WGAN-GP (Gulrajani et al. 2017) with the gradient penalty really training
/// the critic, on the paper's 2-D toy (8 Gaussians on a circle) or on Fashion-MNIST images.
struct WGANGP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wgan-gp",
        abstract: "Train a WGAN-GP on 8 Gaussians (mode coverage) or on Fashion-MNIST (sample grids and a Fréchet distance).",
        discussion: """
            Critic loss D(fake) − D(real) + λ·GP, with GP = mean (‖∇D(x̂)‖₂ − 1)² at random \
            interpolates x̂ of real and generated samples, taken through the whole critic with \
            nested tapes; the paper's defaults: λ = 10, 5 critic steps per generator step, Adam \
            lr 1e-4, β₂ 0.9, β₁ 0.5 on the toy and 0 on images.

            On images (--data fashion-mnist): a DCGAN-style generator (Dense, ConvTranspose2D, \
            BatchNorm, ReLU, Tanh) and a convolutional critic (LeakyReLU 0.2, no BatchNorm), \
            initialized as DCGAN. The score is the Fréchet distance between generated and real \
            test images in the 128 penultimate features of Nabla's Fashion-MNIST CNN (trained \
            once and saved at --classifier), with the class histogram of the samples.
            """)

    @Option(help: "The data: gaussians (the 2-D toy) or fashion-mnist (28×28 images).")
    var data: WGANData = .gaussians

    @Option(help: "Generator steps, each after --critic-steps critic steps (default 2000 on gaussians, 1000 on images).")
    var iterations: Int?

    @Option(help: "Samples per batch, real, generated and interpolates alike (default 256 on gaussians, 64 on images).")
    var batchSize: Int?

    @Option(help: "The seed of the weights, the data, the latent codes and the interpolates.")
    var seed: UInt64 = 0

    @Flag(help: "Run both networks' layers on the autodiff backward; the penalty is graph-mode either way.")
    var autodiff = false

    @Option(help: "Write the training curves here (SVG), on gaussians with a scatter of the samples.")
    var plot: String?

    @Option(help: "Critic steps per generator step.")
    var criticSteps = 5

    @Option(help: "λ, the weight of the gradient penalty.")
    var lambda: Float = 10

    @Option(help: "Adam's learning rate, for both networks.")
    var lr: Float = 1e-4

    @Option(help: "Adam's β₁ (default 0.5 on gaussians, 0 on images).")
    var beta1: Float?

    @Option(help: "The learning rate over the run: constant, or cosine (from --lr down to 0 at the last generator step).")
    var schedule: WGANSchedule = .constant

    @Option(help: "Gaussians: units in each of the three hidden layers of both networks.")
    var hidden = 256

    @Option(help: "Images: the channels of the critic's first convolution and the generator's last hidden one (twice that in the middle).")
    var width = 64

    @Option(help: "Images: the latent code's length.")
    var latentSize = 128

    @Flag(help: "Images: a LayerNorm in the critic after its second convolution.")
    var layerNorm = false

    @Option(help: "Images: write an 8×8 grid of samples (the same 64 codes each time) into this folder as samples-<iteration>.png.")
    var grids: String?

    @Option(help: "Images: iterations between grids (default: a tenth of the run).")
    var gridEvery: Int?

    @Option(help: "Images: save both networks here (safetensors, PyTorch's names: generator.N.…, critic.N.…).")
    var save: String?

    @Option(help: "Images: the scoring classifier's weights; trained once (cnn, 2 epochs) and saved here if missing.")
    var classifier = "fashion-cnn.safetensors"

    @Option(help: "Images: generated samples for the Fréchet distance and the histogram.")
    var scoreSamples = 10_000

    @Option(help: "Images: only score the samples in this safetensors file (a tensor `samples` [N, 1, 28, 28] in [-1, 1]), e.g. PyTorch's.")
    var score: String?

    @Option(help: "Images: the Fashion-MNIST folder.")
    var folder = FashionMNIST.defaultDirectory

    @Option(help: "OpenBLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's choice).")
    var threads: Int?

    func validate() throws {
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        guard criticSteps >= 1 else { throw ValidationError("--critic-steps must be at least 1") }
        guard lambda >= 0, lambda.isFinite else { throw ValidationError("--lambda must be a finite number ≥ 0") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") }
        if let beta1, !(0..<1).contains(beta1) { throw ValidationError("--beta1 must be in [0, 1)") }
        guard hidden >= 1, width >= 1, latentSize >= 1 else { throw ValidationError("--hidden, --width and --latent-size must be at least 1") }
        guard scoreSamples >= 2 else { throw ValidationError("--score-samples must be at least 2") }
        if let gridEvery, gridEvery < 1 { throw ValidationError("--grid-every must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        try OutputPath.check(plot, option: "--plot")
        try OutputPath.check(save, option: "--save")
        try OutputPath.check(classifier, option: "--classifier")
        if let grids { try OutputPath.check((grids as NSString).appendingPathComponent("samples.png"), option: "--grids") }
        if data == .gaussians, save != nil || grids != nil || score != nil || layerNorm {
            throw ValidationError("--save, --grids, --score and --layer-norm are for --data fashion-mnist")
        }
    }

    var settings: WGANSettings {
        let images = data == .fashionMNIST
        return WGANSettings(
            latentSize: images ? latentSize : 2, hidden: hidden, batchSize: batchSize ?? (images ? 64 : 256),
            criticSteps: criticSteps, lambda: Double(lambda), learningRate: Double(lr),
            beta1: Double(beta1 ?? (images ? 0 : 0.5)), seed: seed, criticUsesAutodiff: autodiff)
    }

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        switch data {
        case .gaussians: try runGaussians(iterations: iterations ?? 2000)
        case .fashionMNIST: try runImages(iterations: iterations ?? 1000)
        }
    }

    func runGaussians(iterations: Int) throws {
        let settings = settings
        let trainer = WGANTrainer<Float>(settings)
        console.print("WGAN-GP on 8 Gaussians (radius \(EightGaussians.radius), σ \(EightGaussians.sigma)): "
            + "\(iterations) generator steps × \(criticSteps) critic steps, batch \(settings.batchSize), λ \(lambda), "
            + "Adam lr \(lr) (\(schedule.rawValue)) β₁ \(settings.beta1) β₂ \(settings.beta2), hidden \(hidden), seed \(seed), "
            + "critic backward \(autodiff ? "autodiff" : "manual"), \(BLAS.threadCount) BLAS thread(s)")
        console.print("generator \(trainer.generator.layers.map(\.description).joined(separator: " → "))")
        console.print("critic    \(trainer.critic.layers.map(\.description).joined(separator: " → "))")
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
                console.print(String(
                    format: "%6d/%d  critic loss %8.4f  penalty %7.4f  ‖∇D(x̂)‖ %6.3f  W estimate %7.4f  ",
                    iteration, iterations, mean(\.criticLoss), mean(\.penalty), mean(\.gradientNorm),
                    mean(\.wasserstein)) + format(seconds: Date().timeIntervalSince(start)))
            }
        }
        let seconds = Date().timeIntervalSince(start)
        var sampleGenerator = SeededGenerator(seed: seed &+ 7)
        let samples = trainer.generate(count: 1000, using: &sampleGenerator)
        let coverage = ModeCoverage(samples.scalars.map(Double.init))
        let lastNorms = history.suffix(max(1, min(100, iterations / 10))).map(\.gradientNorm)
        console.print()
        console.print(coverage.report)
        console.print(String(
            format: "final mean ‖∇D(x̂)‖ on interpolates: %.3f (mean over the last %d generator steps), time ",
            lastNorms.reduce(0, +) / Double(lastNorms.count), lastNorms.count) + format(seconds: seconds))
        if let plot {
            var realGenerator = SeededGenerator(seed: seed &+ 8)
            let real: Tensor<Float> = EightGaussians.sample(count: 1000, using: &realGenerator)
            func points(_ t: Tensor<Float>) -> [(x: Double, y: Double)] {
                let s = t.scalars
                return stride(from: 0, to: s.count, by: 2).map { (Double(s[$0]), Double(s[$0 + 1])) }
            }
            try SVGPlot(panels: [
                .init(title: "Real and generated samples (1,000 each)", xLabel: "x₁", series: [
                    .init(name: "real", points: points(real), color: "#1f77b4", isScatter: true),
                    .init(name: "generated", points: points(samples), color: "#ff7f0e", isScatter: true),
                ], isSquare: true),
            ] + Self.trainingPanels(history)).write(to: plot)
            console.print("Wrote \(plot)")
        }
    }
}

extension WGANGP {
    /// The Wasserstein estimate and the mean gradient norm on interpolates, per generator step,
    /// averaged over windows of a 200th of the run.
    static func trainingPanels(_ history: [WGANTrainer<Float>.CriticStep]) -> [SVGPlot.Panel] {
        func curve(_ value: KeyPath<WGANTrainer<Float>.CriticStep, Double>) -> [(x: Double, y: Double)] {
            Self.curve(history, value)
        }
        return [
            .init(title: "Wasserstein estimate D(real) − D(fake)", xLabel: "generator step", series: [
                .init(name: "W estimate", points: curve(\.wasserstein), color: "#2ca02c")]),
            .init(title: "Mean ‖∇D(x̂)‖₂ on interpolates", xLabel: "generator step", series: [
                .init(name: "gradient norm", points: curve(\.gradientNorm), color: "#d62728"),
                .init(name: "target 1", points: [(0, 1), (Double(history.count), 1)], color: "#888888"),
            ]),
        ]
    }

    /// One value per generator step, averaged over windows of a 200th of the run.
    static func curve(
        _ history: [WGANTrainer<Float>.CriticStep], _ value: KeyPath<WGANTrainer<Float>.CriticStep, Double>
    ) -> [(x: Double, y: Double)] {
        let window = max(1, history.count / 200)
        return stride(from: 0, to: history.count, by: window).map { start in
            let slice = history[start..<min(start + window, history.count)]
            return (Double(start + slice.count), slice.map { $0[keyPath: value] }.reduce(0, +) / Double(slice.count))
        }
    }
}

/// How `nabla wgan-gp` moves the learning rate of both optimizers.
enum WGANSchedule: String, ExpressibleByArgument, CaseIterable {
    case constant, cosine
}

/// What `nabla wgan-gp` learns to generate.
enum WGANData: String, ExpressibleByArgument, CaseIterable {
    case gaussians
    case fashionMNIST = "fashion-mnist"
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
