import ArgumentParser
import Foundation
import Nabla

/// `nabla text`: a character-level language model on Debian's fortunes, with validation bits per
/// character after each epoch and a generated sample at the end.
struct Text: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a character-level language model (LSTM or Transformer) on Debian's fortunes.",
        discussion: """
            Data: the text files of Debian's fortunes package (apt-get install fortunes, or make), \
            every 10th fortune held out for validation; characters are Unicode scalars, with an \
            unknown symbol for those the training text lacks.

            Recipe (the PyTorch peer, Benchmarks/torch/char_lm.py, runs the same): Adam, \
            cross-entropy over every position, the gradients clipped to a global norm of --clip.
              lstm: embedding 64, 2-layer LSTM of 256, Dense head; truncated backpropagation \
            through time over --sequence-length 100 characters, the state carried (detached) \
            along --batch-size 32 streams of the text; lr 2e-3.
              transformer: embedding plus learned positions (dModel 128), 2 pre-norm causal \
            encoder layers (4 heads, feed-forward 512, GELU, no dropout), a final LayerNorm and \
            a head; shuffled windows of --context 128 characters; lr 1e-3.
            After each epoch it prints the training loss and the validation bits per character \
            (cross-entropy in nats / ln 2 over the whole validation text).

            One epoch over the whole corpus (2.3 M characters) takes a few minutes on two \
            cores; --limit N trains on the first N characters, --steps-per-epoch N stops early. \
            For example:
              nabla text --model lstm --epochs 1 --limit 500000 --sample-length 300
            """)

    @Option(help: "The model: \(TextModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: TextModelKind = .lstm

    @Option(help: "The folder of fortune files.")
    var data = FortuneCorpus.defaultDirectory

    @Option(help: "Passes over the training text (0 with --load: only validate and sample).")
    var epochs = 1

    @Option(help: "Streams (lstm) or windows (transformer) per step; also the validation batch.")
    var batchSize = 32

    @Option(help: "lstm: characters per truncated-backpropagation chunk.")
    var sequenceLength = 100

    @Option(help: "transformer: characters per window (the table of positions).")
    var context = 128

    @Option(help: "lstm: the size of each character's vector.")
    var embedding = 64

    @Option(help: "lstm: the hidden state of each of the 2 layers.")
    var hidden = 256

    @Option(help: "transformer: dModel, the size of each position's vector.")
    var dModel = 128

    @Option(help: "transformer: attention heads (they divide --d-model).")
    var heads = 4

    @Option(help: "transformer: the feed-forward size of each encoder layer.")
    var feedForward = 512

    @Option(help: "Adam's learning rate (default: 2e-3 for lstm, 1e-3 for transformer).")
    var lr: Float?

    @Option(help: "Clip the gradients to this global norm before each step.")
    var clip: Float = 1

    @Option(help: "The seed of the weights, the window order and the sample.")
    var seed: UInt64 = 0

    @Option(help: "OpenBLAS threads (default: OPENBLAS_NUM_THREADS or OpenBLAS's choice).")
    var threads: Int?

    @Option(help: "Train on the first N characters of the training text only (quick runs).")
    var limit: Int?

    @Option(help: "Stop each epoch after N steps (quick runs).")
    var stepsPerEpoch: Int?

    @Flag(help: "Use the autodiff backward in every layer instead of the hand-written one.")
    var autodiff = false

    @Option(help: "Write the loss per step and the bits per character per epoch here (SVG).")
    var plot: String?

    @Option(help: "Save the weights here (safetensors, PyTorch's names, the sizes and vocabulary in the metadata).")
    var save: String?

    @Option(help: "Start from the weights saved here by --save (their sizes replace the options').")
    var load: String?

    @Option(help: "Characters to generate after training.")
    var sampleLength = 400

    @Option(help: "The sample's temperature: below 1 safer, above 1 wilder.")
    var temperature: Double = 0.8

    @Option(help: "The text the sample continues (default: the end of a fortune, so it starts a new one).")
    var prime = "%\n"

    func validate() throws {
        guard epochs >= 1 || (epochs == 0 && load != nil) else { throw ValidationError("--epochs must be at least 1 (or 0 with --load)") }
        for (value, name) in [(batchSize, "--batch-size"), (sequenceLength, "--sequence-length"), (context, "--context"),
                              (embedding, "--embedding"), (hidden, "--hidden"), (dModel, "--d-model"), (heads, "--heads"),
                              (feedForward, "--feed-forward")] where value < 1 {
            throw ValidationError("\(name) must be at least 1")
        }
        guard dModel % heads == 0 else { throw ValidationError("--heads \(heads) must divide --d-model \(dModel)") }
        if let lr { guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number") } }
        guard clip > 0, clip.isFinite else { throw ValidationError("--clip must be a positive number") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let limit, limit < 2 { throw ValidationError("--limit must be at least 2") }
        if let stepsPerEpoch, stepsPerEpoch < 1 { throw ValidationError("--steps-per-epoch must be at least 1") }
        guard sampleLength >= 0 else { throw ValidationError("--sample-length must be at least 0") }
        guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be a positive number") }
        guard !prime.isEmpty else { throw ValidationError("--prime must not be empty") }
        try OutputPath.check(save, option: "--save")
        try OutputPath.check(plot, option: "--plot")
    }

    /// The characters per step: the LSTM's chunk or the Transformer's window.
    var length: Int { model == .lstm ? sequenceLength : context }

    func sizes(vocabulary: Int) -> TextModelSizes {
        switch model {
        case .lstm: TextModelSizes(vocabulary: vocabulary, embedding: embedding, hidden: hidden)
        case .transformer: TextModelSizes(vocabulary: vocabulary, embedding: dModel, hidden: feedForward, heads: heads, context: context)
        }
    }

    func run() throws {
        if let threads { BLAS.setThreadCount(threads) }
        let corpus = try FortuneCorpus(directory: data)
        let vocabulary = CharacterVocabulary(corpus.training)
        let training = vocabulary.encode(corpus.training.prefix(limit ?? .max))
        let validation = vocabulary.encode(corpus.validation)
        let characterModel = try load.map { try TextWeights.load(from: $0, kind: model, vocabulary: vocabulary) }
            ?? CharacterModel(model, sizes: sizes(vocabulary: vocabulary.count), seed: seed)
        characterModel.useAutodiff = autodiff
        let learningRate = lr ?? (model == .lstm ? 2e-3 : 1e-3)
        let trainer = CharacterTrainer(characterModel, learningRate: learningRate, maxGradientNorm: clip, seed: seed)
        let parameterCount = characterModel.body.parameters.reduce(0) { $0 + $1.value.scalarCount }
        console.print("\(model) on \(corpus.files.count) fortune files: \(training.count) training characters "
            + "(\(corpus.trainingFortunes) fortunes\(limit.map { ", the first \($0)" } ?? "")), \(validation.count) validation "
            + "(\(corpus.validationFortunes) fortunes), \(vocabulary.count) symbols")
        console.print("\(characterModel.body.description.replacingOccurrences(of: "\n", with: " ")), \(parameterCount) parameters")
        console.print("\(autodiff ? "autodiff" : "manual") backward, Adam lr \(learningRate), clip \(clip), batch \(batchSize), "
            + "\(model == .lstm ? "sequence \(sequenceLength)" : "context \(context)"), seed \(seed), \(BLAS.threadCount) BLAS thread(s)")

        var stepLosses: [Float] = [], epochLosses: [Double] = [], validationBits: [Double] = []
        if epochs == 0 {
            let bits = trainer.evaluate(validation, batchSize: batchSize, length: length)
            console.print("validation \(String(format: "%.4f", bits.value)) bits per character over \(bits.count) characters")
        }
        for epoch in 0..<epochs {
            var bar: ProgressBar?
            let start = Date()
            let result = trainer.trainEpoch(training, batchSize: batchSize, length: length, steps: stepsPerEpoch) { done, total, characters, loss in
                if bar == nil { bar = ProgressBar(title: "epoch \(epoch + 1)/\(epochs)", total: total) }
                bar!.update(done: done, examples: characters, loss: loss)
            }
            let trainingSeconds = Date().timeIntervalSince(start)
            let bits = trainer.evaluate(validation, batchSize: batchSize, length: length)
            stepLosses += result.stepLosses
            epochLosses.append(result.meanLoss)
            validationBits.append(bits.value)
            console.print("epoch \(epoch + 1): train loss \(String(format: "%.4f", result.meanLoss)) nats/char "
                + "(\(String(format: "%.4f", result.meanLoss / log(2))) bits), validation \(String(format: "%.4f", bits.value)) "
                + "bits per character, \(format(seconds: trainingSeconds)) training (\(result.stepLosses.count) steps), "
                + "\(format(seconds: Date().timeIntervalSince(start) - trainingSeconds)) validation")
        }
        if let save {
            try TextWeights.save(characterModel, vocabulary: vocabulary, to: save)
            console.print("Saved the weights to \(save)")
        }
        if let plot, epochs > 0 {
            try SVGPlot(panels: [
                .init(title: "Training loss per step (nats per character)", xLabel: "step", series: [
                    .init(name: "loss", points: stepLosses.enumerated().map { (Double($0 + 1), Double($1)) }, color: "#1f77b4")]),
                .init(title: "Bits per character", xLabel: "epoch", series: [
                    .init(name: "training", points: epochLosses.enumerated().map { (Double($0 + 1), $1 / log(2)) }, color: "#1f77b4"),
                    .init(name: "validation", points: validationBits.enumerated().map { (Double($0 + 1), $1) }, color: "#d62728"),
                ]),
            ]).write(to: plot)
            console.print("Wrote \(plot)")
        }
        if sampleLength > 0 {
            var generator = SeededGenerator(seed: seed &+ 2)
            let drawn = characterModel.sample(
                prime: vocabulary.encode(prime.unicodeScalars), length: sampleLength, temperature: temperature, using: &generator)
            console.print("\nSample (temperature \(temperature), seed \(seed)):\n")
            console.print(vocabulary.decode(drawn))
        }
    }
}

/// A character model's weights as safetensors: PyTorch's names, with the model kind, its sizes
/// and its vocabulary (code points) in the metadata.
enum TextWeights {
    static func save(_ model: CharacterModel, vocabulary: CharacterVocabulary, to path: String) throws {
        let sizes = model.sizes
        var file = SafeTensors(metadata: [
            "format": "pt", "nabla_text_model": model.kind.rawValue,
            "embedding": "\(sizes.embedding)", "hidden": "\(sizes.hidden)", "heads": "\(sizes.heads)",
            "context": "\(sizes.context)", "layers": "\(sizes.layers)",
            "vocabulary": vocabulary.scalars.map { "\($0.value)" }.joined(separator: " "),
        ])
        model.body.saveState(into: &file)
        try file.write(to: path)
    }

    /// The model stored at `path`, which must be of `kind` and of `vocabulary`.
    static func load(from path: String, kind: TextModelKind, vocabulary: CharacterVocabulary) throws -> CharacterModel {
        let file = try SafeTensors(contentsOf: path)
        let metadata = file.metadata
        guard metadata["nabla_text_model"] == kind.rawValue else {
            throw InputError("\(path) holds a \(metadata["nabla_text_model"] ?? "model of no known kind"), not a \(kind.rawValue); pass --model")
        }
        func size(_ key: String) throws -> Int {
            guard let value = metadata[key].flatMap(Int.init), value > 0 else {
                throw InputError("\(path): metadata \(key) is missing or not a positive integer")
            }
            return value
        }
        let sizes = TextModelSizes(
            vocabulary: vocabulary.count, embedding: try size("embedding"), hidden: try size("hidden"),
            heads: try size("heads"), context: try size("context"), layers: try size("layers"))
        let stored = metadata["vocabulary"]?.split(separator: " ").compactMap { UInt32($0).flatMap(Unicode.Scalar.init) }
        guard stored == vocabulary.scalars else {
            throw InputError("\(path) was trained on another vocabulary than this corpus's \(vocabulary.count) symbols")
        }
        let model = CharacterModel(kind, sizes: sizes, seed: 0)
        try model.body.loadState(from: file)
        return model
    }
}

