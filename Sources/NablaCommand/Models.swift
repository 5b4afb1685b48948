import ArgumentParser
import Foundation
import Nabla
import NablaDistributed

/// The Fashion-MNIST models of the command line.
enum ModelKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// 784-256-128-10 with ReLU.
    case mlp
    /// conv3×3 1→32, ReLU, maxpool 2, conv3×3 32→64, ReLU, maxpool 2, dense 3136→128, ReLU,
    /// dense 128→10.
    case cnn

    /// The network, its weights drawn from `seed` (He for layers followed by ReLU, Xavier for
    /// the last one). Layer positions match the same `nn.Sequential` in PyTorch.
    func network<Scalar: TensorScalar>(seed: UInt64, useAutodiff: Bool, as type: Scalar.Type = Float.self) -> NeuralNetwork<Scalar> {
        var g = SeededGenerator(seed: seed)
        let layers: [Layer<Scalar>]
        switch self {
        case .mlp:
            layers = [
                Flatten(), Dense(inputSize: 784, outputSize: 256, initialization: .he, using: &g), ReLU(),
                Dense(inputSize: 256, outputSize: 128, initialization: .he, using: &g), ReLU(),
                Dense(inputSize: 128, outputSize: 10, using: &g),
            ]
        case .cnn:
            layers = [
                Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 3, padding: 1, initialization: .he, using: &g),
                ReLU(), MaxPool2D(kernelSize: 2),
                Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, padding: 1, initialization: .he, using: &g),
                ReLU(), MaxPool2D(kernelSize: 2), Flatten(),
                Dense(inputSize: 3136, outputSize: 128, initialization: .he, using: &g), ReLU(),
                Dense(inputSize: 128, outputSize: 10, using: &g),
            ]
        }
        // The layers above fit by construction: a mismatch is a bug here, not bad input.
        return try! NeuralNetwork(NeuralNetworkArchitecture(inputShape: [1, 28, 28], layers: layers, useAutodiff: useAutodiff))
    }
}

enum OptimizerKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case sgd, adam, adamw, rmsprop

    func make<Scalar: TensorScalar>(_ parameters: [Parameter<Scalar>], names: [String], learningRate: Scalar) -> Optimizer<Scalar> {
        switch self {
        case .sgd: SGD(parameters, names: names, learningRate: learningRate, momentum: 0.9)
        case .adam: Adam(parameters, names: names, learningRate: learningRate)
        case .adamw: AdamW(parameters, names: names, learningRate: learningRate)
        case .rmsprop: RMSProp(parameters, names: names, learningRate: learningRate)
        }
    }
}

/// Options every training command shares.
struct TrainingOptions: ParsableArguments {
    @Option(help: "The model: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: ModelKind = .mlp

    @Option(help: "Passes over the training data.")
    var epochs = 5

    @Option(help: "Examples per step.")
    var batchSize = 128

    @Option(help: "The optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var optimizer: OptimizerKind = .adam

    @Option(help: "The learning rate.")
    var lr: Float = 1e-3

    @Option(help: "The seed of the weights and of the shuffles.")
    var seed: UInt64 = 0

    @Option(help: "Train on the first N training images only (quick runs).")
    var limit: Int?

    @Option(help: "OpenBLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's choice).")
    var threads: Int?

    @Option(help: "The Fashion-MNIST folder.")
    var data = FashionMNIST.defaultDirectory

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func applyThreads() { if let threads { BLAS.setThreadCount(threads) } }

    func loadData<Scalar: TensorScalar>(as type: Scalar.Type = Float.self) throws
        -> (train: LabeledImages<Scalar>, test: LabeledImages<Scalar>)
    {
        (try FashionMNIST.load(.train, from: data, limit: limit, as: type), try FashionMNIST.load(.test, from: data, as: type))
    }
}

/// The record of one training run.
struct TrainingRun<Scalar: TensorScalar> {
    var stepLosses: [Scalar] = []
    var epochLosses: [Double] = []
    var testAccuracies: [Double] = []
    var epochSeconds: [Double] = []
    var network: NeuralNetwork<Scalar>
    var optimizer: Optimizer<Scalar>

    /// Trains `options.model` on `train`, evaluating on `test` after each epoch; with a
    /// `communicator`, data-parallel over its ranks (the batch is over all ranks), rank 0 alone
    /// printing.
    init(
        _ options: TrainingOptions, useAutodiff: Bool, train: LabeledImages<Scalar>, test: LabeledImages<Scalar>,
        label: String, communicator: Communicator? = nil
    ) throws {
        let console = Console.current
        network = options.model.network(seed: options.seed, useAutodiff: useAutodiff, as: Scalar.self)
        optimizer = options.optimizer.make(network.parameters, names: network.namedParameters.map(\.name), learningRate: Scalar(options.lr))
        let trainer = ClassifierTrainer(network: network, optimizer: optimizer)
        let parallel = try communicator.map { (world) throws(MPIError) in try DataParallelTrainer(trainer, communicator: world) }
        let lead = (communicator?.rank ?? 0) == 0
        var generator: SeededGenerator? = SeededGenerator(seed: options.seed &+ 1)
        for epoch in 1...options.epochs {
            var bar = ProgressBar(title: "\(label)epoch \(epoch)/\(options.epochs)", total: (train.count + options.batchSize - 1) / options.batchSize)
            let start = Date()
            let averagedBefore = parallel?.averagingSeconds ?? 0
            let progress = { (done: Int, _: Int, examples: Int, loss: Double) in
                if lead { bar.update(done: done, examples: examples, loss: loss) }
            }
            let losses = try parallel?.trainEpoch(on: train, batchSize: options.batchSize, shuffling: &generator, progress: progress)
                ?? trainer.trainEpoch(on: train, batchSize: options.batchSize, shuffling: &generator, progress: progress)
            epochSeconds.append(Date().timeIntervalSince(start))
            stepLosses += losses
            epochLosses.append(losses.reduce(0.0) { $0 + Double($1) } / Double(max(losses.count, 1)))
            testAccuracies.append(try parallel?.evaluate(on: test).accuracy ?? trainer.evaluate(on: test).accuracy)
            guard lead else { continue }
            let averaging = parallel.map { p in
                let seconds = p.averagingSeconds - averagedBefore
                return " (\(String(format: "%.1f", seconds)) s, \(String(format: "%.0f", 100 * seconds / epochSeconds.last!))%, averaging gradients)"
            } ?? ""
            console.print("\(label)epoch \(epoch): train loss \(String(format: "%.4f", epochLosses.last!)), "
                + "test accuracy \(String(format: "%.2f", 100 * testAccuracies.last!))%, \(format(seconds: epochSeconds.last!))\(averaging)")
        }
    }
}
