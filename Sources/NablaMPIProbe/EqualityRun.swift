import Nabla
import NablaDistributed

/// The equality run: a small CNN without BatchNorm, in `Double`, trained with SGD and momentum
/// (whose steps scale with the gradient, unlike Adam's, so a wrong average shows) for
/// ``steps`` steps on batches of ``batchSize`` seeded random images. Run on one process with
/// whole batches, or on several ranks with ``DataParallelTrainer`` and each rank's shard; the
/// parameters must agree after every step.
enum EqualityRun {
    static let steps = 5
    static let batchSize = 8

    /// The network, with a batch normalization after the convolution when `normalization` is
    /// given: ``BatchNorm`` for one process, ``SyncBatchNorm`` on ranks.
    static func trainer(autodiff: Bool, normalization: (() -> Layer<Double>)? = nil) -> ClassifierTrainer<Double> {
        var g = SeededGenerator(seed: 3)
        let layers: [Layer<Double>] = [Conv2D(inputChannels: 1, outputChannels: 3, kernelSize: 3, padding: 1, using: &g)]
            + (normalization.map { [$0()] } ?? [])
            + [Tanh(), Flatten(), Dense(inputSize: 3 * 6 * 6, outputSize: 4, using: &g)]
        let network = try! NeuralNetwork(NeuralNetworkArchitecture(inputShape: [1, 6, 6], layers: layers, useAutodiff: autodiff))
        return ClassifierTrainer(network: network, optimizer: SGD(network.parameters, learningRate: 0.1, momentum: 0.9))
    }

    /// The whole batch of step `step`: `[batchSize, 1, 6, 6]` images and their labels.
    static func batch(_ step: Int) -> (images: Tensor<Double>, labels: [Int]) {
        var g = SeededGenerator(seed: 100 + UInt64(step))
        let images = Tensor<Double>.randomUniform(shape: [batchSize, 1, 6, 6], in: -1..<1, using: &g)
        return (images, (0..<batchSize).map { ($0 * 7 + step) % 4 })
    }

    /// Rank `rank`'s share of `batch`, dealt as ``DistributedSampler`` deals.
    static func shard(_ batch: (images: Tensor<Double>, labels: [Int]), rank: Int, size: Int) -> (Tensor<Double>, [Int]) {
        let positions = DistributedSampler.shard(batch.labels.count, rank: rank, size: size)
        let rows = batch.images.unstacked(alongAxis: 0)
        return (Tensor(stacking: positions.map { rows[$0] }, alongAxis: 0), positions.map { batch.labels[$0] })
    }

    /// Every parameter's scalars, in order, then every buffer's (running statistics).
    static func parameters(_ trainer: ClassifierTrainer<Double>) -> [[Double]] {
        trainer.network.parameters.map(\.value.scalars) + trainer.network.namedBuffers.map(\.buffer.value.scalars)
    }

    /// A line per parameter for one step, the scalars as exact bit patterns.
    static func lines(step: Int, _ values: [[Double]]) -> [String] {
        values.enumerated().map { index, scalars in
            "step \(step) parameter \(index) " + scalars.map { String($0.bitPattern, radix: 16) }.joined(separator: ",")
        }
    }

    /// Reads ``lines(step:_:)`` back: `[step][parameter][scalar]`.
    static func parse(_ output: String) -> [Int: [Int: [Double]]] {
        var result: [Int: [Int: [Double]]] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("step ") {
            let words = line.split(separator: " ")
            guard words.count == 5, let step = Int(words[1]), let index = Int(words[3]) else { continue }
            result[step, default: [:]][index] = words[4].split(separator: ",").map { Double(bitPattern: UInt64($0, radix: 16)!) }
        }
        return result
    }

    /// The ranks' side: every step on this rank's shard; rank 0 prints the parameters after each.
    static func runOnRanks(autodiff: Bool, synchronizedBatchNorm: Bool = false) throws(MPIError) -> [String] {
        let world = try Communicator.world()
        let normalization: (() -> Layer<Double>)? = synchronizedBatchNorm ? { SyncBatchNorm(featureCount: 3, communicator: world) } : nil
        let parallel = try DataParallelTrainer(
            trainer(autodiff: autodiff, normalization: normalization), communicator: world, bucketCapacity: 256)
        var output: [String] = []
        for step in 0..<steps {
            let (images, labels) = shard(batch(step), rank: world.rank, size: world.size)
            try parallel.step(images: images, labels: labels)
            if world.rank == 0 {
                output += lines(step: step, parameters(parallel.trainer))
            }
        }
        if world.rank == 0 {
            output.append("buckets started during the backward: \(parallel.bucketsStartedDuringBackward) of \(parallel.buckets.count)")
        }
        try world.barrier()
        try world.finalize()
        return output
    }
}
