/// Trains a classifier: forward, cross-entropy, backward and an optimizer step per batch.
///
/// On the network's manual path the loss gradient is the hand-written one; with
/// ``NeuralNetwork/useAutodiff`` the loss is differentiated by a tape too, so a whole autodiff
/// step runs no hand-written backward.
public final class ClassifierTrainer<Scalar: TensorScalar> {
    public let network: NeuralNetwork<Scalar>
    public let optimizer: Optimizer<Scalar>
    public let loss: CrossEntropyLoss<Scalar>
    /// Clip the gradients to this global norm before each step, if set.
    public var maxGradientNorm: Scalar?
    /// The learning rate at each step, if set; otherwise the optimizer's stays.
    public var schedule: (any LearningRateSchedule<Scalar>)?

    public init(
        network: NeuralNetwork<Scalar>, optimizer: Optimizer<Scalar>,
        loss: CrossEntropyLoss<Scalar> = .init()
    ) {
        self.network = network
        self.optimizer = optimizer
        self.loss = loss
    }

    /// One training step on `images` `[B] + inputShape` with their labels: ``computeGradients(images:labels:)``
    /// then ``applyGradients()``. Returns the loss.
    @discardableResult
    public func step(images: Tensor<Scalar>, labels: [Int]) -> Scalar {
        let value = computeGradients(images: images, labels: labels)
        applyGradients()
        return value
    }

    /// The first half of a step: zeroes the gradients, then forward, loss and backward on
    /// `images` `[B] + inputShape`, leaving each parameter the gradient of the mean loss. Returns
    /// the loss. A data-parallel trainer averages the gradients across processes before
    /// ``applyGradients()``.
    @discardableResult
    public func computeGradients(images: Tensor<Scalar>, labels: [Int]) -> Scalar {
        network.zeroGradients()
        let logits = LearningPhase.training { network.forward(images) }
        let (value, gradient) = lossAndGradient(logits, labels)
        network.backward(gradient)
        return value
    }

    /// The second half of a step: clips the gradients (with ``maxGradientNorm``), sets the
    /// scheduled learning rate, and takes the optimizer step.
    public func applyGradients() {
        if let maxGradientNorm { _ = optimizer.clipGradients(maxNorm: maxGradientNorm) }
        if let schedule { optimizer.learningRate = schedule.learningRate(atStep: optimizer.stepCount) }
        optimizer.step()
    }

    /// The loss and its gradient with respect to the logits, on the network's path.
    func lossAndGradient(_ logits: Tensor<Scalar>, _ labels: [Int]) -> (Scalar, Tensor<Scalar>) {
        guard network.useAutodiff else { return loss.valueAndGradient(logits, target: labels) }
        let tape = GradientTape<Scalar>()
        let x = TensorOperations.variable(logits)
        tape.watch(x)
        let value = tape.record { loss(x, target: labels) }
        return (value.value.scalar, tape.gradient(of: value, withRespectTo: [x])[0].value)
    }

    /// One pass over `data` in seeded random order; `progress` hears after each batch
    /// `(batches done, batches, examples done, mean loss so far)`. Returns each step's loss.
    public func trainEpoch(
        on data: LabeledImages<Scalar>, batchSize: Int, shuffling generator: inout SeededGenerator?,
        progress: ((Int, Int, Int, Double) -> Void)? = nil
    ) -> [Scalar] {
        let batches = data.batches(of: batchSize, shuffling: &generator)
        var losses: [Scalar] = []
        var examples = 0
        for (index, batch) in batches.enumerated() {
            losses.append(step(images: batch.images, labels: batch.labels))
            examples += batch.labels.count
            let mean = losses.reduce(0.0) { $0 + Double($1) } / Double(losses.count)
            progress?(index + 1, batches.count, examples, mean)
        }
        return losses
    }

    /// Accuracy, mean loss and confusion matrix on `data`, in inference.
    public func evaluate(on data: LabeledImages<Scalar>, batchSize: Int = 500) -> Evaluation {
        Self.evaluate(network, on: data, batchSize: batchSize, loss: loss)
    }

    /// Accuracy, mean loss and confusion matrix of `network` on `data`, in inference.
    public static func evaluate(
        _ network: NeuralNetwork<Scalar>, on data: LabeledImages<Scalar>, batchSize: Int = 500,
        loss: CrossEntropyLoss<Scalar> = .init()
    ) -> Evaluation {
        let classes = data.classNames.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var totalLoss = 0.0
        var none: SeededGenerator? = nil
        for batch in data.batches(of: batchSize, shuffling: &none) {
            let logits = network.predict(batch.images)
            totalLoss += Double(loss.valueAndGradient(logits, target: batch.labels).value) * Double(batch.labels.count)
            for (label, predicted) in zip(batch.labels, logits.argmax(alongAxis: 1)) {
                confusion[label][predicted] += 1
            }
        }
        let correct = (0..<classes).map { confusion[$0][$0] }.reduce(0, +)
        return Evaluation(
            accuracy: data.count == 0 ? 0 : Double(correct) / Double(data.count),
            loss: data.count == 0 ? 0 : totalLoss / Double(data.count), confusion: confusion)
    }

    /// The result of ``evaluate(on:batchSize:)``.
    public struct Evaluation: Sendable {
        /// The fraction of correct predictions.
        public var accuracy: Double
        /// The mean cross-entropy.
        public var loss: Double
        /// `confusion[label][predicted]`: how many images of each class went to each class.
        public var confusion: [[Int]]
    }
}
