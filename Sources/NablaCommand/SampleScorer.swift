import Foundation
import Nabla

/// Rates generated Fashion-MNIST images with Nabla's own CNN classifier, as FID rates images
/// with Inception: the Fréchet distance between the Gaussians of the classifier's 128 penultimate
/// features (after the last hidden ReLU) on generated and on real test images, and the classes
/// the classifier sees in the generated ones.
struct SampleScorer {
    let classifier: NeuralNetwork<Float>
    /// The real test images' feature statistics.
    let reference: GaussianStatistics
    let classNames: [String]

    /// The layers up to the features: the CNN without its last `Dense`.
    static let featureDepth = 9

    /// A scorer whose classifier is loaded from `path`, or trained (the `cnn` model, Adam, 2
    /// epochs, seed 0) and saved there if the file does not exist; `test` holds the real images
    /// in [0, 1].
    init(classifierAt path: String, train: LabeledImages<Float>, test: LabeledImages<Float>) throws {
        let console = Console.current
        if FileManager.default.fileExists(atPath: path) {
            classifier = try Weights.load(from: path, model: .cnn).0
            console.print("Scoring classifier: \(path)")
        } else {
            classifier = ModelKind.cnn.network(seed: 0, useAutodiff: false)
            let trainer = ClassifierTrainer(network: classifier, optimizer: Adam(classifier.parameters, learningRate: 1e-3))
            var shuffle: SeededGenerator? = SeededGenerator(seed: 1)
            for epoch in 1...2 {
                var bar = ProgressBar(title: "scoring classifier, epoch \(epoch)/2", total: (train.count + 127) / 128)
                _ = trainer.trainEpoch(on: train, batchSize: 128, shuffling: &shuffle) { done, _, examples, loss in
                    bar.update(done: done, examples: examples, loss: loss)
                }
            }
            try Weights.save(classifier, model: .cnn, to: path)
            console.print("Trained the scoring classifier (cnn, 2 epochs) and saved it to \(path)")
        }
        let accuracy = ClassifierTrainer.evaluate(classifier, on: test).accuracy
        console.print("Scoring classifier's test accuracy: \(String(format: "%.2f", 100 * accuracy))%")
        classNames = test.classNames
        reference = try GaussianStatistics(features: Self.features(of: test.images, classifier: classifier))
    }

    /// The penultimate features `[N, 128]` of images `[N, 1, 28, 28]` in [0, 1], in inference.
    static func features(of images: Tensor<Float>, classifier: NeuralNetwork<Float>) -> Tensor<Float> {
        let layers = classifier.layers.prefix(featureDepth)
        return LearningPhase.inference {
            batched(images) { batch in layers.reduce(batch) { $1.forward($0) } }
        }
    }

    /// `body` on batches of 500 along the first axis, the results concatenated.
    static func batched(_ images: Tensor<Float>, _ body: (Tensor<Float>) -> Tensor<Float>) -> Tensor<Float> {
        let count = images.shape[0]
        let parts = stride(from: 0, to: count, by: 500).map { body(images.slice(alongAxis: 0, $0..<min($0 + 500, count))) }
        return Tensor(shape: [count] + parts[0].shape.dropFirst(), scalars: parts.flatMap(\.scalars))
    }

    /// What the scorer says of a set of images.
    struct Score {
        /// The Fréchet distance to the test images' features.
        var frechetDistance: Double
        /// Images per class, by the classifier's prediction.
        var classCounts: [Int]
    }

    /// Scores images `[N, 1, 28, 28]` (N ≥ 2) with values in [-1, 1], as the generator's Tanh
    /// gives them.
    func score(generated images: Tensor<Float>) throws -> Score {
        let unit = (images + 1) / 2
        let distance = try GaussianStatistics(features: Self.features(of: unit, classifier: classifier))
            .frechetDistance(to: reference)
        let logits = LearningPhase.inference { Self.batched(unit) { classifier.forward($0) } }
        var counts = [Int](repeating: 0, count: classNames.count)
        let classes = classNames.count
        let scalars = logits.scalars
        for row in 0..<images.shape[0] {
            let row = scalars[(row * classes)..<((row + 1) * classes)]
            counts[row.indices.max { row[$0] < row[$1] }! - row.startIndex] += 1
        }
        return Score(frechetDistance: distance, classCounts: counts)
    }

    /// One line per class: its name, its share of the images and a bar.
    func histogram(_ counts: [Int]) -> String {
        let total = max(counts.reduce(0, +), 1)
        return zip(classNames, counts).map { name, count in
            let share = Double(count) / Double(total)
            return name.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(format: "%5.1f%% ", 100 * share) + String(repeating: "█", count: Int((share * 100).rounded()) / 2)
        }.joined(separator: "\n")
    }
}
