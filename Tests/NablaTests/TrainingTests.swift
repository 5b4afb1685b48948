import Foundation
import Testing

@testable import Nabla
@testable import NablaCommand

/// Training on a Fashion-MNIST subset: fast enough for every test run.
@Suite struct TrainingTests {
    static let subset: LabeledImages<Float> = try! FashionMNIST.load(.train, limit: 2000)
    static let testSubset: LabeledImages<Float> = try! FashionMNIST.load(.test).prefix(2000)

    /// The MLP passes 80% test accuracy after a few hundred steps on 2,000 images.
    @Test func mlpLearnsOnASubset() {
        let network: NeuralNetwork<Float> = ModelKind.mlp.network(seed: 0, useAutodiff: false)
        let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters, learningRate: 1e-3))
        var generator: SeededGenerator? = SeededGenerator(seed: 1)
        for _ in 0..<10 { _ = trainer.trainEpoch(on: Self.subset, batchSize: 64, shuffling: &generator) }  // 320 steps
        let evaluation = trainer.evaluate(on: Self.testSubset)
        #expect(evaluation.accuracy > 0.80, "accuracy \(evaluation.accuracy)")
        #expect(evaluation.confusion.joined().reduce(0, +) == 2000)
    }

    /// Manual and autodiff training, same seed, in `Double`: the same losses for 50 steps.
    @Test func manualAndAutodiffTrainAlike() {
        let data = LabeledImages<Double>(
            images: Tensor(shape: Self.subset.images.shape, scalars: Self.subset.images.scalars.map(Double.init)),
            labels: Self.subset.labels, classNames: Self.subset.classNames)
        func losses(autodiff: Bool) -> [Double] {
            let network: NeuralNetwork<Double> = ModelKind.mlp.network(seed: 3, useAutodiff: autodiff, as: Double.self)
            let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters, learningRate: 1e-3))
            var generator: SeededGenerator? = SeededGenerator(seed: 4)
            return Array(trainer.trainEpoch(on: data, batchSize: 32, shuffling: &generator).prefix(50))
        }
        let (manual, autodiff) = (losses(autodiff: false), losses(autodiff: true))
        #expect(manual.count == 50)
        for (step, (a, b)) in zip(manual, autodiff).enumerated() {
            #expect(Swift.abs(a - b) <= 1e-4 * Swift.abs(a), "step \(step): \(a) vs \(b)")
        }
    }

    /// The CNN, manual and autodiff, in `Float`: same seed, same first losses to float precision.
    @Test func cnnPathsAgree() {
        let data = Self.subset.prefix(256)
        func losses(autodiff: Bool) -> [Float] {
            let network: NeuralNetwork<Float> = ModelKind.cnn.network(seed: 5, useAutodiff: autodiff)
            let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters, learningRate: 1e-3))
            var generator: SeededGenerator? = SeededGenerator(seed: 6)
            return trainer.trainEpoch(on: data, batchSize: 32, shuffling: &generator)
        }
        let (manual, autodiff) = (losses(autodiff: false), losses(autodiff: true))
        for (a, b) in zip(manual, autodiff) { #expect(Swift.abs(a - b) <= 1e-3 * Swift.abs(a)) }
    }

    /// The same seed gives bit-identical losses.
    @Test func seededRunsAreReproducible() {
        func losses() -> [Float] {
            let network: NeuralNetwork<Float> = ModelKind.mlp.network(seed: 7, useAutodiff: false)
            let trainer = ClassifierTrainer(network: network, optimizer: SGD(network.parameters, learningRate: 0.05, momentum: 0.9))
            var generator: SeededGenerator? = SeededGenerator(seed: 8)
            return trainer.trainEpoch(on: Self.subset.prefix(640), batchSize: 64, shuffling: &generator)
        }
        #expect(losses() == losses())
    }

    /// Saved, loaded and predicting: the same outputs as before saving.
    @Test func saveLoadPredict() throws {
        let network: NeuralNetwork<Float> = ModelKind.cnn.network(seed: 9, useAutodiff: false)
        let trainer = ClassifierTrainer(network: network, optimizer: Adam(network.parameters, learningRate: 1e-3))
        var generator: SeededGenerator? = SeededGenerator(seed: 10)
        _ = trainer.trainEpoch(on: Self.subset.prefix(128), batchSize: 32, shuffling: &generator)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Weights.save(network, model: .cnn, to: path)
        let (loaded, kind) = try Weights.load(from: path, model: nil)
        #expect(kind == .cnn)
        let batch = Self.testSubset.images.slice(alongAxis: 0, 0..<16)
        #expect(loaded.predict(batch) == network.predict(batch))
        #expect(try SafeTensors(contentsOf: path).entries.keys.sorted() == ["0.bias", "0.weight", "3.bias", "3.weight", "7.bias", "7.weight", "9.bias", "9.weight"])
    }
}

/// Command-line errors print one line and exit non-zero, with no stack trace.
@Suite struct CommandLineErrorTests {
    static func lines(_ result: ExitTest.Result?) -> [Substring] {
        standardError(result).split(separator: "\n")
    }

    @Test func badArgument() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["train", "--epochs", "0"])
        }
        #expect(Self.lines(result).first == "Error: --epochs must be at least 1")
    }

    @Test func unknownModel() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["train", "--model", "transformer"])
        }
        #expect(Self.lines(result).first?.hasPrefix("Error: The value 'transformer' is invalid for '--model <model>'") == true)
    }

    @Test func missingDataSet() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["train", "--data", "/nonexistent"])
        }
        let lines = Self.lines(result)
        #expect(lines == ["Error: /nonexistent/train-images-idx3-ubyte.gz: no such file (install the data set, or pass its folder)"])
    }

    @Test func corruptWeights() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-corrupt.safetensors").path
        try Data([200, 0, 0, 0, 0, 0, 0, 0, 0x7B]).write(to: URL(fileURLWithPath: path))
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["evaluate", "--weights", FileManager.default.temporaryDirectory.appendingPathComponent("nabla-corrupt.safetensors").path])
        }
        let lines = Self.lines(result)
        #expect(lines.count == 1 && lines.first?.contains("truncated: the header announces 200 bytes, 1 follow") == true, "\(lines)")
    }

    @Test func weightsOfAnotherModel() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-mlp.safetensors").path
        try Weights.save(ModelKind.mlp.network(seed: 0, useAutodiff: false), model: .mlp, to: path)
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            NablaCommand.main(["evaluate", "--model", "cnn", "--weights", FileManager.default.temporaryDirectory.appendingPathComponent("nabla-mlp.safetensors").path])
        }
        let lines = Self.lines(result)
        #expect(lines.count == 1 && lines.first?.contains("state does not match the layer: missing 0.bias, 0.weight") == true, "\(lines)")
    }
}
