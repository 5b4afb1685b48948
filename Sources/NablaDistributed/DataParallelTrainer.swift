import Dispatch
import Nabla

/// Data-parallel training of a classifier over the ranks of an MPI job, in the style of
/// PyTorch's `DistributedDataParallel`: each rank runs the same network on its own shard of
/// every batch, and the gradients are averaged across the ranks before every optimizer step, so
/// that all ranks take the same step, the one a single process would take on the whole batch.
///
/// At start every rank checks that all ranks hold the same parameter and buffer names and shapes
/// (an allgather of their fingerprint), and rank 0's values are broadcast to the others.
///
/// Gradients are averaged in buckets of at most ``bucketCapacity`` bytes (a larger parameter is a
/// bucket of its own), filled in reverse parameter order, the order the backward produces them.
/// A bucket's allreduce starts, without waiting, as soon as the backward has finished every layer
/// that holds its parameters (`Layer.backwardObserver`), so communication overlaps the rest of
/// the backward, on the manual and the autodiff path alike; the step waits for them all before the
/// optimizer runs. Every rank builds the same bucket plan from the same parameter list and runs
/// the same backward, so the allreduces start in the same order on every rank by construction.
public final class DataParallelTrainer<Scalar: TensorScalar> {
    public let communicator: Communicator
    public let trainer: ClassifierTrainer<Scalar>
    /// The largest bucket, in bytes: PyTorch's default, 25 MiB.
    public let bucketCapacity: Int
    /// Parameter indices per bucket, in plan order (reverse parameter order).
    public let buckets: [[Int]]
    /// The seconds spent averaging gradients (packing, waiting in the allreduces, unpacking)
    /// since this trainer was made.
    public private(set) var averagingSeconds: Double = 0
    /// How many buckets of the last step started before its backward ended.
    public private(set) var bucketsStartedDuringBackward = 0

    /// Each parameter's bucket, by parameter index; and each parameter's index, by identity.
    private let bucketOfParameter: [Int]
    private let parameterIndex: [ObjectIdentifier: Int]
    /// Buckets holding a parameter that several layers share: complete only when the backward is.
    private var sharedBuckets: Set<Int> = []
    /// The step in flight: parameters still to come per bucket, the allreduces started (in the
    /// order they started), this rank's weight, and the first error of an allreduce started
    /// during the backward.
    private var inStep = false
    private var remaining: [Int] = []
    private var inFlight: [(bucket: Int, pending: PendingAllreduce<Scalar>, shapes: [[Int]])] = []
    private var stepWeight: Scalar = 1
    private var failure: MPIError?

    /// Checks that every rank's network has the same names and shapes, then broadcasts rank 0's
    /// parameters and buffers.
    ///
    /// - Throws: ``MPIError`` naming the first rank, parameter and shapes that differ from rank
    ///   0's (every rank throws the same), or a failed collective.
    public init(
        _ trainer: ClassifierTrainer<Scalar>, communicator: Communicator, bucketCapacity: Int = 25 << 20
    ) throws(MPIError) {
        self.trainer = trainer
        self.communicator = communicator
        self.bucketCapacity = bucketCapacity
        let parameters = trainer.network.parameters
        let buckets = Self.plan(parameters.map { $0.value.scalarCount * MemoryLayout<Scalar>.stride }, capacity: bucketCapacity)
        self.buckets = buckets
        var bucketOfParameter = [Int](repeating: 0, count: parameters.count)
        for (bucket, indices) in buckets.enumerated() { for index in indices { bucketOfParameter[index] = bucket } }
        self.bucketOfParameter = bucketOfParameter
        parameterIndex = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { (ObjectIdentifier($1), $0) })
        try checkSameLayout()
        for parameter in parameters {
            var value = parameter.value
            try communicator.broadcast(&value, from: 0)
            parameter.value = value
        }
        for (_, buffer) in trainer.network.namedBuffers {
            try communicator.broadcast(&buffer.value, from: 0)
        }
        var holders = [Int](repeating: 0, count: parameters.count)
        trainer.network.body.apply { [weak self] layer in
            guard !layer.isContainer, !layer.parameters.isEmpty else { return }
            for parameter in layer.parameters { if let index = self?.parameterIndex[ObjectIdentifier(parameter)] { holders[index] += 1 } }
            layer.backwardObserver = { layer in self?.parametersReady(layer.parameters) }
        }
        sharedBuckets = Set(holders.indices.filter { holders[$0] != 1 }.map { bucketOfParameter[$0] })
    }

    /// Buckets of parameter indices in reverse order, each at most `capacity` bytes unless one
    /// parameter alone is larger.
    static func plan(_ sizes: [Int], capacity: Int) -> [[Int]] {
        var buckets: [[Int]] = [], current: [Int] = [], filled = 0
        for index in sizes.indices.reversed() {
            if !current.isEmpty && filled + sizes[index] > capacity {
                buckets.append(current)
                (current, filled) = ([], 0)
            }
            current.append(index)
            filled += sizes[index]
        }
        if !current.isEmpty { buckets.append(current) }
        return buckets
    }

    /// One step on this rank's shard: gradients (their buckets' allreduces starting during the
    /// backward), their average over the ranks, the optimizer step. Returns this rank's loss.
    @discardableResult
    public func step(images: Tensor<Scalar>, labels: [Int]) throws(MPIError) -> Scalar {
        beginStep(weight: 1)
        let value = trainer.computeGradients(images: images, labels: labels)
        try finishStep()
        trainer.applyGradients()
        return value
    }

    /// Replaces every parameter's gradient by its mean over the ranks, all buckets now (for a
    /// backward run outside ``step(images:labels:)``).
    ///
    /// - Parameter weight: this rank's share of the batch times the rank count (1 when every
    ///   rank has as many images), so that unequal shards still average to the whole batch's mean.
    public func averageGradients(weight: Scalar = 1) throws(MPIError) {
        beginStep(weight: weight)
        try finishStep()
    }

    /// Opens a step: every bucket waits for all its parameters.
    func beginStep(weight: Scalar) {
        inStep = true
        remaining = buckets.indices.map { sharedBuckets.contains($0) ? Int.max : buckets[$0].count }
        inFlight = []
        stepWeight = weight
        failure = nil
        bucketsStartedDuringBackward = 0
    }

    /// Starts the buckets the backward did not complete (in plan order), waits for every
    /// allreduce, and sets each gradient to the mean over the ranks.
    func finishStep() throws(MPIError) {
        defer { inStep = false }
        let started = DispatchTime.now().uptimeNanoseconds
        defer { averagingSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        bucketsStartedDuringBackward = inFlight.count
        if let failure { throw failure }
        let begun = Set(inFlight.map(\.bucket))
        for bucket in buckets.indices where !begun.contains(bucket) { try startBucket(bucket) }
        let parameters = trainer.network.parameters
        for (bucket, pending, shapes) in inFlight {
            let sum = try pending.wait() / Scalar(communicator.size)
            var offset = 0
            for (index, shape) in zip(buckets[bucket], shapes) {
                let count = shape.reduce(1, *)
                parameters[index].gradient = sum.slice(alongAxis: 0, offset..<(offset + count)).reshaped(to: shape)
                offset += count
            }
        }
    }

    /// The backward finished a layer holding `ready`: a bucket with nothing more to wait for starts.
    private func parametersReady(_ ready: [Parameter<Scalar>]) {
        guard inStep, failure == nil else { return }
        do throws(MPIError) {
            for parameter in ready {
                guard let index = parameterIndex[ObjectIdentifier(parameter)] else { continue }
                let bucket = bucketOfParameter[index]
                remaining[bucket] -= 1
                if remaining[bucket] == 0 { try startBucket(bucket) }
            }
            for (_, pending, _) in inFlight { _ = try pending.poll() }  // MPI progresses only when called
        } catch {
            failure = error
        }
    }

    /// Packs a bucket's gradients (times this rank's weight) and starts their allreduce.
    private func startBucket(_ bucket: Int) throws(MPIError) {
        let parameters = trainer.network.parameters
        let gradients = buckets[bucket].map { parameters[$0].gradient ?? .zeros(shape: parameters[$0].value.shape) }
        var packed = Tensor(concatenating: gradients.map { $0.reshaped(to: [$0.scalarCount]) }, alongAxis: 0)
        if stepWeight != 1 { packed = packed * stepWeight }
        inFlight.append((bucket, try communicator.startAllreduceSum(packed), gradients.map(\.shape)))
    }

    /// Every rank's parameter and buffer names and shapes against rank 0's, through an allgather
    /// of one fingerprint per rank and then, only if they differ, of the layouts themselves.
    private func checkSameLayout() throws(MPIError) {
        let layout = trainer.network.namedParameters.map { ($0.name, $0.parameter.value.shape) }
            + trainer.network.namedBuffers.map { ($0.name, $0.buffer.value.shape) }
        let text = layout.map { "\($0.0) \($0.1)" }.joined(separator: "\n")
        let fingerprints = try communicator.allgather([Self.fingerprint(text), Int64(layout.count)])
        guard let different = fingerprints.firstIndex(where: { $0 != fingerprints[0] }) else { return }
        // Name the first difference: every rank gathers every rank's layout, one entry at a time.
        let count = Int(fingerprints.map { $0[1] }.max()!)
        for entry in 0..<count {
            let mine = entry < layout.count ? layout[entry] : ("(none)", [])
            let gathered = try communicator.allgather(
                [Self.fingerprint("\(mine.0) \(mine.1)")] + (0..<4).map { Int64($0 < mine.1.count ? mine.1[$0] : -1) })
            guard let rank = gathered.firstIndex(where: { $0 != gathered[0] }) else { continue }
            throw MPIError(
                "DataParallelTrainer",
                "parameter \(mine.0) (entry \(entry)): rank \(rank) has \(Self.describe(gathered[rank])), "
                    + "rank 0 has \(Self.describe(gathered[0]))")
        }
        throw MPIError("DataParallelTrainer", "rank \(different)'s parameters differ from rank 0's in number")
    }

    private static func describe(_ entry: [Int64]) -> String {
        "shape [\(entry.dropFirst().filter { $0 >= 0 }.map(String.init).joined(separator: ", "))]"
    }

    /// FNV-1a of `text`'s bytes, the same on every rank.
    private static func fingerprint(_ text: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int64(bitPattern: hash)
    }
}

/// Each rank's share of a batch, as PyTorch's `DistributedSampler` deals an epoch's indices:
/// rank `r` of `size` takes positions `r, r + size, r + 2·size, …`.
public enum DistributedSampler {
    /// The positions of `count` that rank `rank` of `size` takes.
    public static func shard(_ count: Int, rank: Int, size: Int) -> [Int] {
        Array(stride(from: rank, to: count, by: size))
    }
}

extension DataParallelTrainer {
    /// Rank `rank`'s share of a batch, as ``DistributedSampler`` deals it.
    public func shard(_ batch: LabeledImages<Scalar>.Batch) -> LabeledImages<Scalar>.Batch {
        let positions = DistributedSampler.shard(batch.labels.count, rank: communicator.rank, size: communicator.size)
        return .init(images: gatherRows(batch.images, positions), labels: positions.map { batch.labels[$0] })
    }

    /// One pass over `data` in an order every rank draws alike from the same seed: each batch of
    /// `batchSize` images (over all ranks) dealt to the ranks, one averaged step per batch.
    /// `progress` hears after each batch `(batches done, batches, examples done, mean loss so
    /// far)`. Returns each step's loss, averaged over the ranks.
    public func trainEpoch(
        on data: LabeledImages<Scalar>, batchSize: Int, shuffling generator: inout SeededGenerator?,
        progress: ((Int, Int, Int, Double) -> Void)? = nil
    ) throws(MPIError) -> [Scalar] {
        let batches = data.batches(of: batchSize, shuffling: &generator)
        var losses: [Scalar] = []
        var examples = 0
        for (index, batch) in batches.enumerated() {
            let part = shard(batch)
            beginStep(weight: Scalar(part.labels.count) * Scalar(communicator.size) / Scalar(batch.labels.count))
            // A rank with no image of a short last batch still joins the allreduces, with zero gradients.
            let local = part.labels.isEmpty ? 0 : trainer.computeGradients(images: part.images, labels: part.labels)
            if part.labels.isEmpty { trainer.network.zeroGradients() }
            try finishStep()
            trainer.applyGradients()
            var loss = Tensor<Scalar>([local * Scalar(part.labels.count)])
            try communicator.allreduceSum(&loss)
            losses.append(loss.scalars[0] / Scalar(batch.labels.count))
            examples += batch.labels.count
            progress?(index + 1, batches.count, examples, losses.reduce(0.0) { $0 + Double($1) } / Double(losses.count))
        }
        return losses
    }

    /// The accuracy and mean loss on `data`, each rank evaluating its share and the counts summed.
    public func evaluate(on data: LabeledImages<Scalar>, batchSize: Int = 500) throws(MPIError) -> (accuracy: Double, loss: Double) {
        let positions = DistributedSampler.shard(data.count, rank: communicator.rank, size: communicator.size)
        let mine = LabeledImages(
            images: gatherRows(data.images, positions), labels: positions.map { data.labels[$0] }, classNames: data.classNames)
        let local = mine.count == 0 ? nil : ClassifierTrainer.evaluate(trainer.network, on: mine, batchSize: batchSize)
        var totals = Tensor<Double>([
            (local?.accuracy ?? 0) * Double(mine.count), (local?.loss ?? 0) * Double(mine.count), Double(mine.count),
        ])
        try communicator.allreduceSum(&totals)
        return (totals.scalars[0] / totals.scalars[2], totals.scalars[1] / totals.scalars[2])
    }
}
