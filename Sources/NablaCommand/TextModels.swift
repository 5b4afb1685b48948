import ArgumentParser
import Foundation
import Nabla

/// The character-level language models of `nabla text`.
enum TextModelKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// An embedding, a 2-layer LSTM and a `Dense` head, trained by truncated backpropagation
    /// through time.
    case lstm
    /// An embedding plus learned positions, a 2-layer causal Transformer encoder and a head,
    /// trained on windows of the context length.
    case transformer
}

/// The sizes of a character model; the same numbers build the PyTorch peer
/// (`Benchmarks/torch/char_lm.py`).
struct TextModelSizes: Equatable, Sendable {
    /// Symbols of the vocabulary (with the unknown one).
    var vocabulary: Int
    /// The LSTM's input vectors, or the Transformer's `dModel`.
    var embedding: Int
    /// The LSTM's hidden state, or the Transformer's feed-forward size.
    var hidden: Int
    /// The Transformer's attention heads.
    var heads = 4
    /// The Transformer's longest window (its table of positions).
    var context = 128
    /// Stacked LSTM or encoder layers.
    var layers = 2
}

/// A character-level language model: `[batch, time]` indices in, `[batch, time, vocabulary]`
/// next-character logits out, with a backward on the path ``useAutodiff`` picks.
///
/// The layers sit in one ``Sequential`` named as the PyTorch peer's modules, so the state dict
/// names match: `embedding.weight`, `lstm.weight_ih_l0`, … `head.bias` for the LSTM, and
/// `embedding.weight`, `position.weight`, `encoder.layers.0.self_attn.in_proj_weight`, …,
/// `encoder.norm.weight`, `head.weight` for the Transformer. Every parameter starts as PyTorch's
/// default initializes it (``Initializer/resetToPyTorchDefaults(_:using:)``).
///
/// The LSTM keeps its final state between calls to ``forward(_:)`` (a plain tensor, so detached:
/// truncated backpropagation through time) until ``resetState()``; the Transformer keeps none.
final class CharacterModel {
    let kind: TextModelKind
    let sizes: TextModelSizes
    /// Every layer, for parameters, names, saving and loading, and the path.
    let body: Sequential<Float>
    private let lstm: LSTM<Float>?
    private var state: LSTMState<Tensor<Float>>?

    init(_ kind: TextModelKind, sizes: TextModelSizes, seed: UInt64) {
        self.kind = kind
        self.sizes = sizes
        var generator = SeededGenerator(seed: seed)
        let embedding = Embedding<Float>(count: sizes.vocabulary, dimension: sizes.embedding, using: &generator)
        switch kind {
        case .lstm:
            let lstm = LSTM<Float>(
                inputSize: sizes.embedding, hiddenSize: sizes.hidden, numLayers: sizes.layers, batchFirst: true,
                using: &generator)
            self.lstm = lstm
            body = Sequential(named: [
                ("embedding", embedding), ("lstm", lstm),
                ("head", Dense(inputSize: sizes.hidden, outputSize: sizes.vocabulary, using: &generator)),
            ])
        case .transformer:
            lstm = nil
            let encoder = TransformerEncoder<Float>(count: sizes.layers, finalNorm: true, using: &generator) {
                TransformerEncoderLayer(
                    dModel: sizes.embedding, heads: sizes.heads, feedForwardSize: sizes.hidden, dropout: 0,
                    activation: .gelu, normFirst: true, batchFirst: true, causal: true, using: &$0)
            }
            body = Sequential(named: [
                ("embedding", embedding),
                ("position", PositionEmbedding(maxLength: sizes.context, dimension: sizes.embedding, using: &generator)),
                ("encoder", encoder),
                ("head", Dense(inputSize: sizes.embedding, outputSize: sizes.vocabulary, using: &generator)),
            ])
        }
        body.apply { Initializer.resetToPyTorchDefaults($0, using: &generator) }
    }

    /// Whether every layer runs the autodiff backward instead of its hand-written one.
    var useAutodiff: Bool {
        get { body.useAutodiff }
        set { body.useAutodiff = newValue }
    }

    /// The longest sequence one forward takes: the context for the Transformer, unbounded for
    /// the LSTM.
    var maxLength: Int { kind == .transformer ? sizes.context : .max }

    /// Forgets the LSTM's carried state, so the next forward starts from zeros.
    func resetState() { state = nil }

    /// The next-character logits, `[batch, time, vocabulary]`, of `tokens` `[batch, time]`
    /// (indices stored as scalars). The LSTM starts from the state the last call ended in.
    func forward(_ tokens: Tensor<Float>) -> Tensor<Float> {
        precondition(
            tokens.rank == 2 && tokens.shape[1] <= maxLength,
            "CharacterModel: tokens \(tokens.shape): expected [batch, time] with time ≤ \(maxLength)")
        guard let lstm else { return body.forward(tokens) }
        if let state, state.hidden.shape[state.hidden.rank - 2] != tokens.shape[0] { resetState() }
        let (embedding, head) = (body.layers[0], body.layers[2])
        let (output, finalState) = lstm.forward(embedding.forward(tokens), initialState: state)
        state = finalState
        return head.forward(output)
    }

    /// Backpropagates `logitsGradient` (of the last forward's output shape) through the last
    /// forward, adding every parameter's gradient. Stops at the carried state (truncation).
    func backward(_ logitsGradient: Tensor<Float>) {
        guard let lstm else {
            body.backward(logitsGradient)
            return
        }
        let (embedding, head) = (body.layers[0], body.layers[2])
        let outputGradient = head.backward(logitsGradient)!
        let inputGradient = lstm.backward(outputGradient, finalStateGradient: nil).input!
        embedding.backward(inputGradient)
    }
}

/// Cuts an index sequence into the batches of one epoch.
///
/// - ``streams(_:batchSize:length:)``, for the LSTM: the text `t₀ … t_{n−1}` is cut into
///   `batchSize` contiguous streams of `L = (n − 1) / batchSize` characters; batch `k` holds
///   characters `kT ..< min((k+1)T, L)` of every stream (`T` = `length`), the targets one
///   character later, so the state carries from batch `k` to `k + 1` along each stream.
/// - ``windows(_:batchSize:length:offset:order:)``, for the Transformer: windows of `length`
///   characters starting at `offset + w·length`, the targets one character later, in `order`,
///   `batchSize` per batch; a last window shorter than `length` makes a batch of its own.
///
/// Each batch is `(inputs [B, T], targets of B·T indices)`.
enum TextBatches {
    typealias Batch = (inputs: Tensor<Float>, targets: [Int])

    static func streams(_ text: [Int], batchSize: Int, length: Int) -> [Batch] {
        let streamLength = (text.count - 1) / batchSize
        guard streamLength > 0 else { return [] }
        return stride(from: 0, to: streamLength, by: length).map { start in
            let steps = min(length, streamLength - start)
            let starts = (0..<batchSize).map { $0 * streamLength + start }
            return batch(text, starts: starts, length: steps)
        }
    }

    static func windows(_ text: [Int], batchSize: Int, length: Int, offset: Int = 0, order: [Int]? = nil) -> [Batch] {
        let usable = text.count - 1 - offset
        guard usable > 0 else { return [] }
        let full = usable / length
        let order = order ?? Array(0..<full)
        precondition(order.sorted() == Array(0..<full), "order must be a permutation of the \(full) full windows")
        var batches = stride(from: 0, to: full, by: batchSize).map { first in
            batch(text, starts: order[first..<min(first + batchSize, full)].map { offset + $0 * length }, length: length)
        }
        if usable % length > 0 { batches.append(batch(text, starts: [offset + full * length], length: usable % length)) }
        return batches
    }

    private static func batch(_ text: [Int], starts: [Int], length: Int) -> Batch {
        let inputs = starts.flatMap { text[$0..<($0 + length)] }
        let targets = starts.flatMap { text[($0 + 1)..<($0 + 1 + length)] }
        return (Tensor(shape: [starts.count, length], scalars: inputs.map(Float.init)), targets)
    }
}

/// Trains a ``CharacterModel``: per batch, forward, cross-entropy over every position, backward,
/// gradient clipping and an Adam step.
final class CharacterTrainer {
    let model: CharacterModel
    let optimizer: Adam<Float>
    let loss = CrossEntropyLoss<Float>()
    /// The global gradient norm each step clips to.
    var maxGradientNorm: Float
    /// Draws the Transformer's window order and offset each epoch.
    private var generator: SeededGenerator

    init(_ model: CharacterModel, learningRate: Float, maxGradientNorm: Float, seed: UInt64) {
        self.model = model
        optimizer = Adam(model.body.parameters, names: model.body.namedParameters.map(\.name), learningRate: learningRate)
        self.maxGradientNorm = maxGradientNorm
        generator = SeededGenerator(seed: seed &+ 1)
    }

    /// One step on `batch`; returns the mean loss in nats per character.
    @discardableResult
    func step(_ batch: TextBatches.Batch) -> Float {
        optimizer.zeroGradients()
        let logits = LearningPhase.training { model.forward(batch.inputs) }
        let rows = logits.reshaped(to: [batch.targets.count, model.sizes.vocabulary])
        let (value, gradient) = lossAndGradient(rows, batch.targets)
        model.backward(gradient.reshaped(to: logits.shape))
        optimizer.clipGradients(maxNorm: maxGradientNorm)
        optimizer.step()
        return value
    }

    /// The loss and its gradient with respect to the logits, on the model's path (a tape on the
    /// autodiff path, so that no hand-written backward runs there).
    private func lossAndGradient(_ logits: Tensor<Float>, _ targets: [Int]) -> (Float, Tensor<Float>) {
        guard model.useAutodiff else { return loss.valueAndGradient(logits, target: targets) }
        let tape = GradientTape<Float>()
        let x = TensorOperations.variable(logits)
        tape.watch(x)
        let value = tape.record { loss(x, target: targets) }
        return (value.value.scalars[0], tape.gradient(of: value, withRespectTo: [x])[0].value)
    }

    /// The batches of one training epoch over `text`: the LSTM's streams of `length`, or the
    /// Transformer's full windows of `length` from a random offset in `0..<length`, in a random
    /// order.
    func epochBatches(_ text: [Int], batchSize: Int, length: Int) -> [TextBatches.Batch] {
        switch model.kind {
        case .lstm: return TextBatches.streams(text, batchSize: batchSize, length: length)
        case .transformer:
            let offset = Int.random(in: 0..<length, using: &generator)
            let full = max(0, (text.count - 1 - offset) / length)
            return Array(TextBatches.windows(
                text, batchSize: batchSize, length: length, offset: offset,
                order: Array(0..<full).shuffled(using: &generator)
            ).prefix { $0.inputs.shape[1] == length })
        }
    }

    /// Trains one epoch; `progress` gets (batches done, batches, characters, running loss).
    /// Returns each step's loss and the epoch's mean loss per character, in nats.
    func trainEpoch(
        _ text: [Int], batchSize: Int, length: Int, steps: Int? = nil,
        progress: (Int, Int, Int, Double) -> Void = { _, _, _, _ in }
    ) -> (stepLosses: [Float], meanLoss: Double) {
        model.resetState()
        var batches = epochBatches(text, batchSize: batchSize, length: length)
        if let steps { batches = Array(batches.prefix(steps)) }
        var losses: [Float] = [], nats = 0.0, characters = 0
        for (index, batch) in batches.enumerated() {
            let value = step(batch)
            losses.append(value)
            nats += Double(value) * Double(batch.targets.count)
            characters += batch.targets.count
            progress(index + 1, batches.count, characters, nats / Double(characters))
        }
        model.resetState()
        return (losses, characters == 0 ? .nan : nats / Double(characters))
    }

    /// Bits per character over the whole of `text`: the LSTM along `batchSize` streams, the
    /// Transformer on consecutive windows of `length` (see ``TextBatches``).
    func evaluate(_ text: [Int], batchSize: Int, length: Int) -> BitsPerCharacter {
        model.resetState()
        defer { model.resetState() }
        let batches = switch model.kind {
        case .lstm: TextBatches.streams(text, batchSize: batchSize, length: length)
        case .transformer: TextBatches.windows(text, batchSize: batchSize, length: length)
        }
        var bits = BitsPerCharacter()
        LearningPhase.inference {
            for batch in batches { bits.add(logits: model.forward(batch.inputs), targets: batch.targets) }
        }
        return bits
    }
}

extension CharacterModel {
    /// `length` characters drawn one at a time after `prime` (at least one index), each from
    /// `softmax(logits / temperature)` with the unknown symbol left out. The LSTM carries its
    /// state; the Transformer reads the last `context` characters each time.
    func sample(
        prime: [Int], length: Int, temperature: Double, using generator: inout SeededGenerator
    ) -> [Int] {
        precondition(
            !prime.isEmpty && temperature > 0,
            "CharacterModel.sample: a prime of \(prime.count) and temperature \(temperature): need a prime and a positive temperature")
        resetState()
        defer { resetState() }
        var text = prime, drawn: [Int] = []
        var next = Array(prime.suffix(maxLength))
        return LearningPhase.inference {
            for _ in 0..<length {
                let logits = forward(Tensor(shape: [1, next.count], scalars: next.map(Float.init)))
                let last = logits.reshaped(to: [next.count, sizes.vocabulary]).slice(alongAxis: 0, (next.count - 1)..<next.count).scalars
                let index = Self.draw(last, temperature: temperature, using: &generator)
                drawn.append(index)
                text.append(index)
                next = kind == .lstm ? [index] : Array(text.suffix(maxLength))
            }
            return drawn
        }
    }

    /// An index drawn from `softmax(logits / temperature)`, never the unknown symbol.
    static func draw(_ logits: [Float], temperature: Double, using generator: inout SeededGenerator) -> Int {
        let scaled = logits.enumerated().map { $0.offset == CharacterVocabulary.unknown ? -Double.infinity : Double($0.element) / temperature }
        let largest = scaled.max()!
        let weights = scaled.map { Foundation.exp($0 - largest) }
        var threshold = Double.random(in: 0..<1, using: &generator) * weights.reduce(0, +)
        for (index, weight) in weights.enumerated() where weight > 0 {
            threshold -= weight
            if threshold < 0 { return index }
        }
        return weights.lastIndex { $0 > 0 }!
    }
}
