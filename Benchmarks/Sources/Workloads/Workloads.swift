// Issue 11's workloads on Nabla's public API, shared by the `nabla-speed` runner (paired with
// `torch/workloads.py` by `make compare-torch`) and by the benchmark suite.

@_exported import BenchCatalog
import Nabla

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a result alive, so that the optimizer cannot drop the work that made it.
@inline(never)
public func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// The training images of Fashion-MNIST (`[N, 1, 28, 28]`, pixels / 255) in file order.
public func loadTrainingImages(
    from directory: String = FashionMNIST.defaultDirectory, limit: Int? = nil
) throws -> LabeledImages<Float> {
    try FashionMNIST.load(.train, from: directory, limit: limit, as: Float.self)
}

/// The MLP 784-256-128-10 with ReLU, or the CNN (conv3×3 1→32 pad 1, ReLU, maxpool 2, conv3×3
/// 32→64 pad 1, ReLU, maxpool 2, flatten, dense 3136→128, ReLU, dense 128→10), with PyTorch's
/// default initialization, on `[N, 1, 28, 28]` input.
public func comparisonNetwork(cnn: Bool, useAutodiff: Bool, seed: UInt64 = 0) -> NeuralNetwork<Float> {
    var g = SeededGenerator(seed: seed)
    let layers: [Layer<Float>] =
        cnn
        ? [
            Conv2D(inputChannels: 1, outputChannels: 32, kernelSize: 3, padding: 1, initialization: .pyTorchDefault, using: &g),
            ReLU(), MaxPool2D(kernelSize: 2),
            Conv2D(inputChannels: 32, outputChannels: 64, kernelSize: 3, padding: 1, initialization: .pyTorchDefault, using: &g),
            ReLU(), MaxPool2D(kernelSize: 2), Flatten(),
            Dense(inputSize: 3136, outputSize: 128, initialization: .pyTorchDefault, using: &g), ReLU(),
            Dense(inputSize: 128, outputSize: 10, initialization: .pyTorchDefault, using: &g),
        ]
        : [
            Flatten(),
            Dense(inputSize: 784, outputSize: 256, initialization: .pyTorchDefault, using: &g), ReLU(),
            Dense(inputSize: 256, outputSize: 128, initialization: .pyTorchDefault, using: &g), ReLU(),
            Dense(inputSize: 128, outputSize: 10, initialization: .pyTorchDefault, using: &g),
        ]
    // The layers fit by construction.
    return try! NeuralNetwork(NeuralNetworkArchitecture(inputShape: [1, 28, 28], layers: layers, useAutodiff: useAutodiff))
}

/// A workload ready to run: each ``iterate()`` is one timed iteration.
public final class PreparedWorkload: @unchecked Sendable {
    public let workload: ComparisonWorkload
    /// One iteration; returns the losses of its training steps (none for layers).
    private let body: () -> [Float]
    /// The loss of the first training step run (steps and epochs), to check that both libraries
    /// compute the same thing (≈ ln 10 ≈ 2.3 from PyTorch's default initialization).
    public private(set) var firstLoss: Float?
    /// The mean loss of the last iteration's steps.
    public private(set) var lastLoss: Float?

    init(_ workload: ComparisonWorkload, body: @escaping () -> [Float]) {
        self.workload = workload
        self.body = body
    }

    public func iterate() {
        let losses = body()
        guard !losses.isEmpty else { return }
        if firstLoss == nil { firstLoss = losses[0] }
        lastLoss = Float(losses.reduce(0.0) { $0 + Double($1) } / Double(losses.count))
    }
}

extension ComparisonWorkload {
    /// The batch size of a step or epoch.
    public var batchSize: Int? {
        switch self {
        case .mlpStep, .mlpEpoch: 128
        case .cnnStep, .cnnAutodiffStep, .cnnEpoch: 64
        default: nil
        }
    }

    /// How many training images it needs: steps cycle over their first 20 batches, epochs take
    /// all 60 000; layers need none.
    public var imagesNeeded: Int? {
        switch kind {
        case .layer: nil
        case .step: 20 * batchSize!
        case .epoch: Int.max
        }
    }

    /// Builds the layer or network, its inputs and optimizer. `images` must hold at least
    /// ``imagesNeeded`` images (all the training set for epochs); layers ignore it.
    public func prepare(images: LabeledImages<Float>? = nil) -> PreparedWorkload {
        switch self {
        case .dense784Forward, .dense784ForwardBackward, .dense1024Forward, .dense1024ForwardBackward:
            let (inputSize, outputSize) = self == .dense784Forward || self == .dense784ForwardBackward ? (784, 256) : (1024, 1024)
            var g = SeededGenerator(seed: 1)
            let layer = Dense<Float>(inputSize: inputSize, outputSize: outputSize, initialization: .pyTorchDefault, using: &g)
            return layerWorkload(layer, inputShape: [64, inputSize], generator: &g)
        case .conv1to32Forward, .conv1to32ForwardBackward, .conv32to64Forward, .conv32to64ForwardBackward:
            let first = self == .conv1to32Forward || self == .conv1to32ForwardBackward
            let (inputChannels, outputChannels, side) = first ? (1, 32, 28) : (32, 64, 14)
            var g = SeededGenerator(seed: 1)
            let layer = Conv2D<Float>(
                inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, padding: 1,
                initialization: .pyTorchDefault, using: &g)
            layer.computesInputGradient = !first
            return layerWorkload(layer, inputShape: [32, inputChannels, side, side], generator: &g)
        case .convTranspose128to64Forward, .convTranspose128to64ForwardBackward:
            var g = SeededGenerator(seed: 1)
            let layer = ConvTranspose2D<Float>(
                inputChannels: 128, outputChannels: 64, kernelSize: 4, stride: 2, padding: 1, using: &g)
            return layerWorkload(layer, inputShape: [64, 128, 7, 7], generator: &g)
        case .depthwise32ForwardBackward:
            var g = SeededGenerator(seed: 1)
            let layer = Conv2D<Float>(
                inputChannels: 32, outputChannels: 32, kernelSize: 3, padding: 1, groups: 32,
                initialization: .pyTorchDefault, using: &g)
            return layerWorkload(layer, inputShape: [32, 32, 28, 28], generator: &g)
        case .lstm2LayersForwardBackward, .lstmAutodiffForwardBackward:
            var g = SeededGenerator(seed: 1)
            let layer = LSTM<Float>(inputSize: 128, hiddenSize: 128, numLayers: 2, using: &g)
            layer.useAutodiff = self == .lstmAutodiffForwardBackward
            return layerWorkload(layer, inputShape: [35, 20, 128], generator: &g)
        case .mlpStep, .cnnStep, .cnnAutodiffStep:
            let trainer = self.trainer()
            var none: SeededGenerator? = nil
            let batches = images!.prefix(imagesNeeded!).batches(of: batchSize!, shuffling: &none)
            var next = 0
            return PreparedWorkload(self) {
                let batch = batches[next]
                next = (next + 1) % batches.count
                return [trainer.step(images: batch.images, labels: batch.labels)]
            }
        case .mlpEpoch, .cnnEpoch:
            let trainer = self.trainer()
            return PreparedWorkload(self) {
                var none: SeededGenerator? = nil
                return trainer.trainEpoch(on: images!, batchSize: batchSize!, shuffling: &none)
            }
        }
    }

    private func trainer() -> ClassifierTrainer<Float> {
        let network = comparisonNetwork(
            cnn: self == .cnnStep || self == .cnnAutodiffStep || self == .cnnEpoch,
            useAutodiff: self == .cnnAutodiffStep)
        return ClassifierTrainer(network: network, optimizer: Adam(network.parameters, learningRate: 1e-3))
    }

    /// Forward, or zero grads + forward + backward with a random upstream gradient.
    private func layerWorkload(
        _ layer: Layer<Float>, inputShape: [Int], generator g: inout SeededGenerator
    ) -> PreparedWorkload {
        let input = Tensor<Float>.randomUniform(shape: inputShape, in: -1..<1, using: &g)
        let outputShape = layer.forward(input).shape
        let upstream = Tensor<Float>.randomUniform(shape: outputShape, in: -1..<1, using: &g)
        layer.zeroGradients()
        let backward = rawValue.hasSuffix("fwdbwd")
        return PreparedWorkload(self) {
            if backward {
                layer.zeroGradients()
                _ = layer.forward(input)
                consume(layer.backward(upstream))
                consume(layer.parameters.map(\.gradient))
            } else {
                consume(layer.forward(input))
            }
            return []
        }
    }
}

/// The peak resident memory of this process so far, in MiB.
public func maxResidentMebibytes() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if canImport(Darwin)
    return Double(usage.ru_maxrss) / 1_048_576  // bytes
    #else
    return Double(usage.ru_maxrss) / 1024  // KiB
    #endif
}
