import ArgumentParser
import Foundation
import Nabla

/// The DCGAN-style networks of `nabla wgan-gp --data fashion-mnist`, at 28 × 28, as
/// `nn.Sequential`s whose positions give PyTorch's parameter names
/// (`Benchmarks/torch/wgan_gp_images.py` builds the same).
enum ImageWGAN {
    /// `z [N, latent]` → Dense(latent → 2w·7·7, no bias) → Unflatten [2w, 7, 7] → BatchNorm → ReLU
    /// → ConvTranspose 4×4/2 (2w → w, no bias) → BatchNorm → ReLU → ConvTranspose 4×4/2 (w → 1)
    /// → Tanh → `[N, 1, 28, 28]`.
    static func generator<Scalar: TensorScalar>(latentSize: Int, width: Int, using g: inout SeededGenerator) -> Sequential<Scalar> {
        Sequential(
            Dense(inputSize: latentSize, outputSize: 2 * width * 49, bias: false, using: &g),
            Reshape(to: [2 * width, 7, 7]),
            BatchNorm(featureCount: 2 * width), ReLU(),
            ConvTranspose2D(inputChannels: 2 * width, outputChannels: width, kernelSize: 4, stride: 2, padding: 1, bias: false, using: &g),
            BatchNorm(featureCount: width), ReLU(),
            ConvTranspose2D(inputChannels: width, outputChannels: 1, kernelSize: 4, stride: 2, padding: 1, using: &g),
            Tanh())
    }

    /// `x [N, 1, 28, 28]` → Conv 4×4/2 (1 → w) → LeakyReLU(0.2) → Conv 4×4/2 (w → 2w)
    /// [→ LayerNorm [2w, 7, 7]] → LeakyReLU(0.2) → Flatten → Dense(2w·7·7 → 1) → `[N, 1]`. No
    /// batch normalization: the penalty is per sample.
    static func critic<Scalar: TensorScalar>(width: Int, layerNorm: Bool, using g: inout SeededGenerator) -> Sequential<Scalar> {
        let normalization: [Layer<Scalar>] = layerNorm ? [LayerNorm(normalizedShape: [2 * width, 7, 7])] : []
        return Sequential(
            [
                Conv2D(inputChannels: 1, outputChannels: width, kernelSize: 4, stride: 2, padding: 1, using: &g),
                LeakyReLU(slope: 0.2),
                Conv2D(inputChannels: width, outputChannels: 2 * width, kernelSize: 4, stride: 2, padding: 1, using: &g),
            ] + normalization + [
                LeakyReLU(slope: 0.2), Flatten(), Dense(inputSize: 2 * width * 49, outputSize: 1, using: &g),
            ])
    }

    /// DCGAN's initialization (Radford et al. 2016), as its PyTorch example's `weights_init`:
    /// convolution, transposed convolution and dense weights from N(0, 0.02²), BatchNorm's scale
    /// from N(1, 0.02²), every bias 0. LayerNorm keeps 1 and 0.
    static func initializeAsDCGAN<Scalar: TensorScalar>(_ network: Layer<Scalar>, using g: inout SeededGenerator) {
        network.apply { layer in
            let (weight, bias): (Parameter<Scalar>?, Parameter<Scalar>?) =
                switch layer {
                case let layer as Conv2D<Scalar>: (layer.weight, layer.bias)
                case let layer as ConvTranspose2D<Scalar>: (layer.weight, layer.bias)
                case let layer as Dense<Scalar>: (layer.weight, layer.bias)
                default: (nil, nil)
                }
            weight?.initialize(.normal(mean: 0, standardDeviation: 0.02), using: &g)
            bias?.initialize(.constant(0), using: &g)
            if let norm = layer as? BatchNorm<Scalar> {
                norm.weight.initialize(.normal(mean: 1, standardDeviation: 0.02), using: &g)
                norm.bias.initialize(.constant(0), using: &g)
            }
        }
    }
}

/// Batches of real images drawn as a shuffling data loader without its last short batch: a new
/// order each pass, `count / batch` batches per pass.
final class ShuffledImages<Scalar: TensorScalar> {
    let images: Tensor<Scalar>
    private var order: [Int] = []
    private var position = 0

    init(_ images: Tensor<Scalar>) { self.images = images }

    /// The next `count` images, `count` at most the number of images.
    func next(_ count: Int, using generator: inout SeededGenerator) -> Tensor<Scalar> {
        precondition((1...images.shape[0]).contains(count), "ShuffledImages: a batch of \(count) from \(images.shape[0]) images")
        if position + count > order.count {
            order = Array(0..<images.shape[0]).shuffled(using: &generator)
            position = 0
        }
        defer { position += count }
        return gatherRows(images, Array(order[position..<(position + count)]))
    }
}

extension WGANGP {
    /// Trains on Fashion-MNIST, writing grids as it goes, then scores the generator against the
    /// two floors: real training images (the best possible) and the untrained generator.
    func runImages(iterations: Int) throws {
        let train = try FashionMNIST.load(.train, from: folder, as: Float.self)
        let test = try FashionMNIST.load(.test, from: folder, as: Float.self)
        // The inputs are checked before the scorer, which may train its classifier first.
        if let score {
            let samples = try Self.samples(in: score)
            return try report(samples, from: score, with: SampleScorer(classifierAt: classifier, train: train, test: test))
        }
        let settings = settings
        guard settings.batchSize <= train.count else {
            throw InputError("--batch-size \(settings.batchSize) exceeds the \(train.count) training images")
        }
        let scorer = try SampleScorer(classifierAt: classifier, train: train, test: test)
        var weights = SeededGenerator(seed: seed)
        let generator: Sequential<Float> = ImageWGAN.generator(latentSize: latentSize, width: width, using: &weights)
        let critic: Sequential<Float> = ImageWGAN.critic(width: width, layerNorm: layerNorm, using: &weights)
        ImageWGAN.initializeAsDCGAN(generator, using: &weights)
        ImageWGAN.initializeAsDCGAN(critic, using: &weights)
        let real = ShuffledImages(train.images * 2 - 1)
        let trainer = WGANTrainer(generator: generator, critic: critic, settings: settings) { real.next($0, using: &$1) }
        console.print("WGAN-GP on Fashion-MNIST (\(train.count) images in [-1, 1]): \(iterations) generator steps × \(criticSteps) critic steps, "
            + "batch \(settings.batchSize), λ \(lambda), Adam lr \(lr) (\(schedule.rawValue)) β₁ \(settings.beta1) β₂ \(settings.beta2), "
            + "latent \(latentSize), width \(width), seed \(seed), \(autodiff ? "autodiff" : "manual") backward, \(BLAS.threadCount) BLAS thread(s)")
        console.print("generator \(generator.layers.map(\.description).joined(separator: " → "))")
        console.print("critic    \(critic.layers.map(\.description).joined(separator: " → "))")

        var codes = SeededGenerator(seed: seed &+ 9)
        let gridCodes = trainer.latentCodes(count: 64, using: &codes)
        let scoreCodes = trainer.latentCodes(count: scoreSamples, using: &codes)
        let untrained = try scorer.score(generated: LearningPhase.inference { trainer.generate(from: scoreCodes) })
        let realFloor = try scorer.score(generated: train.images.slice(alongAxis: 0, 0..<min(scoreSamples, train.count)) * 2 - 1)
        console.print(String(format: "Fréchet distance to the test images: real training images %.3f (the floor), untrained generator %.3f",
                     realFloor.frechetDistance, untrained.frechetDistance))

        let every = gridEvery ?? max(1, iterations / 10)
        var history: [WGANTrainer<Float>.CriticStep] = []
        let cosine = CosineAnnealing(initial: lr, period: iterations)
        var bar = ProgressBar(title: "wgan-gp", total: iterations)
        bar.plainEvery = max(1, iterations / 20)
        let start = Date()
        for iteration in 1...iterations {
            if schedule == .cosine { trainer.learningRate = cosine.learningRate(atStep: iteration - 1) }
            history.append(trainer.iterate())
            bar.update(done: iteration, examples: iteration * settings.batchSize, loss: history.last!.criticLoss)
            if let grids, iteration % every == 0 || iteration == iterations {
                let path = (grids as NSString).appendingPathComponent(String(format: "samples-%06d.png", iteration))
                try PNGImage(grid: LearningPhase.inference { trainer.generate(from: gridCodes) }).write(to: path)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let scored = try scorer.score(generated: LearningPhase.inference { trainer.generate(from: scoreCodes) })
        let recent = history.suffix(max(1, min(100, iterations / 10)))
        console.print(String(format: "%d iterations in %@ (%.3f s per iteration); last %d: critic loss %.4f, W estimate %.4f, mean ‖∇D(x̂)‖ %.3f",
                     iterations, format(seconds: seconds), seconds / Double(iterations), recent.count,
                     recent.map(\.criticLoss).reduce(0, +) / Double(recent.count),
                     recent.map(\.wasserstein).reduce(0, +) / Double(recent.count),
                     recent.map(\.gradientNorm).reduce(0, +) / Double(recent.count)))
        console.print(String(format: "Fréchet distance to the test images (%d samples): %.3f (floors: real %.3f, untrained %.3f)",
                     scoreSamples, scored.frechetDistance, realFloor.frechetDistance, untrained.frechetDistance))
        console.print("Classes of the generated samples, by the scoring classifier:\n" + scorer.histogram(scored.classCounts))
        if let grids { console.print("Wrote the grids into \(grids)") }
        if let save {
            var file = SafeTensors(metadata: ["format": "pt", "nabla_model": "wgan-gp-fashion-mnist"])
            generator.saveState(into: &file, prefix: "generator.")
            critic.saveState(into: &file, prefix: "critic.")
            try file.write(to: save)
            console.print("Saved both networks to \(save)")
        }
        if let plot {
            let losses = SVGPlot.Panel(title: "Losses", xLabel: "generator step", series: [
                .init(name: "critic D(fake) − D(real) + λ·GP", points: Self.curve(history, \.criticLoss), color: "#1f77b4"),
                .init(name: "generator −D(G(z))", points: Self.curve(history, \.generatorLoss), color: "#ff7f0e"),
            ])
            try SVGPlot(panels: [losses] + Self.trainingPanels(history)).write(to: plot)
            console.print("Wrote \(plot)")
        }
    }

    /// The images stored as `samples` in a safetensors file (PyTorch's peer writes one).
    static func samples(in path: String) throws -> Tensor<Float> {
        let file = try SafeTensors(contentsOf: path)
        guard let samples = file.tensor("samples", as: Float.self), samples.rank == 4,
              samples.shape.dropFirst() == [1, 28, 28], samples.shape[0] >= 2
        else {
            throw InputError("\(path): expected a tensor `samples` of shape [N ≥ 2, 1, 28, 28]")
        }
        return samples
    }

    /// Prints the Fréchet distance and the class histogram of `samples`, read from `path`.
    func report(_ samples: Tensor<Float>, from path: String, with scorer: SampleScorer) throws {
        let scored = try scorer.score(generated: samples)
        console.print(String(format: "%@: Fréchet distance to the test images (%d samples): %.3f", path, samples.shape[0], scored.frechetDistance))
        console.print("Classes of the samples, by the scoring classifier:\n" + scorer.histogram(scored.classCounts))
    }
}
