import ArgumentParser
import Foundation
import Nabla
import NablaDistributed

/// `nabla train`: trains a model on Fashion-MNIST with a live progress bar.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on Fashion-MNIST, reporting the loss and the test accuracy after each epoch.")

    @OptionGroup var options: TrainingOptions

    @Flag(help: "Use the autodiff backward in every layer instead of the hand-written one.")
    var autodiff = false

    @Option(help: "Save the weights (safetensors, PyTorch's names) here; the optimizer state goes beside it.")
    var save: String?

    @Option(help: "Write the loss and accuracy curves here (SVG).")
    var plot: String?

    @Flag(help: "Train data-parallel on the ranks of `mpirun -np N nabla train --distributed …`; --batch-size is the batch over all ranks.")
    var distributed = false

    @Option(help: "Write each step's training loss here (CSV: step,loss), to compare runs.")
    var losses: String?

    func validate() throws {
        try OutputPath.check(save, option: "--save")
        try OutputPath.check(plot, option: "--plot")
        try OutputPath.check(losses, option: "--losses")
    }

    /// Writes `run`'s step losses as CSV, atomically.
    func writeLosses<Scalar>(_ run: TrainingRun<Scalar>) throws {
        guard let losses else { return }
        let lines = ["step,loss"] + run.stepLosses.enumerated().map { "\($0 + 1),\($1)" }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: losses), options: .atomic)
        console.print("Wrote \(losses)")
    }

    func run() throws {
        options.applyThreads()
        if distributed { return try runDistributed() }
        let (train, test) = try options.loadData()
        console.print("Training \(options.model) on \(train.count) images (\(autodiff ? "autodiff" : "manual") backward, "
            + "\(options.optimizer) lr \(options.lr), batch \(options.batchSize), seed \(options.seed), \(BLAS.threadCount) BLAS threads)")
        let run = try TrainingRun(options, useAutodiff: autodiff, train: train, test: test, label: "")
        try writeLosses(run)
        if let save {
            try Weights.save(run.network, model: options.model, to: save)
            var state = SafeTensors(metadata: ["step": "\(run.optimizer.stepCount)", "learning_rate": "\(run.optimizer.learningRate)"])
            for (name, tensor) in run.optimizer.saveState().tensors { state.set(name, tensor) }
            try state.write(to: Weights.optimizerPath(for: save))
            console.print("Saved the weights to \(save) and the optimizer state to \(Weights.optimizerPath(for: save))")
        }
        if let plot {
            try SVGPlot(panels: [
                .init(title: "Training loss per step", xLabel: "step", series: [
                    .init(name: "loss", points: run.stepLosses.enumerated().map { (Double($0), Double($1)) }, color: "#1f77b4")]),
                .init(title: "Test accuracy", xLabel: "epoch", series: [
                    .init(name: "accuracy", points: run.testAccuracies.enumerated().map { (Double($0 + 1), $1) }, color: "#d62728")]),
            ]).write(to: plot)
            console.print("Wrote \(plot)")
        }
    }
}

extension Train {
    /// Data-parallel training: every rank runs the model on its share of each batch and the
    /// gradients are averaged before each step; only rank 0 prints, draws the bar and writes.
    func runDistributed() throws {
        let world = try Communicator.world()
        defer { try? world.finalize() }
        let (train, test) = try options.loadData()
        let lead = world.rank == 0
        if lead {
            console.print("Training \(options.model) on \(train.count) images across \(world.size) ranks (\(autodiff ? "autodiff" : "manual") backward, "
                + "\(options.optimizer) lr \(options.lr), batch \(options.batchSize) over all ranks, seed \(options.seed), "
                + "\(BLAS.threadCount) BLAS thread\(BLAS.threadCount == 1 ? "" : "s") per rank)")
        }
        let run = try TrainingRun(options, useAutodiff: autodiff, train: train, test: test, label: "", communicator: world)
        guard lead else { return }
        try writeLosses(run)
        if let save {
            try Weights.save(run.network, model: options.model, to: save)
            console.print("Saved the weights to \(save)")
        }
        if let plot {
            try SVGPlot(panels: [
                .init(title: "Training loss per step (\(world.size) ranks)", xLabel: "step", series: [
                    .init(name: "loss", points: run.stepLosses.enumerated().map { (Double($0), Double($1)) }, color: "#1f77b4")]),
                .init(title: "Test accuracy", xLabel: "epoch", series: [
                    .init(name: "accuracy", points: run.testAccuracies.enumerated().map { (Double($0 + 1), $1) }, color: "#d62728")]),
            ]).write(to: plot)
            console.print("Wrote \(plot)")
        }
    }
}

/// Saving and loading a model's weights with the model kind in the metadata.
enum Weights {
    static func save(_ network: NeuralNetwork<Float>, model: ModelKind, to path: String) throws {
        var file = SafeTensors(metadata: ["format": "pt", "nabla_model": model.rawValue])
        network.body.saveState(into: &file)
        try file.write(to: path)
    }

    /// The network stored at `path`, built from the model kind its metadata names.
    static func load(from path: String, model: ModelKind?) throws -> (NeuralNetwork<Float>, ModelKind) {
        let file = try SafeTensors(contentsOf: path)
        guard let kind = model ?? file.metadata["nabla_model"].flatMap(ModelKind.init(rawValue:)) else {
            throw InputError("\(path) does not say which model it holds; pass --model")
        }
        let network = kind.network(seed: 0, useAutodiff: false)
        try network.body.loadState(from: file)
        return (network, kind)
    }

    static func optimizerPath(for path: String) -> String {
        (path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path) + ".optimizer.safetensors"
    }
}

/// `nabla evaluate`: the test accuracy of saved weights, with a confusion matrix.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate saved weights on the Fashion-MNIST test set.")

    @Option(help: "The weights, as `nabla train --save` wrote them (or a PyTorch state dict in safetensors).")
    var weights: String

    @Option(help: "The model, if the file does not say.")
    var model: ModelKind?

    @Option(help: "The Fashion-MNIST folder.")
    var data = FashionMNIST.defaultDirectory

    func run() throws {
        let (network, kind) = try Weights.load(from: weights, model: model)
        let test = try FashionMNIST.load(.test, from: data, as: Float.self)
        let evaluation = ClassifierTrainer.evaluate(network, on: test)
        console.print("\(kind) from \(weights): test accuracy \(String(format: "%.2f", 100 * evaluation.accuracy))%, "
            + "loss \(String(format: "%.4f", evaluation.loss)) on \(test.count) images")
        console.print()
        console.print(confusionTable(evaluation.confusion, names: test.classNames))
    }

    /// Rows are the true classes, columns the predictions.
    func confusionTable(_ confusion: [[Int]], names: [String]) -> String {
        let short = names.map { String($0.prefix(7)) }
        let width = max(6, (confusion.flatMap { $0 }.max() ?? 0).description.count + 1)
        let header = "true \\ predicted".padding(toLength: 18, withPad: " ", startingAt: 0)
            + short.map { $0.leftPadded(to: max(width, 8)) }.joined()
        let rows = confusion.enumerated().map { index, row in
            names[index].padding(toLength: 18, withPad: " ", startingAt: 0)
                + row.map { "\($0)".leftPadded(to: max(width, 8)) }.joined()
        }
        return ([header] + rows).joined(separator: "\n")
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
